/**
 * A key press sent as SIP INFO, the way desk phones and some carriers do besides RFC 4733:
 * `application/dtmf-relay` (`Signal=5` and `Duration=160` lines, the Cisco form RFC 2976's
 * INFO carries) or `application/dtmf` (the digit alone). `Signal` may also be the RFC 4733
 * event number (10 for `*`, 11 for `#`). What the body holds is decided here; the leg
 * answers 200, 400 (unreadable) or 415 (another content type).
 */
import { digitOfEvent, type DtmfDigit } from '../../media/dtmf.js';

export type InfoDtmf =
  | { readonly kind: 'digit'; readonly digit: DtmfDigit }
  /** An INFO with no body: some phones ping with it; answered 200, nothing reported. */
  | { readonly kind: 'empty' }
  | { readonly kind: 'unreadable'; readonly problem: string }
  | { readonly kind: 'unsupported'; readonly mediaType: string };

const DIGIT_TEXT = /^[0-9*#A-Da-d]$/;

function readSignal(text: string): DtmfDigit | undefined {
  const t = text.trim();
  if (DIGIT_TEXT.test(t)) return t.toUpperCase() as DtmfDigit;
  if (/^1[0-5]$/.test(t)) return digitOfEvent(Number(t)) ?? undefined;
  return undefined;
}

export function readInfoDtmf(mediaType: string | undefined, body: Buffer): InfoDtmf {
  if (body.length === 0) return { kind: 'empty' };
  if (mediaType === 'application/dtmf') {
    const digit = readSignal(body.toString('utf8'));
    return digit === undefined
      ? { kind: 'unreadable', problem: 'application/dtmf: the body is not one key' }
      : { kind: 'digit', digit };
  }
  if (mediaType !== 'application/dtmf-relay')
    return { kind: 'unsupported', mediaType: mediaType ?? '(none)' };
  for (const line of body.toString('utf8').split(/\r?\n/)) {
    const m = /^\s*signal\s*=(.*)$/i.exec(line);
    if (!m) continue;
    const digit = readSignal(m[1]!);
    if (digit === undefined) {
      return {
        kind: 'unreadable',
        problem: `dtmf-relay: Signal ${JSON.stringify(m[1]!.trim().slice(0, 20))} is not a key`,
      };
    }
    return { kind: 'digit', digit };
  }
  return { kind: 'unreadable', problem: 'dtmf-relay: no Signal line' };
}
