/**
 * A read position in a list of clips (a prompt's pieces, the hold music), and the copy of the
 * next frame's bytes out of it: byte by byte, no view or copy made per frame.
 */
export interface Cursor {
  bufs: Uint8Array[];
  idx: number;
  off: number;
}

/** Copies up to n bytes from the cursor into out[at...]; loops when asked. Returns how many. */
export function fill(c: Cursor, out: Uint8Array, at: number, n: number, loop: boolean): number {
  if (c.bufs.length === 0) return 0;
  let w = 0;
  let emptyPasses = 0;
  while (w < n) {
    if (c.idx >= c.bufs.length) {
      // Two passes over the list without a byte: it is empty, not worth looping.
      if (!loop || ++emptyPasses > 1) break;
      c.idx = 0;
      c.off = 0;
    }
    const buf = c.bufs[c.idx]!;
    const take = Math.min(n - w, buf.length - c.off);
    for (let i = 0; i < take; i++) out[at + w + i] = buf[c.off + i]!;
    if (take > 0) emptyPasses = 0;
    w += take;
    c.off += take;
    if (c.off >= buf.length) {
      c.idx++;
      c.off = 0;
    }
  }
  return w;
}
