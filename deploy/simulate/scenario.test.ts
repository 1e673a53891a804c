import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { DomainError } from '../../shared/errors.js';
import { compileScenario, loadScenario, splitWhole } from './scenario.js';
import { smallFiles, smallScenario } from './testing.js';

/** The error a scenario document is refused with (fails the test if it compiles). */
function refusal(doc: unknown): DomainError {
  try {
    compileScenario(doc, smallFiles);
  } catch (e) {
    assert.ok(e instanceof DomainError, String(e));
    return e;
  }
  throw new Error('the scenario compiled');
}

const problemsOf = (doc: unknown): string[] => [...(refusal(doc).problems ?? [refusal(doc).message])];

describe('scenario validation', () => {
  test('compiles the small scenario: agents by shift, calls by queue and hour', () => {
    const s = compileScenario(smallScenario(), smallFiles);
    assert.deepEqual(
      s.sites.map((x) => x.id),
      ['busy', 'helper'],
    );
    assert.deepEqual(
      s.sites[0]!.agents.map((a) => a.agentId),
      ['busy.day.1', 'busy.day.2'],
    );
    assert.deepEqual(s.sites[0]!.agents[0]!.shifts, [[8 * 3_600_000, 13 * 3_600_000]]);
    assert.equal(s.totalCalls, 3 * (40 + 4 + 20));
    // The day starts at local midnight: 2026-12-02 00:00 at UTC+8.
    assert.equal(s.dayStartMs, Date.UTC(2026, 11, 1, 16));
  });

  test('names the field of a negative hourly count, and changes nothing', () => {
    const doc = smallScenario();
    doc.sites.helper.arrivals.byHour[9] = -1;
    const before = structuredClone(doc);
    assert.ok(problemsOf(doc).includes('sites.helper.arrivals.byHour[9]: must be >= 0'));
    assert.deepEqual(doc, before);
  });

  test('reports every problem at once, each with its path', () => {
    const doc = smallScenario();
    doc.sites.busy.arrivals.byQueue.mortgages = doc.sites.busy.arrivals.byQueue.retail;
    doc.sites.nowhere = { patience: { meanMs: '1m' } };
    doc.events = [{ kind: 'busy-hour', site: 'busy', hour: 24, multiplier: 2 }];
    doc.day = 'tomorrow';
    const ps = problemsOf(doc);
    for (const p of ['events[0].hour: must be 0..23', 'day: must be a date YYYY-MM-DD']) {
      assert.ok(ps.includes(p), p);
    }
    // Shape first; once the shape is right the cross-file checks speak.
    doc.events = [{ kind: 'busy-hour', site: 'busy', hour: 10, multiplier: 2 }];
    doc.day = '2026-12-02';
    const cross = problemsOf(doc);
    assert.ok(
      cross.some((p) =>
        p.startsWith('sites.busy.arrivals.byQueue.mortgages: busy\'s ACD has no queue "mortgages"'),
      ),
    );
    assert.ok(cross.some((p) => p.startsWith('sites.nowhere: not a site of the topology')));
  });

  test('names a full site left out, a roster missing, and an unreadable site config', () => {
    const doc = smallScenario();
    delete doc.sites.busy.roster;
    doc.sites.helper.acd = { from: 'missing.yaml' };
    const ps = problemsOf(doc);
    assert.ok(ps.includes('sites.busy.roster: required for a full site'));
    assert.ok(ps.some((p) => p.startsWith('sites.helper.acd.from: cannot read missing.yaml')));
    delete doc.sites.busy;
    assert.ok(problemsOf(doc).some((p) => p.startsWith('sites.busy: required')));
  });

  test("reads the ACD config with the ACD's own checks, named under the site", () => {
    const doc = smallScenario();
    doc.sites.busy.acd = { queues: [{ id: 'retail', skill: 'retail', maxWaitMs: 'soon' }] };
    assert.ok(problemsOf(doc).some((p) => p.startsWith('sites.busy.acd.queues[0].maxWaitMs:')));
  });

  test('applies the events: agents short removes a fraction of each group, a busy hour multiplies it', () => {
    const doc = smallScenario();
    doc.events = [
      { kind: 'agents-short', site: 'helper', fraction: 0.5 },
      { kind: 'busy-hour', site: 'helper', hour: 10, multiplier: 1.5 },
      { kind: 'link-cut', site: 'helper', from: '10:00', to: '10:30' },
    ];
    const s = compileScenario(doc, smallFiles);
    assert.equal(s.sites[1]!.agents.length, 4);
    assert.deepEqual(
      s.callers.find((c) => c.cityId === 'helper')!.byQueue[0]!.perHour.slice(9, 12),
      [20, 30, 20],
    );
    assert.deepEqual(s.linkCuts, [{ siteId: 'helper', fromMs: 36_000_000, toMs: 37_800_000 }]);
  });

  test('splits an hour by shares into whole calls that add up', () => {
    assert.deepEqual(splitWhole(10, [1, 1, 1]), [4, 3, 3]);
    assert.equal(
      splitWhole(7, [0.65, 0.22, 0.06, 0.07]).reduce((a, b) => a + b),
      7,
    );
  });

  test('compiles the two example scenarios', () => {
    for (const name of ['simulate-normal-day.yaml', 'simulate-wanzhou-short.yaml']) {
      const path = resolve(import.meta.dirname, '../examples', name);
      const s = loadScenario(readFileSync(path, 'utf8'), (rel) =>
        readFileSync(resolve(dirname(path), rel), 'utf8'),
      );
      assert.equal(s.totalCalls, 30_000);
      assert.deepEqual(
        s.sites.map((x) => x.id),
        ['chongqing', 'fuling', 'wanzhou'],
      );
    }
  });
});
