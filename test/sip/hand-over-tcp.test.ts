/**
 * A caller handed from site A to site B over TCP (docs/sip.md "Handing a caller to another
 * site"): the sites of hand-over-sip.test.ts (test/support/hand-over-sites.ts), each also
 * listening on TCP on a port of its own, in a topology whose `endpoints.sip` is each site's TCP
 * address with `sipTransport: tcp`. Nothing listens for UDP there, so the hand-over can only
 * work over TCP; B's invite gate sees the INVITE arrive over TCP from A's host (from a port of
 * the kernel's) and admits it as A's. RTP then flows both ways through A and B, and the
 * caller's hang-up (A's BYE to B, on that connection) ends every leg.
 */
import { afterAll, afterEach, beforeAll, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { headerValues, type SipRequest } from '../../shared/sip/message.js';
import type { RegistrationSource } from '../../site-node/telephony/phone-registrar.js';
import type { CallLeg } from '../../site-node/telephony/media-port.js';
import {
  agentPhone,
  caller,
  callerOnHoldAtA,
  startHandOverSites,
  type HandOverSites,
} from '../support/hand-over-sites.js';
import { assertAllSucceeded, SipPeers } from '../support/sip-peers.js';
import { waitFor } from '../support/wait.js';

let sites: HandOverSites | undefined;
const peers = new SipPeers(60);

beforeAll(async () => {
  if (process.env.TEST_PG_URL) sites = await startHandOverSites({ db: 'handover_tcp', sipTransport: 'tcp' });
}, 60_000);
afterEach(() => peers.cleanup());
afterAll(() => sites?.stop());

describe.skipIf(!process.env.TEST_PG_URL)('a caller handed from site A to site B over TCP', () => {
  test('the INVITE goes over TCP, B claims it, RTP flows both ways, every leg ends', async () => {
    const { a, b } = sites!;
    const target = sites!.topology.sites.find((s) => s.id === b.id);
    assert.ok(target?.kind === 'full');
    assert.equal(target.endpoints.sipTransport, 'tcp');
    assert.equal(target.endpoints.sip, `127.0.0.1:${b.stack.address('tcp').port}`);
    assert.notEqual(a.stack.address('tcp').port, a.stack.address('udp').port);

    // What B's gate saw of the hand-over's INVITE.
    const seen: Array<{ source: RegistrationSource; via: string | undefined }> = [];
    const admit = b.gate.admit.bind(b.gate);
    b.gate.admit = (req: SipRequest, source: RegistrationSource) => {
      seen.push({ source, via: headerValues(req, 'Via')[0] });
      return admit(req, source);
    };
    const claimed: CallLeg[] = [];
    b.port.onHandedOver((token, leg) => {
      if (token !== 'tok-tcp') return false;
      claimed.push(leg);
      void b.port.hold(leg);
      return true;
    });

    const { phone, toAgent } = await agentPhone(peers, b);
    const { run, heard } = await caller(peers, a, 8000);
    const callerLeg = await callerOnHoldAtA(a, heard);
    await a.port.handOver(callerLeg, { toSiteId: 'chongqing', token: 'tok-tcp' });
    assert.equal(claimed.length, 1, 'B claimed the leg');
    assert.equal(seen.length, 1, String(seen.map((s) => s.via)));
    assert.equal(seen[0]!.source.transport, 'tcp');
    assert.equal(seen[0]!.source.host, '127.0.0.1');
    assert.match(seen[0]!.via ?? '', /^SIP\/2\.0\/TCP /);

    const agentLeg = await b.port.bridgeToAgent(claimed[0]!, 'a01');
    await waitFor(
      'the caller’s voice at the agent, through A and B',
      () => (toAgent.forward.summary().byPayloadType['8'] ?? 0) > 50,
    );
    await waitFor('the agent’s voice at the caller, through B and A', () => heard.voice > 50);

    assertAllSucceeded('caller', await run.done, 1);
    await waitFor('B heard the caller leave (A’s BYE over TCP)', () => b.farEnd.length === 1);
    await b.port.hangup(agentLeg);
    assertAllSucceeded('agent phone', await phone.stop(), 1);
    await waitFor('every leg closed at A and B', () => a.port.openLegs === 0 && b.port.openLegs === 0);
  });
});
