/**
 * Attacks on the SIP transaction layer over UDP, on real sockets (127.0.0.1): a resent request
 * with an altered body, CANCELs for nothing, ACKs for nothing, and responses to requests never
 * sent. None may reach the transaction user as something new, none may leave state behind
 * (docs/sip.md "Under attack").
 */
import { afterEach, expect, test } from 'vitest';
import { waitFor } from '../support/wait.js';
import { SipStack } from '../../shared/sip/stack/sip-stack.js';
import {
  capturingLogger,
  FAST_TIMERS,
  LOOPBACK,
  rawRequest,
  RawUdpPeer,
  RecordingClient,
  RecordingTu,
  tuRequest,
} from '../../shared/sip/stack/testing.js';

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((o) => o.close()));
});

async function setup(tu = new RecordingTu()) {
  const { log, lines } = capturingLogger();
  const s = await SipStack.start({ udp: { host: LOOPBACK, port: 0 }, timers: FAST_TIMERS, log }, tu);
  const p = await RawUdpPeer.open();
  open.push(s, p);
  return { s, p, tu, lines };
}

test('a resent INVITE with an altered body is a retransmission: the TU sees only the first', async () => {
  const { s, p, tu } = await setup();
  const invite = rawRequest('INVITE', p.port, 'z9hG4bKalter', { callId: 'alter' });
  await p.send(`${invite.slice(0, -1)}Content-Type: text/plain\n\nthe first body`, s.address('udp'));
  await waitFor('the INVITE', () => tu.requests.length === 1);
  await p.send(`${invite.slice(0, -1)}Content-Type: text/plain\n\na different body`, s.address('udp'));
  await waitFor('the 100 again', () => p.responses().filter((r) => r.status === 100).length === 2);
  expect(tu.requests).toHaveLength(1);
  expect(tu.requests[0]!.request.body.toString()).toBe('the first body');
});

test('CANCELs for unknown transactions are 481 and leave nothing behind once done', async () => {
  const { s, p, tu } = await setup();
  for (let i = 0; i < 30; i++) {
    await p.send(rawRequest('CANCEL', p.port, `z9hG4bKnone${i}`, { callId: `nc-${i}` }), s.address('udp'));
  }
  await waitFor('thirty 481s', () => p.responses().filter((r) => r.status === 481).length === 30);
  expect(tu.cancels).toHaveLength(0);
  expect(tu.requests).toHaveLength(0);
  // Each CANCEL's transaction waits timer J for resends, then goes.
  await waitFor('the table empty', () => s.openTransactions.server === 0);
});

test('ACKs matching no transaction go to the TU and leave no state; a flood of them neither', async () => {
  const { s, p, tu } = await setup();
  for (let i = 0; i < 50; i++) {
    await p.send(rawRequest('ACK', p.port, `z9hG4bKack${i}`, { callId: `ack-${i}` }), s.address('udp'));
  }
  await waitFor('every ACK told', () => tu.acks.length === 50);
  expect(s.openTransactions).toEqual({ server: 0, client: 0 });
  expect(p.received).toHaveLength(0); // an ACK is never answered
});

test('responses to requests never sent, or with a forged branch, are dropped: the client transaction is untouched', async () => {
  const { s, p, lines } = await setup();
  const client = new RecordingClient();
  const tx = s.request(tuRequest('OPTIONS'), { host: LOOPBACK, port: p.port }, client);
  await waitFor('our OPTIONS at the peer', () => p.requests().length >= 1);
  const forged = (branch: string, method: string) =>
    `SIP/2.0 200 OK\nVia: SIP/2.0/UDP ${LOOPBACK}:${s.address('udp').port};branch=${branch}\nFrom: <sip:a@h>;tag=1\nTo: <sip:b@h>;tag=2\nCall-ID: forged\nCSeq: 1 ${method}\n\n`;
  await p.send(forged('z9hG4bKneversent', 'OPTIONS'), s.address('udp'));
  // The right branch but another method: another transaction's key, not ours.
  await p.send(forged(tx.branch, 'BYE'), s.address('udp'));
  await waitFor('both dropped', () => s.counters().refused['stray-response'] === 2);
  expect(client.responses).toHaveLength(0);
  expect(s.openTransactions.client).toBe(1);
  expect(lines.filter((l) => l['msg'] === 'SIP message refused')).toHaveLength(1);
});
