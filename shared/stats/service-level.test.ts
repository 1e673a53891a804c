import { describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { isDomainError } from '../errors.js';
import {
  PROVINCE_SERVICE_LEVEL_RULE,
  SERVICE_LEVEL_DEFINITIONS,
  measureServiceLevel,
  type QueueOutcomeCounts,
  type ServiceLevelDefinition,
  type ServiceLevelRule,
} from './service-level.js';

const NONE: QueueOutcomeCounts = {
  answeredWithinT: 0,
  answeredAfterT: 0,
  abandoned: 0,
  shortAbandoned: 0,
  endedByFallback: 0,
  turnedAway: 0,
};

interface Row {
  name: string;
  counts: Partial<QueueOutcomeCounts>;
  turnedAway: ServiceLevelRule['turnedAway'];
  offered: number;
  /** The service level under each definition. */
  sl: Record<ServiceLevelDefinition, number | null>;
  abandonRate: number | null;
}

const ROWS: Row[] = [
  {
    name: 'no calls',
    counts: {},
    turnedAway: 'excluded',
    offered: 0,
    sl: { 'abandons-ignored': null, 'abandons-penalise': null, 'short-abandons-excluded': null },
    abandonRate: null,
  },
  {
    name: 'no calls, turned-away calls counted',
    counts: {},
    turnedAway: 'counted',
    offered: 0,
    sl: { 'abandons-ignored': null, 'abandons-penalise': null, 'short-abandons-excluded': null },
    abandonRate: null,
  },
  {
    name: 'only short abandons',
    counts: { abandoned: 3, shortAbandoned: 3 },
    turnedAway: 'excluded',
    offered: 3,
    // Nothing answered; excluding the short abandons leaves nothing to measure.
    sl: { 'abandons-ignored': null, 'abandons-penalise': 0, 'short-abandons-excluded': null },
    abandonRate: 1,
  },
  {
    name: 'only long abandons',
    counts: { abandoned: 2, shortAbandoned: 0 },
    turnedAway: 'excluded',
    offered: 2,
    sl: { 'abandons-ignored': null, 'abandons-penalise': 0, 'short-abandons-excluded': 0 },
    abandonRate: 1,
  },
  {
    name: 'short and long abandons',
    counts: { abandoned: 3, shortAbandoned: 1 },
    turnedAway: 'excluded',
    offered: 3,
    sl: { 'abandons-ignored': null, 'abandons-penalise': 0, 'short-abandons-excluded': 0 },
    abandonRate: 1,
  },
  {
    name: 'answered within T and short abandons',
    counts: { answeredWithinT: 2, abandoned: 2, shortAbandoned: 2 },
    turnedAway: 'excluded',
    offered: 4,
    sl: { 'abandons-ignored': 1, 'abandons-penalise': 0.5, 'short-abandons-excluded': 1 },
    abandonRate: 0.5,
  },
  {
    name: 'only calls a fallback ended',
    counts: { endedByFallback: 2 },
    turnedAway: 'excluded',
    offered: 2,
    sl: { 'abandons-ignored': null, 'abandons-penalise': 0, 'short-abandons-excluded': 0 },
    abandonRate: 0,
  },
  {
    name: 'answered and fallbacks: a fallback counts against all but abandons-ignored',
    counts: { answeredWithinT: 3, endedByFallback: 1 },
    turnedAway: 'excluded',
    offered: 4,
    sl: { 'abandons-ignored': 1, 'abandons-penalise': 0.75, 'short-abandons-excluded': 0.75 },
    abandonRate: 0,
  },
  {
    name: 'only turned-away calls, excluded (the ACD)',
    counts: { turnedAway: 4 },
    turnedAway: 'excluded',
    offered: 0,
    sl: { 'abandons-ignored': null, 'abandons-penalise': null, 'short-abandons-excluded': null },
    abandonRate: null,
  },
  {
    name: 'only turned-away calls, counted',
    counts: { turnedAway: 4 },
    turnedAway: 'counted',
    offered: 4,
    sl: { 'abandons-ignored': null, 'abandons-penalise': 0, 'short-abandons-excluded': 0 },
    abandonRate: 0,
  },
  {
    name: 'all answered within T',
    counts: { answeredWithinT: 5 },
    turnedAway: 'excluded',
    offered: 5,
    sl: { 'abandons-ignored': 1, 'abandons-penalise': 1, 'short-abandons-excluded': 1 },
    abandonRate: 0,
  },
  {
    name: 'all answered, one after T',
    counts: { answeredWithinT: 3, answeredAfterT: 1 },
    turnedAway: 'excluded',
    offered: 4,
    sl: { 'abandons-ignored': 0.75, 'abandons-penalise': 0.75, 'short-abandons-excluded': 0.75 },
    abandonRate: 0,
  },
  {
    name: 'mixed, turned-away calls excluded',
    counts: {
      answeredWithinT: 6,
      answeredAfterT: 2,
      abandoned: 3,
      shortAbandoned: 1,
      endedByFallback: 1,
      turnedAway: 2,
    },
    turnedAway: 'excluded',
    offered: 12,
    sl: { 'abandons-ignored': 6 / 8, 'abandons-penalise': 6 / 12, 'short-abandons-excluded': 6 / 11 },
    abandonRate: 3 / 12,
  },
  {
    name: 'mixed, turned-away calls counted',
    counts: {
      answeredWithinT: 6,
      answeredAfterT: 2,
      abandoned: 3,
      shortAbandoned: 1,
      endedByFallback: 1,
      turnedAway: 2,
    },
    turnedAway: 'counted',
    offered: 14,
    sl: { 'abandons-ignored': 6 / 8, 'abandons-penalise': 6 / 14, 'short-abandons-excluded': 6 / 13 },
    abandonRate: 3 / 14,
  },
];

describe('service level: one definition, every rule', () => {
  for (const row of ROWS) {
    for (const definition of SERVICE_LEVEL_DEFINITIONS) {
      test(`${row.name}: ${definition}`, () => {
        const m = measureServiceLevel({ ...NONE, ...row.counts }, { definition, turnedAway: row.turnedAway });
        assert.equal(m.serviceLevel, row.sl[definition], 'service level');
        assert.equal(m.offered, row.offered, 'offered');
        assert.equal(m.abandonRate, row.abandonRate, 'abandon rate (the same under every definition)');
        assert.equal(m.answeredWithinT, row.counts.answeredWithinT ?? 0);
        assert.equal(m.abandoned, row.counts.abandoned ?? 0);
        // The terms give the ratio, so a caller can show an exact percentage.
        assert.equal(m.denominator === 0 ? null : m.answeredWithinT / m.denominator, m.serviceLevel);
      });
    }
  }

  test('the province rule: abandons penalise, turned-away calls counted', () => {
    assert.deepEqual(PROVINCE_SERVICE_LEVEL_RULE, { definition: 'abandons-penalise', turnedAway: 'counted' });
    assert.ok(Object.isFrozen(PROVINCE_SERVICE_LEVEL_RULE));
  });

  test('counts without the short abandons are enough for every definition but short-abandons-excluded', () => {
    const { shortAbandoned: _omit, ...counts } = { ...NONE, answeredWithinT: 1, abandoned: 1 };
    assert.equal(
      measureServiceLevel(counts, { definition: 'abandons-penalise', turnedAway: 'counted' }).serviceLevel,
      0.5,
    );
    assert.equal(
      measureServiceLevel(counts, { definition: 'abandons-ignored', turnedAway: 'counted' }).serviceLevel,
      1,
    );
  });
});

describe('service level: bad input names the field', () => {
  const penalise: ServiceLevelRule = { definition: 'abandons-penalise', turnedAway: 'excluded' };
  const cases: Array<{ name: string; counts: QueueOutcomeCounts; rule: ServiceLevelRule; field: string }> = [
    { name: 'negative count', counts: { ...NONE, abandoned: -1 }, rule: penalise, field: 'counts.abandoned' },
    {
      name: 'fractional count',
      counts: { ...NONE, answeredWithinT: 1.5 },
      rule: penalise,
      field: 'counts.answeredWithinT',
    },
    {
      name: 'missing count',
      counts: { ...NONE, turnedAway: undefined as unknown as number },
      rule: penalise,
      field: 'counts.turnedAway',
    },
    {
      name: 'more short abandons than abandons',
      counts: { ...NONE, abandoned: 1, shortAbandoned: 2 },
      rule: penalise,
      field: 'counts.shortAbandoned',
    },
    {
      name: 'short-abandons-excluded without the short abandons',
      counts: { ...NONE, shortAbandoned: undefined },
      rule: { definition: 'short-abandons-excluded', turnedAway: 'excluded' },
      field: 'counts.shortAbandoned',
    },
    {
      name: 'unknown definition',
      counts: NONE,
      rule: { definition: 'abandons-forgiven' as ServiceLevelDefinition, turnedAway: 'excluded' },
      field: 'rule.definition',
    },
    {
      name: 'unknown turned-away rule',
      counts: NONE,
      rule: { definition: 'abandons-penalise', turnedAway: 'sometimes' as 'counted' },
      field: 'rule.turnedAway',
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.throws(
        () => measureServiceLevel(c.counts, c.rule),
        (e) => isDomainError(e, 'invalid-argument') && e.field === c.field,
      );
    });
  }
});
