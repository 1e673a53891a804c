import fc from 'fast-check';
import { expect, test } from 'vitest';
import { fill } from './cursor.js';

test('frames cut from a clip list are the clips end to end; looped, they start over', () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ maxLength: 50 }), { maxLength: 6 }),
      fc.integer({ min: 1, max: 40 }),
      (bufs, n) => {
        const all = Buffer.concat(bufs);
        const once = { bufs, idx: 0, off: 0 };
        const got: number[] = [];
        for (let i = 0; i < 100 && once.idx < bufs.length; i++) {
          const out = new Uint8Array(n);
          got.push(...out.subarray(0, fill(once, out, 0, n, false)));
        }
        expect(Buffer.from(got)).toEqual(all);
        const looped = { bufs, idx: 0, off: 0 };
        const out = new Uint8Array(all.length * 2 + 1);
        const w = fill(looped, out, 0, out.length, true);
        // An empty list (or one of empty clips) gives nothing rather than looping for ever.
        expect(w).toBe(all.length === 0 ? 0 : out.length);
        if (all.length > 0) expect(Buffer.from(out)).toEqual(Buffer.concat([all, all, all.subarray(0, 1)]));
      },
    ),
  );
});
