import { describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { isDomainError } from '../../shared/errors.js';
import { compileAcdConfig } from './config.js';

function fieldOf(input: unknown): string | undefined {
  try {
    compileAcdConfig(input);
  } catch (e) {
    assert.ok(isDomainError(e, 'invalid-argument'), String(e));
    return e.field;
  }
  assert.fail('expected an invalid-argument error');
}

const q = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  id: 'retail',
  skill: 'retail',
  ...extra,
});

describe('compileAcdConfig', () => {
  test('fills defaults and normalises durations to ms', () => {
    const c = compileAcdConfig({
      offerTimeoutMs: '12s',
      queues: [
        q({
          maxWaitMs: '2m',
          expansion: [{ afterMs: '20s', minProficiency: 1 }],
          onMaxWait: 'overflow-queue:vip',
        }),
        { id: 'vip', skill: 'vip', minProficiency: 4 },
      ],
    });
    const [retail, vip] = c.queues;
    assert.equal(retail!.offerTimeoutMs, 12_000);
    assert.equal(retail!.wrapUpMs, 30_000);
    assert.equal(retail!.maxWaitMs, 120_000);
    assert.equal(retail!.maxQueueLength, Infinity);
    assert.deepEqual(retail!.onMaxWait, { kind: 'overflow-queue', queueId: 'vip' });
    assert.deepEqual(retail!.onQueueFull, { kind: 'announcement', announcement: 'queue-full' });
    assert.deepEqual(retail!.levels, [
      { afterMs: 0, minProficiency: 1, alsoSkills: [] },
      { afterMs: 20_000, minProficiency: 1, alsoSkills: [] },
    ]);
    assert.equal(vip!.strategy, 'longest-idle');
    assert.deepEqual(c.serviceLevel, {
      thresholdMs: 20_000,
      windowMs: 900_000,
      shortAbandonMs: 5_000,
      definition: 'abandons-penalise',
    });
    assert.deepEqual(
      c.queuesBySkill.get('vip')!.map((x) => x.id),
      ['vip'],
    );
  });

  test('expansion is cumulative and indexes every skill it adds', () => {
    const c = compileAcdConfig({
      queues: [
        q({
          id: 'vip',
          skill: 'vip',
          minProficiency: 4,
          expansion: [
            { afterMs: 20000, minProficiency: 3 },
            { afterMs: 40000, alsoSkills: ['retail'] },
          ],
        }),
      ],
    });
    assert.deepEqual(c.queues[0]!.levels[2], { afterMs: 40_000, minProficiency: 3, alsoSkills: ['retail'] });
    assert.deepEqual(
      c.queuesBySkill.get('retail')!.map((x) => x.id),
      ['vip'],
    );
  });

  test('errors name the field', () => {
    assert.equal(fieldOf({ queues: [] }), 'acd.queues');
    assert.equal(fieldOf({ queues: [q({ skill: '' })] }), 'acd.queues[0].skill');
    assert.equal(fieldOf({ queues: [q({ maxWaitMs: 'soon' })] }), 'acd.queues[0].maxWaitMs');
    assert.equal(fieldOf({ queues: [q({ minProficiency: 6 })] }), 'acd.queues[0].minProficiency');
    assert.equal(fieldOf({ queues: [q({ strategy: 'random' })] }), 'acd.queues[0].strategy');
    assert.equal(fieldOf({ queues: [q({ colour: 'red' })] }), 'acd.queues[0]');
    assert.equal(fieldOf({ queues: [q(), q()] }), 'acd.queues[1].id');
    assert.equal(
      fieldOf({ queues: [q({ onQueueFull: 'overflow-queue:nowhere' })] }),
      'acd.queues[0].onQueueFull.queueId',
    );
    assert.equal(fieldOf({ queues: [q({ onMaxWait: 'teleport' })] }), 'acd.queues[0].onMaxWait');
    assert.equal(
      fieldOf({ queues: [q({ afterHours: 'overflow-queue:retail' })] }),
      'acd.queues[0].afterHours.queueId',
    );
    assert.equal(
      fieldOf({
        queues: [
          q({
            expansion: [
              { afterMs: 20000, minProficiency: 1 },
              { afterMs: 10000, minProficiency: 1 },
            ],
          }),
        ],
      }),
      'acd.queues[0].expansion[1].afterMs',
    );
    assert.equal(fieldOf({ queues: [q({ expansion: [{ afterMs: 20000 }] })] }), 'acd.queues[0].expansion[0]');
    assert.equal(fieldOf({ queues: [q({ calendarId: 'x' })] }), 'acd.queues[0].calendarId');
    assert.equal(
      fieldOf({ serviceLevel: { thresholdMs: -1 }, queues: [q()] }),
      'acd.serviceLevel.thresholdMs',
    );
    assert.equal(fieldOf({ offerTimeoutMs: 0, queues: [q()] }), 'acd.offerTimeoutMs');
    assert.equal(
      fieldOf({ calendars: { c: { weekly: { mon: [{ from: '9:00', to: '17:00' }] } } }, queues: [q()] }),
      'acd.calendars.c.weekly.mon[0].from',
    );
    assert.equal(
      fieldOf({ calendars: { c: { weekly: {}, holidays: ['2026-02-30'] } }, queues: [q()] }),
      'acd.calendars.c.holidays[0]',
    );
  });

  test('overflow cycles are rejected', () => {
    const e = (() => {
      try {
        compileAcdConfig({
          queues: [
            q({ id: 'a', onQueueFull: 'overflow-queue:b' }),
            q({ id: 'b', onMaxWait: 'overflow-queue:a' }),
          ],
        });
      } catch (err) {
        return err as Error;
      }
    })();
    assert.ok(isDomainError(e, 'invalid-argument'));
    assert.match(e.message, /overflow cycle: a -> b -> a/);
  });
});
