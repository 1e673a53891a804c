/**
 * Fuzzing the parser: 100,000 messages (SIP_FUZZ_CASES to change) made from the corpus by
 * seeded mutations (byte flips, truncation, lines duplicated, dropped, swapped or folded,
 * Content-Length set at random, huge and hostile values, garbage) and by assembling random
 * messages from the corpus's own lines. For each one:
 *   - parseSipMessage returns a message or KEEP_ALIVE, or throws a SipParseError: nothing else
 *   - a message re-serializes and parses back to itself
 *   - a refusal is either dropped or answered with a 400/505 that serializes, and parses back
 *     unless what is wrong is a header it copied from the request
 *   - no message takes more than MAX_MS (no quadratic or backtracking blow-up)
 * A tenth of the cases also go through the stream framer in random chunks.
 * Each case has its own seed, printed on failure: SIP_FUZZ_SEED=<seed> SIP_FUZZ_CASES=1
 * replays it alone.
 */
import { expect, test } from 'vitest';
import { Random } from '../random.js';
import { KEEP_ALIVE, parseSipMessage } from './parse.js';
import { SipParseError } from './parse-error.js';
import { responseToParseError } from './response.js';
import { serializeSipMessage } from './serialize.js';
import { SipStreamFramer } from './stream.js';
import type { SipMessage } from './message.js';
import { corpusMessage, corpusNames } from './testing.js';

const CASES = Number(process.env.SIP_FUZZ_CASES ?? 100_000);
const FIRST_SEED = Number(process.env.SIP_FUZZ_SEED ?? 0x5119);
/**
 * Per message. A quadratic scan or a backtracking regex on a 60 kB value takes seconds; a
 * linear parse takes well under 10 ms, but a GC pause on a loaded 2-core machine can take
 * 100 ms or more (seen at a load average of 10), hence the margin.
 */
const MAX_MS = 1000;

const seeds = corpusNames().map(corpusMessage);
const lines = seeds.flatMap((b) =>
  b
    .toString('latin1')
    .split('\r\n')
    .filter((l) => l.includes(':')),
);
const HOSTILE = [',', ';', '"', '<', '>', 'a', ' ', '\\', '=', '%', '/', ':', '\t', '0', '\r\n '];

const splitLines = (b: Buffer): string[] => b.toString('latin1').split('\r\n');
const joinLines = (l: string[]): Buffer => Buffer.from(l.join('\r\n'), 'latin1');

/** One mutation of a message; a case applies one to three. */
const MUTATIONS: Array<(b: Buffer, r: Random) => Buffer> = [
  function flipBytes(b, r) {
    const out = Buffer.from(b);
    for (let n = r.int(1, 8); n > 0 && out.length > 0; n--) out[r.int(0, out.length - 1)] = r.int(0, 255);
    return out;
  },
  function truncate(b, r) {
    return b.subarray(0, r.int(0, b.length));
  },
  function duplicateLine(b, r) {
    const l = splitLines(b);
    const i = r.int(0, l.length - 1);
    l.splice(i, 0, l[i]!);
    return joinLines(l);
  },
  function dropLine(b, r) {
    const l = splitLines(b);
    l.splice(r.int(0, l.length - 1), 1);
    return joinLines(l);
  },
  function swapLines(b, r) {
    const l = splitLines(b);
    const i = r.int(0, l.length - 1);
    const j = r.int(0, l.length - 1);
    [l[i], l[j]] = [l[j]!, l[i]!];
    return joinLines(l);
  },
  function foldOrBreak(b, r) {
    const s = b.toString('latin1');
    const at = r.int(0, s.length);
    return Buffer.from(
      s.slice(0, at) + r.pick(['\r\n ', '\r\n', '\n', '\r', '\r\n\r\n']) + s.slice(at),
      'latin1',
    );
  },
  function randomContentLength(b, r) {
    const l = splitLines(b).filter((x) => !/^(content-length|l)\s*:/i.test(x));
    const value = r.pick([
      String(r.int(0, 2000)),
      String(r.int(0, 20)),
      '-1',
      '99999999999999999999',
      '',
      'abc',
    ]);
    l.splice(r.int(1, Math.max(1, l.length - 2)), 0, `Content-Length: ${value}`);
    return joinLines(l);
  },
  function hugeValue(b, r) {
    const l = splitLines(b);
    // Mostly a few hundred bytes, now and then tens of kilobytes.
    const size = r.chance(0.05) ? r.int(1000, 60_000) : r.int(1, 300);
    const unit = r.pick(HOSTILE);
    const name = r.pick(['Via', 'From', 'To', 'Contact', 'CSeq', 'Route', 'Subject', 'Call-ID', 'Supported']);
    l.splice(
      r.int(1, Math.max(1, l.length - 2)),
      0,
      `${name}: ${unit.repeat(Math.ceil(size / unit.length))}`,
    );
    return joinLines(l);
  },
  function insertLineFromElsewhere(b, r) {
    const l = splitLines(b);
    l.splice(r.int(1, Math.max(1, l.length - 1)), 0, r.pick(lines));
    return joinLines(l);
  },
  function garbage(_b, r) {
    return Buffer.from(Array.from({ length: r.int(0, 200) }, () => r.int(0, 255)));
  },
];

