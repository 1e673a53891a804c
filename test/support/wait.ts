/**
 * Waiting for a condition in tests, on its own: importing it loads nothing else (a unit test
 * that only needs to wait must not drag in the in-process province of federation.ts, whose
 * hub loads Kafka's native binding).
 */
/** Poll `check` until it returns a truthy value or the deadline passes (then throw `what`). */
export async function waitFor<T>(what: string, check: () => Promise<T> | T, timeoutMs = 15_000): Promise<T> {
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
    await new Promise((r) => setTimeout(r, 50));
  }
}
