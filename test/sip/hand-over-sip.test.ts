/**
 * A caller handed from one site to another over SIP (docs/sip.md "Handing a caller to another
 * site"): two SIP media ports, each with its own SIP stack, media engine (in its worker) and
 * registrar on its own PostgreSQL database, both on loopback, each knowing the other's SIP
 * address from one topology. A SIPp caller reaches the origin A, which answers and holds it,
 * then hands it over with a token; the target B claims the token, holds the leg, then rings its
 * agent's SIPp phone (registered with digest) and bridges it. RTP flows caller -> A -> B ->
 * agent and back (meters in front of both SIPps), the caller hangs up, and both sites end
 * their legs. The test plays each site's call flow (onInbound, onHandedOver, onFarEndHangup):
 * the full federated run (hub, overflow protocol, CDRs) is not covered here. The two sites and
 * the SIPp peers' helpers are test/support/hand-over-sites.ts (hand-over-tcp.test.ts runs the
 * same sites reaching each other over TCP).
 */
import { afterAll, afterEach, beforeAll, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { isDomainError } from '../../shared/errors.js';
import type { CallLeg } from '../../site-node/telephony/media-port.js';
import {
  agentPhone,
  caller,
  callerOnHoldAtA,
  startHandOverSites,
  type HandOverSites,
  type TestSite,
} from '../support/hand-over-sites.js';
import { assertAllSucceeded, SipPeers } from '../support/sip-peers.js';
import { waitFor } from '../support/wait.js';

let sites: HandOverSites | undefined;
let a: TestSite;
let b: TestSite;

/** The SIPp caller and phone, and the meters in front of them. */
const peers = new SipPeers(60);
afterEach(async () => {
  await peers.cleanup();
  sites?.reset();
});

beforeAll(async () => {
  if (!process.env.TEST_PG_URL) return;
  sites = await startHandOverSites({ db: 'handover', sipTransport: 'udp' });
  ({ a, b } = sites);
}, 60_000);

afterAll(async () => {
  await sites?.stop();
});

describe.skipIf(!process.env.TEST_PG_URL)('a caller handed from site A to site B over SIP', () => {
  test('B claims the token and its agent answers: RTP both ways through A and B; the caller hangs up, every leg ends', async () => {
    const { phone, toAgent } = await agentPhone(peers, b);
    const claimed: Array<{ token: string; leg: CallLeg }> = [];
    b.port.onHandedOver((token, leg) => {
      if (token !== 'tok-1') return false;
      claimed.push({ token, leg });
      void b.port.hold(leg); // as the call flow's attachLeg does
      return true;
    });
    const { run, heard } = await caller(peers, a, 8000);
    const callerLeg = await callerOnHoldAtA(a, heard);

    await a.port.handOver(callerLeg, { toSiteId: 'chongqing', token: 'tok-1' });
    assert.equal(claimed.length, 1, 'B claimed the leg once');
    assert.deepEqual(b.inbound, [], 'a leg handed over is not a new call at B');
    // From now on A's call flow holds nothing: its hang-up is a no-op, the caller stays.
    await a.port.hangup(callerLeg);
    assert.equal(a.port.openLegs, 2, 'the caller’s leg and the leg to B, relayed');

    const agentLeg = await b.port.bridgeToAgent(claimed[0]!.leg, 'a01');
    await waitFor(
      'the caller’s voice at the agent, through A and B',
      () => (toAgent.forward.summary().byPayloadType['8'] ?? 0) > 50,
    );
    await waitFor('the agent’s voice at the caller, through B and A', () => heard.voice > 50);

    // The caller hangs up: A's relay hangs up B's leg, B's call flow hears its caller left.
    assertAllSucceeded('caller', await run.done, 1);
    await waitFor('B heard the caller leave', () => b.farEnd.length === 1);
    assert.equal(b.farEnd[0]!.legId, claimed[0]!.leg.legId);
    await b.port.hangup(agentLeg);
    assertAllSucceeded('agent phone', await phone.stop(), 1);
    await waitFor('every leg closed at A and B', () => a.port.openLegs === 0 && b.port.openLegs === 0);
    assert.deepEqual(a.farEnd, [], 'the caller’s hang-up is not A’s call flow’s business any more');
  });

  test('B refuses the token, and a site with no route: the caller stays on hold at A', async () => {
    b.port.onHandedOver(() => false);
    const { run, heard } = await caller(peers, a, 6000);
    const callerLeg = await callerOnHoldAtA(a, heard);

    const noRoute = await a.port
      .handOver(callerLeg, { toSiteId: 'fuling', token: 't' })
      .catch((e: unknown) => e);
    assert.ok(isDomainError(noRoute, 'unavailable'), String(noRoute));
    assert.match((noRoute as Error).message, /site fuling is not in topology version 1/);

    const refused = await a.port
      .handOver(callerLeg, { toSiteId: 'chongqing', token: 'tok-unknown' })
      .catch((e: unknown) => e);
    assert.ok(isDomainError(refused, 'unavailable'), String(refused));
    assert.match((refused as Error).message, /site chongqing did not take call .*\(unavailable 404\)/);
    await waitFor('B ended the refused leg', () => b.port.openLegs === 0);
    assert.deepEqual(b.inbound, []);
    assert.deepEqual(b.farEnd, [], 'a refused hand-over is never the site’s');

    // Still A's: on hold (music keeps coming), and its caller's hang-up is A's call flow's.
    const before = heard.music;
    await waitFor('hold music after the refusal', () => heard.music > before + 20);
    assertAllSucceeded('caller', await run.done, 1);
    await waitFor('A heard the caller leave', () => a.farEnd.length === 1);
    assert.equal(a.farEnd[0]!.legId, callerLeg.legId);
    await waitFor('every leg closed at A', () => a.port.openLegs === 0);
  });
});