/** A message assembled from a corpus start line and random corpus header lines. */
function assembled(r: Random): Buffer {
  const start = splitLines(r.pick(seeds))[0]!;
  const headers = Array.from({ length: r.int(0, 14) }, () => r.pick(lines));
  return Buffer.from(
    `${start}\r\n${headers.join('\r\n')}\r\n\r\n${r.chance(0.3) ? 'v=0\r\n' : ''}`,
    'latin1',
  );
}

function makeCase(r: Random): Buffer {
  if (r.chance(0.15)) return assembled(r);
  let b = r.pick(seeds);
  for (let n = r.int(1, 3); n > 0; n--) b = r.pick(MUTATIONS)(b, r);
  return b;
}

/** The headers a response copies from the request as they were. */
const COPIED = ['Via', 'From', 'To', 'Call-ID', 'CSeq'];

const withoutLength = (m: SipMessage): SipMessage => ({
  ...m,
  headers: m.headers.filter((h) => h.name !== 'Content-Length'),
});

/** The property every input must hold; returns what happened, throws an Error saying what broke. */
function check(bytes: Buffer): 'message' | 'keep-alive' | 'answer' | 'drop' {
  let m: SipMessage | typeof KEEP_ALIVE;
  try {
    m = parseSipMessage(bytes);
  } catch (e) {
    if (!(e instanceof SipParseError)) throw new Error(`threw ${String(e)}`, { cause: e });
    const response = responseToParseError(e, { toTag: 'fz' });
    if (e.disposition === 'drop') {
      if (response) throw new Error('a dropped message got a response');
      return 'drop';
    }
    if (!response || ![400, 505].includes(response.status)) throw new Error(`no 400/505 for: ${e.message}`);
    // It goes on the wire; it reads back unless a header it copied was the request's own fault.
    try {
      const back = parseSipMessage(serializeSipMessage(response));
      if (back === KEEP_ALIVE || back.kind !== 'response') throw new Error('the 400 did not parse back');
    } catch (back) {
      if (!(back instanceof SipParseError) || !COPIED.includes(back.header)) throw back;
    }
    return 'answer';
  }
  if (m === KEEP_ALIVE) return 'keep-alive';
  const again = parseSipMessage(serializeSipMessage(m));
  if (again === KEEP_ALIVE) throw new Error('a message re-serialized to a keep-alive');
  // The body compared apart: a deep equal walks a Buffer byte by byte, slowly.
  if (!again.body.equals(m.body)) throw new Error('the body changed through serialize and parse');
  expect({ ...withoutLength(again), body: null }).toEqual({ ...withoutLength(m), body: null });
  return 'message';
}

function checkStream(bytes: Buffer, r: Random): void {
  const framer = new SipStreamFramer();
  for (let at = 0; at < bytes.length;) {
    const n = r.int(1, 600);
    const { items, close } = framer.push(bytes.subarray(at, at + n));
    for (const item of items) {
      if (item.kind !== 'message') continue;
      try {
        parseSipMessage(item.bytes, 'stream');
      } catch (e) {
        if (!(e instanceof SipParseError)) throw new Error(`stream frame threw ${String(e)}`, { cause: e });
      }
    }
    if (close) return;
    at += n;
  }
}

test(`the parser holds up under ${CASES} fuzzed messages`, () => {
  const counts: Record<string, number> = { message: 0, 'keep-alive': 0, answer: 0, drop: 0 };
  let slowest = 0;
  const started = performance.now();
  for (let i = 0; i < CASES; i++) {
    const seed = (FIRST_SEED + i) >>> 0;
    const r = new Random(seed);
    const bytes = makeCase(r);
    const t0 = performance.now();
    try {
      counts[check(bytes)]!++;
      if (i % 10 === 0) checkStream(bytes, r);
    } catch (e) {
      const shown =
        bytes.length > 2000 ? `${bytes.subarray(0, 2000).toString('base64')}...` : bytes.toString('base64');
      throw new Error(`fuzz case SIP_FUZZ_SEED=${seed}: ${(e as Error).message}\n(base64) ${shown}`, {
        cause: e,
      });
    }
    const ms = performance.now() - t0;
    slowest = Math.max(slowest, ms);
    expect(ms, `fuzz case SIP_FUZZ_SEED=${seed} took ${ms.toFixed(1)} ms`).toBeLessThan(MAX_MS);
  }
  const total = performance.now() - started;
  console.log(
    `sip fuzz: ${CASES} cases in ${(total / 1000).toFixed(1)} s (slowest ${slowest.toFixed(1)} ms): ` +
      Object.entries(counts)
        .map(([k, v]) => `${v} ${k}`)
        .join(', '),
  );
  // Every outcome was reached, so the mutations exercise both sides of the parser.
  if (CASES >= 10_000) for (const k of Object.keys(counts)) expect(counts[k], k).toBeGreaterThan(0);
});
