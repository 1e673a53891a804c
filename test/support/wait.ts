/**
 * Waiting for a condition, never for a fixed time: the one poll-until helper of the tests and
 * their support. On its own (it imports nothing of ours) so a test beside any part's code can
 * use it without reaching the others.
 */

/** What a check returns while the condition does not hold yet. */
type NotYet = false | 0 | '' | null | undefined;

/**
 * Poll `check` every `intervalMs` until it returns a truthy value (and resolve with it) or
 * `timeoutMs` passes (then throw naming `what` and the last error `check` threw: a check that
 * throws counts as "not yet"). Poll more gently than the default where each check is costly
 * for the system under test (a fresh mTLS handshake, say).
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | NotYet> | T | NotYet,
  timeoutMs = 15_000,
  intervalMs = 50,
): Promise<T> {
  if (!(timeoutMs >= 0)) throw new RangeError(`waitFor(${what}): timeoutMs must be >= 0, got ${timeoutMs}`);
  if (!(intervalMs > 0)) throw new RangeError(`waitFor(${what}): intervalMs must be > 0, got ${intervalMs}`);
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
