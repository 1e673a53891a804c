/**
 * The replay guard of digest with qop (RFC 7616 §3.4: a client sends each nonce count once,
 * increasing): the highest `nc` seen per nonce, in a bounded memory. A value, not a store:
 * `recordNonceCount` returns the next memory, so the verifier stays a pure function.
 *
 * Bounded without opening a hole: when the memory is full the nonce issued longest ago is
 * forgotten, and `forgottenUpToMs` rises to its issue time. A nonce issued at or before that
 * which is not in memory may have been used already, so it is answered as stale (the phone
 * retries at once with a new nonce) rather than trusted. Nonces past their lifetime are
 * dropped on the way, as they are stale anyway.
 */

export interface NonceCounts {
  /** nonce -> its issue time and the highest nc accepted, in order of first use. */
  readonly entries: ReadonlyMap<string, { readonly issuedMs: number; readonly nc: number }>;
  readonly forgottenUpToMs: number;
}

export const emptyNonceCounts = (): NonceCounts => ({ entries: new Map(), forgottenUpToMs: -Infinity });

export type NonceCountOutcome =
  | { kind: 'accepted'; counts: NonceCounts }
  /** `nc` not above the highest seen: a replay (or a client reusing a count). */
  | { kind: 'replayed'; highestNc: number }
  /** The nonce may have been used but is no longer remembered. */
  | { kind: 'forgotten' };

export interface NonceCountLimits {
  capacity: number;
  lifetimeMs: number;
}

export function recordNonceCount(
  counts: NonceCounts,
  nonce: string,
  issuedMs: number,
  nc: number,
  nowMs: number,
  limits: NonceCountLimits,
): NonceCountOutcome {
  const seen = counts.entries.get(nonce);
  if (seen !== undefined && nc <= seen.nc) return { kind: 'replayed', highestNc: seen.nc };
  if (seen === undefined && issuedMs <= counts.forgottenUpToMs) return { kind: 'forgotten' };
  const entries = new Map<string, { issuedMs: number; nc: number }>();
  for (const [n, e] of counts.entries) if (nowMs - e.issuedMs <= limits.lifetimeMs) entries.set(n, e);
  entries.set(nonce, { issuedMs, nc });
  let forgottenUpToMs = counts.forgottenUpToMs;
  while (entries.size > limits.capacity) {
    let oldest: [string, number] | undefined;
    for (const [n, e] of entries) if (!oldest || e.issuedMs < oldest[1]) oldest = [n, e.issuedMs];
    entries.delete(oldest![0]);
    forgottenUpToMs = Math.max(forgottenUpToMs, oldest![1]);
  }
  return { kind: 'accepted', counts: { entries, forgottenUpToMs } };
}
