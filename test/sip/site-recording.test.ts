/**
 * Complaint calls recorded over real SIP (issue 12, docs/sip.md "Call recording"): the example
 * site in this process on its own PostgreSQL database, built as main.ts builds it without
 * --simulate (site-node/sip-site.ts), with a recordings folder. A SIPp caller presses 6 then 1
 * (a complaint: the phone-banking flow records from its complaint ticket node), talks through
 * the IVR's confirmation and the complaints queue to a04's SIPp phone, both sending SIPp's G.711
 * clip, and hangs up. The CDR in PostgreSQL names the WAV only once it is written; the WAV is
 * stereo 8 kHz, as long as the recording ran, the caller's channel heard from the complaint on
 * and the agent's from the bridge. A call the flow does not flag (balance, then an agent in the
 * retail queue) has no recording. A callback in the complaints queue (the site dials the
 * customer through the trunk's outbound proxy, a SIPp UAS) is recorded too: the customer on
 * channel 0, a04 on channel 1. The site and the helpers are test/support/site-over-sip.ts, the
 * recording's checks test/support/recording-checks.ts; a call moved in from another site is
 * test/sip/hand-over-recording.test.ts.
 */
import { afterAll, afterEach, beforeAll, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import wavefile from 'wavefile';
import { getCdr, getTicket, type Cdr } from '../../site-node/store/index.js';
import { assertStereoRecording, rms } from '../support/recording-checks.js';
import { freeUdpPort } from '../support/sipp.js';
import { RETAIL_ANI } from '../support/sipp-walk.js';
import { assertAllSucceeded, offeredCall, SiteOverSip, walk } from '../support/site-over-sip.js';
import { waitFor } from '../support/wait.js';

/** From the 1 (a complaint) to the # that skips the IVR's confirmation. */
const SKIP_MS = 1_000;
/** From the # to the caller's BYE: the queue, then the agent. */
const TALK_MS = 12_000;

let s: SiteOverSip;
/** The carrier's outbound proxy: where the SIPp customer a callback dials listens. */
let customerPort: number;

beforeAll(async () => {
  customerPort = await freeUdpPort();
  s = await SiteOverSip.start({
    database: 'site_recording',
    phones: ['a01', 'a04'],
    dialOut: { proxyPort: customerPort, callerId: '95588' },
  });
  assert.ok(statSync(s.recordings).isDirectory(), 'the recordings folder is created at start');
}, 60_000);
afterEach(() => s.cleanup());
afterAll(() => s?.stop());

/** The served call's CDR, once the agent's wrap-up closed it. */
async function servedCdr(agentId: string, callId: string): Promise<Cdr> {
  await waitFor(`${agentId} in wrap-up`, async () => (await s.desk.agent(agentId)).state === 'wrap-up');
  await s.desk.completeWrapup(agentId, callId, 'complaint-logged');
  return waitFor('the CDR', () => getCdr(s.real.pool, callId));
}

describe('call recording over SIP', () => {
  test('a complaint call is recorded from the complaint on: the CDR names the WAV once written; stereo 8 kHz, the caller left, the agent right from the bridge', async () => {
    const phone = await s.registeredPhone('a04');
    const events = await s.readyAgent('a04');
    const caller = await s.caller('caller-complaint.xml', {
      dnis: '95588',
      ani: RETAIL_ANI,
      greeting_ms: 1500,
      menu_ms: 800,
      skip_ms: SKIP_MS,
      talk_ms: TALK_MS,
    });
    const callId = await waitFor(
      'the offer',
      () => events.some((e) => e.type === 'offer') && offeredCall(events),
      TALK_MS,
    );
    const path = join(s.recordings, `${callId}.wav`);
    // Recording, not written yet: the file is in the engine's memory until the caller leaves,
    // and the call's recording names no path until then.
    const running = await waitFor(
      'the recording row',
      async () =>
        (
          await s.real.pool.query(`SELECT state, reason, path FROM call_recordings WHERE call_id = $1`, [
            callId,
          ])
        ).rows[0] as { state: string; reason: string; path: string | null } | undefined,
    );
    assert.deepEqual(running, { state: 'recording', reason: 'node:complaint_ticket', path: null });
    assert.equal(existsSync(path), false, 'no file before the call ends');

    assertAllSucceeded('complaining caller', await caller.done, 1);
    assertAllSucceeded('agent phone', await phone.stop(), 1);
    const cdr = await servedCdr('a04', callId);
    assert.equal(cdr.outcome, 'answered', JSON.stringify(cdr));
    assert.equal(cdr.queueId, 'complaints', JSON.stringify(cdr));
    assert.equal(cdr.agentId, 'a04', JSON.stringify(cdr));
    const rec = await waitFor('the recording saved', async () => {
      const r = (await getCdr(s.real.pool, callId))?.recording;
      return r?.state === 'saved' ? r : undefined;
    });
    assert.equal(rec.reason, 'node:complaint_ticket');
    assert.equal(rec.path, path);
    assert.equal(rec.bytes, statSync(path).size);
    // From the 1 to the BYE: SKIP_MS, TALK_MS and the 200 ms the caller waits after its last key.
    const expected = SKIP_MS + 200 + TALK_MS;
    assert.ok(Math.abs(rec.durationMs! - expected) < 1_500, `about ${expected} ms: ${JSON.stringify(rec)}`);
    assert.ok(
      rec.durationMs! > cdr.talkMs,
      `the recording began before the agent: ${JSON.stringify({ rec, cdr })}`,
    );

    const wav = new wavefile.WaveFile(readFileSync(path));
    const fmt = wav.fmt as { numChannels: number; sampleRate: number; bitsPerSample: number };
    assert.deepEqual(
      [fmt.numChannels, fmt.sampleRate, fmt.bitsPerSample],
      [2, 8000, 16],
      JSON.stringify(fmt),
    );
    const [caller0, agent1] = wav.getSamples(false, Int16Array) as unknown as [Int16Array, Int16Array];
    assert.equal(Math.round(caller0.length / 8), rec.durationMs);
    // The caller talks from the # (the clip begins 200 ms after it) to the end.
    const second = 8000;
    const talkFrom = Math.round(((SKIP_MS + 200) / 1000) * second);
    assert.ok(
      rms(caller0, talkFrom, talkFrom + 2 * second) > 100,
      `caller heard from the #: ${rms(caller0, talkFrom, talkFrom + 2 * second)}`,
    );
    assert.ok(rms(caller0, caller0.length - 4 * second, caller0.length) > 100, 'caller heard at the end');
    // The agent's channel is silent until the bridge, then has the phone's voice.
    const bridgeAt = agent1.findIndex((s) => s !== 0);
    assert.ok(bridgeAt > 0, 'the agent was heard');
    const bridgedFor = (agent1.length - bridgeAt) / 8;
    assert.ok(
      Math.abs(bridgedFor - cdr.talkMs) < 2_500,
      `the agent's side lasts about the talk: ${bridgedFor} ms against ${cdr.talkMs} ms`,
    );
    assert.ok(
      rms(agent1, bridgeAt, agent1.length) > 100,
      `agent heard: ${rms(agent1, bridgeAt, agent1.length)}`,
    );
    assert.equal(rms(agent1, 0, bridgeAt), 0, 'nothing on the agent channel before the bridge');
    await s.legsClosed();
    assert.equal(s.voice.port.recordings.running, 0);
  }, 150_000);

  test('a call the flow does not flag (balance, then an agent in retail) has no recording and no file', async () => {
    const before = new Set(readdirSync(s.recordings));
    const phone = await s.registeredPhone('a01');
    const events = await s.readyAgent('a01');
    const caller = await s.caller('caller.xml', walk(6000));
    assertAllSucceeded('caller', await caller.done, 1);
    assertAllSucceeded('agent phone', await phone.stop(), 1);
    const callId = offeredCall(events);
    const cdr = await servedCdr('a01', callId);
    assert.equal(cdr.outcome, 'answered', JSON.stringify(cdr));
    assert.equal(cdr.queueId, 'retail', JSON.stringify(cdr));
    assert.equal(cdr.recording, undefined, JSON.stringify(cdr));
    await s.legsClosed();
    assert.deepEqual(new Set(readdirSync(s.recordings)), before, 'no file written');
    assert.equal(existsSync(join(s.recordings, `${callId}.wav`)), false);
  }, 150_000);

  test('a callback in the complaints queue is recorded: the customer dialled out to on channel 0, the agent on 1, the CDR names the WAV', async () => {
    const phone = await s.registeredPhone('a04');
    const customer = await s.sipp({
      scenario: 'customer-answers.xml',
      localPort: customerPort,
      calls: 1,
      keys: { ring_ms: 300, talk_ms: 6500 },
    });
    const events = await s.readyAgent('a04');
    const ticket = await s.real.site.jobs.scheduleCallback({
      phone: RETAIL_ANI,
      atMs: Date.now(),
      queueId: 'complaints',
      customerId: 'c-1001',
      idempotencyKey: 'recording-test-callback',
      data: { reason: 'test' },
    });
    const callId = await waitFor('the callback in its queue', () =>
      s.real.site.callbacks.virtualCallOf(ticket.ticketId),
    );
    assertAllSucceeded('customer answering, then hanging up', await customer.done, 1);
    assertAllSucceeded('agent phone', await phone.stop(), 1);
    assert.equal(offeredCall(events), callId);
    const closed = await waitFor('the request closed', async () => {
      const t = await getTicket(s.real.pool, ticket.ticketId);
      return t?.status === 'closed' && t;
    });
    assert.equal(closed.closeReason, 'callback-placed', JSON.stringify(closed));
    const cdr = await servedCdr('a04', callId);
    assert.equal(cdr.outcome, 'answered', JSON.stringify(cdr));
    assert.equal(cdr.queueId, 'complaints', JSON.stringify(cdr));
    await assertStereoRecording(s.real.pool, s.recordings, callId, 'queue:complaints', cdr.talkMs);
    await s.legsClosed();
    assert.equal(s.voice.port.recordings.running, 0);
  }, 120_000);
});
