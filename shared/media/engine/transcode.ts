/**
 * G.711 byte-to-byte conversion between A-law and µ-law through two 256-entry tables (built
 * once from alawmulaw), so a bridge between a PCMA leg and a PCMU leg costs one lookup a
 * sample and no allocation: the payload is rewritten in place.
 */
import alawmulaw from 'alawmulaw';
import type { G711Codec } from '../sdp.js';

const ALL_BYTES = Uint8Array.from({ length: 256 }, (_, i) => i);
const ALAW_TO_MULAW = alawmulaw.mulaw.encode(alawmulaw.alaw.decode(ALL_BYTES));
const MULAW_TO_ALAW = alawmulaw.alaw.encode(alawmulaw.mulaw.decode(ALL_BYTES));

/** Rewrites b[start, end) from codec `from` to codec `to` (nothing when they are the same). */
export function transcodeInPlace(
  b: Uint8Array,
  start: number,
  end: number,
  from: G711Codec,
  to: G711Codec,
): void {
  if (from === to) return;
  const table = from === 'PCMA' ? ALAW_TO_MULAW : MULAW_TO_ALAW;
  for (let i = start; i < end; i++) b[i] = table[b[i]!]!;
}

/** A copy of `payload` in codec `to`. */
export function transcoded(payload: Uint8Array, from: G711Codec, to: G711Codec): Uint8Array {
  const out = Uint8Array.from(payload);
  transcodeInPlace(out, 0, out.length, from, to);
  return out;
}
