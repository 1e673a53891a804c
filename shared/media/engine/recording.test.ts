import alawmulaw from 'alawmulaw';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import wavefile from 'wavefile';
import { afterAll, expect, test } from 'vitest';
import { Recording } from './recording.js';
import { tempDir } from './testing.js';

const dir = tempDir();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const channels = (path: string): Int16Array[] =>
  new wavefile.WaveFile(readFileSync(path)).getSamples(false, Int16Array) as unknown as Int16Array[];

test('places each packet by its timestamp from where its stream began; gaps stay silent', async () => {
  const r = new Recording('rec-1', join(dir, 'a.wav'), 1000);
  const frame = new Uint8Array(160).fill(0x55);
  // Stream 1 starts 10 ms in (80 samples); its third packet is lost; the fourth arrives late.
  r.add(0, 7, 5000, frame, 0, 160, 'PCMA', 1010);
  r.add(0, 7, 5160, frame, 0, 160, 'PCMA', 1030);
  r.add(0, 7, 5480, frame, 0, 160, 'PCMA', 1095);
  // Channel 1: µ-law, from a sub-range of a buffer.
  const mu = new Uint8Array([9, 9, 0x10, 0x20, 9]);
  r.add(1, 8, 0, mu, 2, 4, 'PCMU', 1000);
  const { durationMs } = await r.finish(1100);
  expect(durationMs).toBe(100);
  const [left, right] = channels(join(dir, 'a.wav'));
  const a = alawmulaw.alaw.decode(new Uint8Array([0x55]))[0]!;
  expect(left!.length).toBe(800);
  expect(left!.slice(0, 80).every((s) => s === 0)).toBe(true);
  expect(left!.slice(80, 400).every((s) => s === a)).toBe(true);
  expect(left!.slice(400, 560).every((s) => s === 0)).toBe(true);
  expect(left!.slice(560, 720).every((s) => s === a)).toBe(true);
  expect(Array.from(right!.slice(0, 3))).toEqual([
    ...alawmulaw.mulaw.decode(new Uint8Array([0x10, 0x20])),
    0,
  ]);
});

test('a new SSRC, or a timestamp far off the clock, starts over at the wall clock', async () => {
  const r = new Recording('rec-2', join(dir, 'b.wav'), 0);
  const one = new Uint8Array([0x55]);
  r.add(0, 1, 100, one, 0, 1, 'PCMA', 0);
  r.add(0, 2, 999_999, one, 0, 1, 'PCMA', 10); // another stream at 10 ms: sample 80
  r.add(0, 2, 999_999 + 100_000, one, 0, 1, 'PCMA', 20); // a jump of 12 s: at 20 ms instead
  r.add(0, 2, 999_999 + 100_000 - 1000, one, 0, 1, 'PCMA', 21); // before the anchor: anchored anew
  // Audio placed past the wall clock makes the file longer, not cut.
  r.add(1, 3, 0, new Uint8Array(400).fill(0x55), 0, 400, 'PCMA', 30);
  const { durationMs } = await r.finish(40);
  expect(durationMs).toBe(80);
  const [left] = channels(join(dir, 'b.wav'));
  const nonZero = [...left!.keys()].filter((i) => left![i] !== 0);
  expect(nonZero).toEqual([0, 80, 160, 168]);
});

test('a long recording grows its buffers and keeps what came before', async () => {
  const r = new Recording('rec-3', join(dir, 'c.wav'), 0);
  const frame = new Uint8Array(160).fill(0x55);
  for (let i = 0; i < 150; i++) r.add(0, 1, i * 160, frame, 0, 160, 'PCMA', i * 20); // 3 s
  const { durationMs } = await r.finish(3000);
  expect(durationMs).toBe(3000);
  const [left, right] = channels(join(dir, 'c.wav'));
  const a = alawmulaw.alaw.decode(new Uint8Array([0x55]))[0]!;
  expect(left!.every((s) => s === a)).toBe(true);
  expect(right!.every((s) => s === 0)).toBe(true);
});
