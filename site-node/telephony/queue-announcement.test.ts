import { describe, expect, test } from 'vitest';
import { queueAnnouncement, type QueueFacts } from './queue-announcement.js';

const facts = (position: number | undefined, ewtMs: number | null): QueueFacts => ({
  call: (id) => (id === 'c1' ? { queueId: 'retail', priority: 0 } : undefined),
  queuePosition: (id) => (id === 'c1' ? position : undefined),
  expectedWaitMs: () => ewtMs,
});

describe('queueAnnouncement', () => {
  test('the position, then the expected wait in whole minutes rounded up', () => {
    expect(queueAnnouncement(facts(3, 125_000), 'c1')).toEqual([
      { promptId: 'queue.position', vars: { position: '3' } },
      { promptId: 'queue.expected_wait', vars: { minutes: '3' } },
    ]);
    expect(queueAnnouncement(facts(1, 0), 'c1')[1]).toEqual({
      promptId: 'queue.expected_wait',
      vars: { minutes: '1' },
    });
  });

  test('no expected wait when nobody serves the queue; nothing for a call not waiting', () => {
    expect(queueAnnouncement(facts(2, null), 'c1')).toEqual([
      { promptId: 'queue.position', vars: { position: '2' } },
    ]);
    expect(queueAnnouncement(facts(undefined, 1000), 'c1')).toEqual([]);
    expect(queueAnnouncement(facts(1, 1000), 'other')).toEqual([]);
  });
});
