/**
 * Checks of a call's recording over SIP (docs/sip.md "Call recording") shared by the tests that
 * record a call (test/sip/site-recording.test.ts, test/sip/hand-over-recording.test.ts): the
 * CDR names the WAV once it is written, and the file is stereo 8 kHz 16-bit with the caller on
 * channel 0 and the agent on channel 1.
 */
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';
import wavefile from 'wavefile';
import { getCdr, type CallRecordingRecord } from '../../site-node/store/index.js';
import { waitFor } from './wait.js';

/** Root mean square of a stretch of 16-bit samples: about 0 for silence, hundreds for speech. */
export function rms(samples: ArrayLike<number>, from: number, to: number): number {
  let sum = 0;
  for (let i = from; i < to; i++) sum += samples[i]! * samples[i]!;
  return Math.sqrt(sum / Math.max(1, to - from));
}

/** How much of a channel has speech in it (ms, in 100 ms windows louder than silence). */
export function speechMs(ch: Int16Array): number {
  let n = 0;
  for (let i = 0; i + 800 <= ch.length; i += 800) if (rms(ch, i, i + 800) > 100) n++;
  return n * 100;
}

/** The call's recording once saved, as its CDR gives it (waits for the WAV to be written). */
export function savedRecording(pool: pg.Pool, callId: string): Promise<CallRecordingRecord> {
  return waitFor('the recording saved', async () => {
    const cdr = await getCdr(pool, callId);
    if (!cdr) return undefined;
    const r = cdr.recording;
    if (!r) throw new Error(`the CDR of ${callId} names no recording`);
    if (r.state === 'failed') throw new Error(`the recording failed: ${JSON.stringify(r)}`);
    return r.state === 'saved' ? r : undefined;
  });
}

/** The WAV's two channels, after checking it is stereo 8 kHz 16-bit. */
export function stereoChannels(path: string): { caller: Int16Array; agent: Int16Array } {
  const wav = new wavefile.WaveFile(readFileSync(path));
  const fmt = wav.fmt as { numChannels: number; sampleRate: number; bitsPerSample: number };
  assert.deepEqual([fmt.numChannels, fmt.sampleRate, fmt.bitsPerSample], [2, 8000, 16], JSON.stringify(fmt));
  const [caller, agent] = wav.getSamples(false, Int16Array) as unknown as [Int16Array, Int16Array];
  return { caller, agent };
}

/**
 * The CDR of `callId` names its WAV in `dir` (`<call id>.wav`, recorded for `reason`), the file
 * is there at the size the CDR says, stereo 8 kHz, and over a talk of `talkMs` (the CDR's) the
 * caller is heard on channel 0 and the agent on channel 1 for at least half of it each (SIPp's
 * clip has pauses). Returns the recording and the speech heard on each channel.
 */
export async function assertStereoRecording(
  pool: pg.Pool,
  dir: string,
  callId: string,
  reason: string,
  talkMs: number,
): Promise<{ rec: CallRecordingRecord; callerMs: number; agentMs: number }> {
  const rec = await savedRecording(pool, callId);
  const path = join(dir, `${callId}.wav`);
  assert.equal(rec.reason, reason, JSON.stringify(rec));
  assert.equal(rec.path, path, JSON.stringify(rec));
  assert.equal(rec.bytes, statSync(path).size);
  const { caller, agent } = stereoChannels(path);
  assert.equal(Math.round(caller.length / 8), rec.durationMs, 'the file lasts as long as the CDR says');
  const callerMs = speechMs(caller);
  const agentMs = speechMs(agent);
  const info = JSON.stringify({ rec, talkMs, callerMs, agentMs });
  assert.ok(talkMs > 2_000, `a talk long enough to judge: ${info}`);
  assert.ok(callerMs > talkMs / 2, `the caller on channel 0: ${info}`);
  assert.ok(agentMs > talkMs / 2, `the agent on channel 1: ${info}`);
  return { rec, callerMs, agentMs };
}
