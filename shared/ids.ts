/**
 * Identifiers. A call id is the entry site's prefix plus a ULID, so it is unique across the
 * province without coordination and sorts by creation time (docs/architecture.md §4).
 */
import { randomBytes } from 'node:crypto';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** A ULID (https://github.com/ulid/spec): 48-bit time, 80 bits of randomness, Crockford base32. */
export function ulid(nowMs: number, random: () => Uint8Array = () => randomBytes(10)): string {
  if (!Number.isInteger(nowMs) || nowMs < 0 || nowMs > 0xffffffffffff) {
    throw new RangeError(`ulid: time ${nowMs} is outside 0..2^48-1`);
  }
  let time = '';
  let t = nowMs;
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32] + time;
    t = Math.floor(t / 32);
  }
  const bytes = random();
  if (bytes.length < 10) throw new RangeError('ulid: need 10 random bytes');
  // 80 bits -> 16 base32 characters, 5 bits at a time.
  let rand = '';
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < 10; i++) {
    acc = (acc << 8) | bytes[i]!;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      rand += CROCKFORD[(acc >> bits) & 31];
    }
    acc &= (1 << bits) - 1;
  }
  return time + rand;
}

const SITE_ID = /^[a-z][a-z0-9-]{1,31}$/;

/** Whether `s` is a site id (for schemas, which word the problem their own way). */
export const isSiteId = (s: string): boolean => SITE_ID.test(s);

export function assertSiteId(siteId: string): void {
  if (!isSiteId(siteId)) {
    throw new RangeError(`site id "${siteId}" must match ${SITE_ID} (lower-case letters, digits, dashes)`);
  }
}

/** `<site>-<ULID>`, e.g. `cq-01JD3Z...`. */
export function newCallId(siteId: string, nowMs: number): string {
  assertSiteId(siteId);
  return `${siteId}-${ulid(nowMs)}`;
}

/** A prefixed id for other records (tickets, events): `tkt_01JD...`. */
export function newId(prefix: string, nowMs: number): string {
  return `${prefix}_${ulid(nowMs)}`;
}
