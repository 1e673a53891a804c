/**
 * Stateless digest nonces (RFC 7616 §5.4's suggestion): a nonce carries its own issue time
 * and an HMAC, under a server secret, of that time, the realm and some random bytes. The
 * server remembers nothing per challenge, yet knows on the next request whether a nonce is
 * its own (not forged, not another realm's) and how old it is. A restart with the same secret
 * keeps phones' nonces good; a new secret makes them unknown, and the phone is challenged anew.
 *
 *   nonce = base64url( issueMs (8 bytes, big-endian) | random (8) | HMAC-SHA-256(...)[0..16) )
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

const TIME_BYTES = 8;
const RANDOM_BYTES = 8;
const MAC_BYTES = 16;
const NONCE_BYTES = TIME_BYTES + RANDOM_BYTES + MAC_BYTES;
/** Clocks of one host may step back a little (NTP); a nonce from slightly ahead is still ours. */
const FUTURE_SLACK_MS = 5_000;

const mac = (secret: Uint8Array, realm: string, head: Buffer): Buffer =>
  createHmac('sha256', secret)
    .update(realm, 'utf8')
    .update('\0')
    .update(head)
    .digest()
    .subarray(0, MAC_BYTES);

/** A new nonce; `random` is 8 fresh bytes from the adapter (node:crypto randomBytes). */
export function issueNonce(secret: Uint8Array, realm: string, nowMs: number, random: Uint8Array): string {
  if (random.length !== RANDOM_BYTES) throw new Error(`issueNonce needs ${RANDOM_BYTES} random bytes`);
  const head = Buffer.alloc(TIME_BYTES + RANDOM_BYTES);
  head.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(nowMs))), 0);
  head.set(random, TIME_BYTES);
  return Buffer.concat([head, mac(secret, realm, head)]).toString('base64url');
}

export type NonceCheck =
  | { kind: 'fresh'; issuedMs: number }
  | { kind: 'stale'; issuedMs: number }
  /** Not one of ours under this secret and realm: forged, damaged, or from before a new secret. */
  | { kind: 'unknown' };

/** Whether a nonce is ours, and whether it is younger than `lifetimeMs`. */
export function checkNonce(
  secret: Uint8Array,
  realm: string,
  nonce: string,
  nowMs: number,
  lifetimeMs: number,
): NonceCheck {
  if (!/^[A-Za-z0-9_-]+$/.test(nonce)) return { kind: 'unknown' };
  const bytes = Buffer.from(nonce, 'base64url');
  // Only the one canonical spelling: the replay memory is keyed by the nonce's text.
  if (bytes.length !== NONCE_BYTES || bytes.toString('base64url') !== nonce) return { kind: 'unknown' };
  const head = bytes.subarray(0, TIME_BYTES + RANDOM_BYTES);
  if (!timingSafeEqual(mac(secret, realm, head), bytes.subarray(TIME_BYTES + RANDOM_BYTES)))
    return { kind: 'unknown' };
  const issuedMs = Number(head.readBigUInt64BE(0));
  const age = nowMs - issuedMs;
  return age > lifetimeMs || age < -FUTURE_SLACK_MS
    ? { kind: 'stale', issuedMs }
    : { kind: 'fresh', issuedMs };
}

/** The opaque value of a realm: fixed per secret, so it needs no memory either. */
export const realmOpaque = (secret: Uint8Array, realm: string): string =>
  createHmac('sha256', secret)
    .update('opaque\0')
    .update(realm, 'utf8')
    .digest()
    .subarray(0, 12)
    .toString('base64url');
