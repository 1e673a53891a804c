/**
 * baresip, a softphone not written for these tests, as an agent's phone on a real site over
 * SIP (issue 12; docs/sip.md "The site over SIP", "baresip"): it registers extension 1003 with
 * the site by digest, agent a03 signs in at the desk, a SIPp caller walks the IVR to an agent,
 * baresip answers by itself, and the voice crosses the site's bridge both ways: the caller's
 * speech reaches baresip (what it decoded, its sndfile dump), baresip's 440 Hz tone reaches the caller
 * (read off an RTP meter in front of the caller). The caller hangs up; the CDR says answered.
 * The site and helpers: test/support/site-over-sip.ts.
 */
import { afterAll, afterEach, beforeAll, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeG711 } from '../../shared/media/g711.js';
import { getCdr } from '../../site-node/store/index.js';
import { startBaresip } from '../support/baresip.js';
import { RtpMeter } from '../support/rtp-meter.js';
import {
  assertAllSucceeded,
  LOCAL,
  offeredCall,
  PHONE_PASSWORD,
  SiteOverSip,
  walk,
} from '../support/site-over-sip.js';
import { waitFor } from '../support/wait.js';

let s: SiteOverSip;

beforeAll(async () => {
  s = await SiteOverSip.start({ database: 'site_baresip' });
}, 60_000);
afterEach(() => s.cleanup());
afterAll(() => s?.stop());

/**
 * Whether a frame of PCMA is baresip's tone: nearly all its energy at 440 Hz (Goertzel, the
 * bin's power against the frame's). The prompts and the hold music are speech, never this pure.
 */
function isTone(payload: Uint8Array, hz = 440): boolean {
  const pcm = decodeG711('PCMA', payload);
  if (pcm.length < 80) return false;
  const coeff = 2 * Math.cos((2 * Math.PI * hz) / 8000);
  let s1 = 0;
  let s2 = 0;
  let energy = 0;
  for (const x of pcm) {
    const s0 = x + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
    energy += x * x;
  }
  const power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
  return energy > 0 && power / ((pcm.length / 2) * energy) > 0.8;
}

/** The RMS of a 16-bit PCM WAV's samples, read past its header whatever its data size says. */
function wavRms(path: string): number {
  const b = readFileSync(path);
  const data = b.indexOf('data');
  assert.ok(data >= 0, `${path} is a WAV with a data chunk`);
  let sum = 0;
  let n = 0;
  for (let i = data + 8; i + 1 < b.length; i += 2, n++) sum += b.readInt16LE(i) ** 2;
  return n === 0 ? 0 : Math.sqrt(sum / n);
}

describe('baresip as an agent phone', () => {
  test('baresip registers with digest, answers a caller who walked the IVR, voice both ways, the caller hangs up: answered', async () => {
    const phone = await startBaresip({ extension: '1003', password: PHONE_PASSWORD, registrar: s.remote });
    s.later(() => phone.stop());
    await waitFor('1003 registered', () => s.voice.registrar?.phoneState('a03') === 'registered');
    const events = await s.readyAgent('a03');

    // What the site sends the caller goes through a meter, which reads the frames.
    const toCaller = await RtpMeter.start();
    s.later(() => toCaller.close());
    let toneFrames = 0;
    toCaller.tap = (d) => {
      if ((d[1]! & 0x7f) === 8 && isTone(d.subarray(12 + 4 * (d[0]! & 0x0f)))) toneFrames++;
    };
    const caller = await s.sipp({
      scenario: 'caller.xml',
      remote: s.remote,
      calls: 1,
      keys: { ...walk(10_000), sdp_port: toCaller.port },
    });
    toCaller.target = { host: LOCAL, port: caller.mediaPort };
    assertAllSucceeded('the caller', await caller.done, 1);
    // The caller has its 200 to the BYE; baresip's line about the call's end may still be coming.
    await waitFor('baresip to print that the call ended', () => /terminated/.test(phone.output()), 10_000);

    const callId = offeredCall(events);
    assert.match(phone.output(), /answer/i, 'baresip answered by itself');
    await s.finishWrapup('a03', callId);
    const cdr = await waitFor('the CDR', () => getCdr(s.real.pool, callId));
    assert.equal(cdr.outcome, 'answered', JSON.stringify(cdr));
    assert.equal(cdr.agentId, 'a03', JSON.stringify(cdr));
    assert.ok(cdr.talkMs > 0, JSON.stringify(cdr));

    // baresip -> caller: its tone, 20 ms a frame; at least 2 s of it (the talk is about 4 s).
    const down = toCaller.forward.summary();
    assert.ok(
      toneFrames >= 100,
      `baresip's tone reached the caller: ${toneFrames} frames, ${JSON.stringify(down)}`,
    );
    assert.equal(down.lost, 0, JSON.stringify(down));
    // caller -> baresip: the caller's speech (g711a.pcap) is what baresip decoded.
    const dumps = readdirSync(phone.dir).filter((f) => f.endsWith('-dec.wav'));
    assert.equal(dumps.length, 1, `one call received by baresip: ${readdirSync(phone.dir).join(', ')}`);
    const rms = wavRms(join(phone.dir, dumps[0]!));
    assert.ok(rms > 200, `baresip heard the caller: RMS ${rms.toFixed(0)}`);
    await s.legsClosed();
  }, 150_000);
});
