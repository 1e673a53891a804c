/**
 * The SIPp scenarios of test/sip/scenarios/ against each other, without the site: the carrier's
 * caller to an agent phone directly, and through Kamailio as a stateful proxy and registrar
 * (test/sip/kamailio/kamailio.cfg), and baresip as one real softphone. Each SIPp's own counts
 * must show every call succeeded, and RTP meters between the peers (test/support/rtp-meter.ts)
 * must see media both ways, none lost.
 * docs/sip.md "Testing with real peers".
 */
import { afterEach, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { startBaresip } from '../support/baresip.js';
import { startKamailio, type Kamailio } from '../support/kamailio.js';
import { RtpMeter } from '../support/rtp-meter.js';
import { describeSipp, startSipp, type SippOptions, type SippResult, type SippRun } from '../support/sipp.js';
import { callerKeys, WALK_WITHOUT_PROMPTS } from '../support/sipp-walk.js';
import { waitFor } from '../support/wait.js';

const CALLS = 20;
const TALK_MS = 2000;
const LOCAL = '127.0.0.1';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function sipp(o: SippOptions): Promise<SippRun> {
  const run = await startSipp({ timeoutSec: 90, ...o });
  cleanups.push(() => run.dispose());
  return run;
}

async function kamailio(
  target: string,
  extra: { password?: string; realm?: string } = {},
): Promise<Kamailio> {
  const k = await startKamailio({ target, ...extra });
  cleanups.push(() => k.stop());
  return k;
}

async function meter(): Promise<RtpMeter> {
  const m = await RtpMeter.start();
  cleanups.push(() => m.close());
  return m;
}

function assertAllSucceeded(what: string, r: SippResult, calls: number): void {
  assert.equal(r.code, 0, describeSipp(what, r));
  assert.equal(r.stats?.successful, calls, describeSipp(what, r));
  assert.equal(r.stats.failed, 0, describeSipp(what, r));
}

/**
 * `CALLS` calls of caller.xml to an agent-phone.xml, straight or through a proxy at `via`,
 * with a meter on each direction of the media.
 */
async function callsWithMedia(via?: (agentPort: number) => Promise<number>): Promise<void> {
  const toAgent = await meter();
  const toCaller = await meter();
  const agent = await sipp({ scenario: 'agent-phone.xml', keys: { ring_ms: 100, sdp_port: toAgent.port } });
  toAgent.target = { host: LOCAL, port: agent.mediaPort };
  const remotePort = via ? await via(agent.port) : agent.port;
  const caller = await sipp({
    scenario: 'caller.xml',
    remote: `${LOCAL}:${remotePort}`,
    calls: CALLS,
    rate: 10,
    keys: {
      ...callerKeys(WALK_WITHOUT_PROMPTS, { dnis: '95533', talkMs: TALK_MS }),
      sdp_port: toCaller.port,
    },
  });
  toCaller.target = { host: LOCAL, port: caller.mediaPort };

  const callerResult = await caller.done;
  assertAllSucceeded('caller', callerResult, CALLS);
  assert.equal(callerResult.responseTimes['setup']?.length, CALLS, 'a setup time for every call');
  const agentResult = await agent.stop();
  assertAllSucceeded('agent phone', agentResult, CALLS);

  // Caller to agent: per call one DTMF stream (10 keys) and one voice stream, each from the
  // call's own source port; agent to caller: one voice stream per call.
  const up = toAgent.forward.summary();
  const down = toCaller.forward.summary();
  const info = JSON.stringify({ up, down });
  assert.equal(up.streams, 2 * CALLS, info);
  assert.ok((up.byPayloadType['101'] ?? 0) >= 10 * CALLS, `every key press arrived: ${info}`);
  assert.ok((up.byPayloadType['8'] ?? 0) >= CALLS * 10, `caller voice arrived: ${info}`);
  assert.equal(down.streams, CALLS, info);
  assert.ok((down.byPayloadType['8'] ?? 0) >= CALLS * 10, `agent voice arrived: ${info}`);
  assert.equal(up.lost, 0, info);
  assert.equal(down.lost, 0, info);
}

describe('SIPp caller and agent phones, without the site', () => {
  test(`caller -> agent phone: ${CALLS} calls with the IVR walk, none failed, RTP both ways, none lost`, async () => {
    await callsWithMedia();
  });

  test(`caller -> Kamailio (stateful proxy) -> agent phone: ${CALLS} calls, none failed, RTP both ways`, async () => {
    await callsWithMedia(async (agentPort) => (await kamailio(`${LOCAL}:${agentPort}`)).port);
  });

  test('an agent phone registers with digest auth, and a call to its extension reaches it; a wrong password gets 403', async () => {
    const agent = await sipp({ scenario: 'agent-phone.xml', keys: { ring_ms: 50 } });
    // Nothing listens on the fallback target: only the registration can route the call.
    const proxy = await kamailio(`${LOCAL}:9`, { password: 'correct horse battery', realm: 'site.test' });
    const register = (extension: string, password: string): Promise<SippResult> =>
      sipp({
        scenario: 'agent-register.xml',
        remote: `${LOCAL}:${proxy.port}`,
        calls: 1,
        timeoutSec: 20,
        auth: { username: extension, password },
        keys: { extension, domain: 'site.test', contact_port: agent.port, expires: 300 },
      }).then((r) => r.done);

    const wrong = await register('1002', 'not the password');
    assert.equal(wrong.stats?.failed, 1, describeSipp('register with a wrong password', wrong));
    assert.match(wrong.errors, /SIP\/2\.0 403/, describeSipp('register with a wrong password', wrong));

    assertAllSucceeded('register', await register('1001', 'correct horse battery'), 1);
    const caller = await sipp({
      scenario: 'caller.xml',
      remote: `${LOCAL}:${proxy.port}`,
      calls: 2,
      keys: callerKeys(WALK_WITHOUT_PROMPTS, { dnis: '1001', talkMs: 500 }),
    });
    assertAllSucceeded('caller to extension 1001', await caller.done, 2);
    assertAllSucceeded('agent phone 1001', await agent.stop(), 2);
  });

  test('baresip, a real softphone, registers through Kamailio and answers a call of the walk with its voice', async () => {
    const proxy = await kamailio(`${LOCAL}:9`, { password: 'correct-horse-battery', realm: 'site.test' });
    const phone = await startBaresip({
      extension: '1003',
      password: 'correct-horse-battery',
      registrar: `${LOCAL}:${proxy.port}`,
    });
    cleanups.push(() => phone.stop());
    const toCaller = await meter();
    const caller = await sipp({
      scenario: 'caller.xml',
      remote: `${LOCAL}:${proxy.port}`,
      calls: 1,
      keys: {
        ...callerKeys(WALK_WITHOUT_PROMPTS, { dnis: '1003', talkMs: TALK_MS }),
        sdp_port: toCaller.port,
      },
    });
    toCaller.target = { host: LOCAL, port: caller.mediaPort };
    assertAllSucceeded('caller to baresip', await caller.done, 1);
    const down = toCaller.forward.summary();
    // A 20 ms frame each: about 50 a second from the answer to the BYE.
    assert.ok(
      (down.byPayloadType['8'] ?? 0) >= TALK_MS / 20 / 2,
      `baresip's PCMA reached the caller: ${JSON.stringify(down)}`,
    );
    assert.equal(down.lost, 0, JSON.stringify(down));
    // The caller has its 200 to the BYE; baresip's line about it may still be on its way.
    await waitFor('baresip to print that the call ended', () => /terminated/.test(phone.output()), 10_000);
  });

  test('a caller who hangs up while an unanswered phone rings: CANCEL, 200, 487, ACK, through the proxy', async () => {
    const agent = await sipp({ scenario: 'agent-phone-no-answer.xml' });
    const proxy = await kamailio(`${LOCAL}:${agent.port}`);
    const caller = await sipp({
      scenario: 'caller-hangs-up-ringing.xml',
      remote: `${LOCAL}:${proxy.port}`,
      calls: 3,
      keys: { dnis: '95533', ani: '13800000001', ring_ms: 300 },
    });
    assertAllSucceeded('caller hanging up while it rings', await caller.done, 3);
    assertAllSucceeded('phone nobody answers', await agent.stop(), 3);
  });

  test('a busy phone: 486 and its ACK, through the proxy', async () => {
    const agent = await sipp({ scenario: 'agent-phone-busy.xml' });
    const proxy = await kamailio(`${LOCAL}:${agent.port}`);
    const caller = await sipp({
      scenario: 'caller-busy.xml',
      remote: `${LOCAL}:${proxy.port}`,
      calls: 3,
      keys: { dnis: '95533', ani: '13800000001' },
    });
    assertAllSucceeded('caller told busy', await caller.done, 3);
    assertAllSucceeded('busy phone', await agent.stop(), 3);
  });

  test('a caller who hangs up in the IVR, and one whose far end hangs up first', async () => {
    const agent = await sipp({ scenario: 'agent-phone.xml', keys: { ring_ms: 10 } });
    const early = await sipp({
      scenario: 'caller-hangs-up-in-ivr.xml',
      remote: `${LOCAL}:${agent.port}`,
      calls: 3,
      keys: { dnis: '95533', ani: '13800000001', greeting_ms: 200, pin_ms: 200 },
    });
    assertAllSucceeded('caller hanging up in the IVR', await early.done, 3);
    assertAllSucceeded('agent phone', await agent.stop(), 3);

    // The phone's BYE comes after the walk (about 3 s of keys): talk_ms covers it.
    const hangsUp = await sipp({
      scenario: 'agent-phone-hangs-up.xml',
      keys: { ring_ms: 10, talk_ms: 6000 },
    });
    const { talk_ms: _talk, ...walkKeys } = callerKeys(WALK_WITHOUT_PROMPTS, { dnis: '95533', talkMs: 0 });
    const late = await sipp({
      scenario: 'caller-receives-bye.xml',
      remote: `${LOCAL}:${hangsUp.port}`,
      calls: 3,
      keys: walkKeys,
    });
    assertAllSucceeded('caller whose far end hangs up', await late.done, 3);
    assertAllSucceeded('agent phone hanging up', await hangsUp.stop(), 3);
  });
});
