/**
 * SIPp as the peer of the transaction layer: it sends OPTIONS over UDP and over TCP
 * (test/sip/scenarios/options.xml) and must get a 200 to each, through a tiny TU that answers
 * OPTIONS. SIPp exits 0 only when every call got its 200.
 */
import { afterEach, expect, test } from 'vitest';
import { silentLogger } from '../../shared/log.js';
import { buildResponse } from '../../shared/sip/response.js';
import { SipStack } from '../../shared/sip/stack/sip-stack.js';
import type { TransactionUser } from '../../shared/sip/stack/transaction-user.js';
import { runSipp } from '../support/sipp-run.js';

let stack: SipStack | undefined;
afterEach(async () => {
  await stack?.close();
});

test.each([
  ['udp', 'u1'],
  ['tcp', 't1'],
] as const)('SIPp sends OPTIONS over %s and gets 200 each time', async (name, flag) => {
  let answered = 0;
  const tu: TransactionUser = {
    onRequest: (req, tx) => {
      answered++;
      tx.respond(buildResponse(req, req.method === 'OPTIONS' ? 200 : 501, { toTag: `t${answered}` }));
    },
    onAck: () => {},
    onCancel: () => {},
    onStrayResponse: () => {},
  };
  stack = await SipStack.start(
    { udp: { host: '127.0.0.1', port: 0 }, tcp: { host: '127.0.0.1', port: 0 }, log: silentLogger },
    tu,
  );
  const { port } = stack.address(name);
  const result = await runSipp({
    scenario: 'options.xml',
    remote: `127.0.0.1:${port}`,
    calls: 5,
    transport: flag,
  });
  expect(result.errors).toBe('');
  expect(result.code, result.stderr).toBe(0);
  expect(answered).toBe(5);
  expect(stack.counters().refused).toEqual({});
});
