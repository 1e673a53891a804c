import { describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { parseCoverUntil } from './cover-until.js';

describe('parseCoverUntil', () => {
  test('an instant with its offset, to the millisecond', () => {
    assert.deepEqual(parseCoverUntil('2026-12-02T18:00+08:00'), { untilMs: Date.UTC(2026, 11, 2, 10) });
    assert.deepEqual(parseCoverUntil('2026-12-02T10:00:30Z'), { untilMs: Date.UTC(2026, 11, 2, 10, 0, 30) });
    assert.deepEqual(parseCoverUntil('2026-12-02T10:00:30.5-05:00'), {
      untilMs: Date.UTC(2026, 11, 2, 15, 0, 30, 500),
    });
  });

  test('a duration from now, on the hub clock', () => {
    assert.deepEqual(parseCoverUntil('+2h'), { forMs: 7_200_000 });
    assert.deepEqual(parseCoverUntil('+90m'), { forMs: 5_400_000 });
  });

  test('refused, naming what is wrong and the formats', () => {
    const refused = (text: string, why: RegExp) =>
      assert.throws(
        () => parseCoverUntil(text),
        (e: Error) => why.test(e.message) && e.message.includes(`"${text}"`) && /ISO 8601/.test(e.message),
      );
    refused('2026-12-02T18:00', /has no UTC offset/);
    refused('2026-02-30T10:00Z', /not a real time/);
    refused('2026-12-02T24:30Z', /not a real time/);
    refused('tomorrow', /not a time/);
    refused('+soon', /not a duration/);
    refused('+0s', /not a duration/);
  });
});
