/**
 * The batch bound on the link: the estimate of an event's size never falls short of its real
 * encoding (a batch cut by the estimate is within the bound on the wire), and a batch takes
 * events from the first while they fit, at least one.
 */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { Event, SiteMessage } from '../../proto/gen/federation.js';
import { makeEvent } from '../events/envelope.js';
import { batchPrefix, encodedEventBytes, MAX_BATCH_BYTES, MAX_BATCH_EVENTS } from './event-batch.js';
import { eventToProto } from './event-proto.js';

const event = (n: number, note: string) =>
  eventToProto(
    makeEvent({
      type: 'call.data-changed',
      siteId: 'chongqing',
      aggregateId: `chongqing-01JD3Z${String(n).padStart(20, '0')}`,
      occurredAtMs: 1_700_000_000_000 + n,
      payload: { n, note, 名字: '李娜' },
    }),
  );

test('the size estimate covers the real encoding, and a full batch is within the bound', () => {
  for (const note of ['', 'x', 'x'.repeat(200), 'é'.repeat(3000), 'x'.repeat(70_000)]) {
    const e = event(1, note);
    assert.ok(encodedEventBytes(e) >= Event.encode(e).finish().length, `note of ${note.length}`);
  }
  const events = Array.from({ length: MAX_BATCH_EVENTS }, (_, i) => event(i, 'y'.repeat(i % 3000)));
  const n = batchPrefix(events);
  assert.ok(n > 1 && n < events.length);
  const bytes = SiteMessage.encode({
    body: {
      $case: 'events',
      value: { batchId: '2d8f0c1e-0000-4000-8000-000000000000', events: events.slice(0, n) },
    },
  }).finish().length;
  assert.ok(bytes <= MAX_BATCH_BYTES, `${bytes} bytes`);
});

test('a batch takes events while they fit, and at least one', () => {
  const small = Array.from({ length: 10 }, (_, i) => event(i, 'x'.repeat(100)));
  assert.equal(batchPrefix(small), 10);
  assert.equal(batchPrefix([]), 0);
  const one = encodedEventBytes(small[0]!);
  assert.equal(batchPrefix(small, one * 3), 3);
  assert.equal(batchPrefix(small, 1), 1, 'an event over the bound still goes, alone');
});
