import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { VirtualScheduler } from '../../shared/scheduler.js';
import { DigitBuffer } from './sip-digits.js';

const setup = (): { s: VirtualScheduler; b: DigitBuffer } => {
  const s = new VirtualScheduler(0);
  return { s, b: new DigitBuffer(s) };
};

describe('DigitBuffer', () => {
  test('ends at maxDigits, with keys typed ahead of the collection', async () => {
    const { b } = setup();
    b.press('1');
    expect(b.pending).toBe(true);
    const r = b.collect({ maxDigits: 2, timeoutMs: 5000 });
    b.press('2');
    b.press('3');
    expect(await r).toBe('12');
    expect(await b.collect({ maxDigits: 1, timeoutMs: 5000 })).toBe('3');
  });

  test('ends at the terminator, which is not returned; a terminator alone is a timeout', async () => {
    const { b } = setup();
    const r = b.collect({ maxDigits: 8, timeoutMs: 5000, terminator: '#' });
    for (const k of '4321#') b.press(k);
    expect(await r).toBe('4321');
    const empty = b.collect({ maxDigits: 8, timeoutMs: 5000, terminator: '#' });
    b.press('#');
    expect(await empty).toBe('timeout');
  });

  test('the # right after a full PIN belongs to it and does not answer the next menu', async () => {
    const { s, b } = setup();
    const pin = b.collect({ maxDigits: 6, timeoutMs: 5000, terminator: '#', secret: true });
    for (const k of '135790') b.press(k);
    expect(await pin).toBe('135790');
    b.press('#');
    expect(b.pending).toBe(false);
    const menu = b.collect({ maxDigits: 1, timeoutMs: 3000 });
    await s.advance(3000);
    expect(await menu).toBe('timeout');
    // Typed ahead in one go, the # is dropped too.
    const again = b.collect({ maxDigits: 2, timeoutMs: 5000, terminator: '#' });
    for (const k of '12#9') b.press(k);
    expect(await again).toBe('12');
    expect(await b.collect({ maxDigits: 1, timeoutMs: 5000 })).toBe('9');
  });

  test('times out after the last key with what was pressed, or with nothing', async () => {
    const { s, b } = setup();
    const none = b.collect({ maxDigits: 4, timeoutMs: 1000 });
    await s.advance(1000);
    expect(await none).toBe('timeout');
    const some = b.collect({ maxDigits: 4, timeoutMs: 1000 });
    await s.advance(900);
    b.press('7');
    await s.advance(900);
    b.press('8');
    await s.advance(1000);
    expect(await some).toBe('78');
  });

  test('a hang-up ends a collection, and every later one, with hung-up; clear drops type-ahead', async () => {
    const { b } = setup();
    b.press('5');
    b.clear();
    expect(b.pending).toBe(false);
    const r = b.collect({ maxDigits: 4, timeoutMs: 1000 });
    b.hungUp();
    expect(await r).toBe('hung-up');
    b.press('1');
    expect(await b.collect({ maxDigits: 1, timeoutMs: 1000 })).toBe('hung-up');
  });

  test('a second collection replaces the first, which times out', async () => {
    const { b } = setup();
    const first = b.collect({ maxDigits: 2, timeoutMs: 1000 });
    const second = b.collect({ maxDigits: 1, timeoutMs: 1000 });
    b.press('3');
    expect(await first).toBe('timeout');
    expect(await second).toBe('3');
  });

  test('property: keys pressed before and during collections come out in order, none lost, none made up', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom('0', '1', '5', '9', '*'), { maxLength: 20 }),
        fc.integer({ min: 1, max: 4 }),
        async (keys, max) => {
          const { s, b } = setup();
          let out = '';
          for (const k of keys) b.press(k);
          while (b.pending) {
            const pending = b.collect({ maxDigits: max, timeoutMs: 1000 });
            await s.advance(1000);
            const r = await pending;
            if (r !== 'timeout' && r !== 'hung-up') out += r;
            else break;
          }
          expect(out).toBe(keys.join(''));
        },
      ),
    );
  });
});
