import { describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { runProvince, type RunResult } from './province-run.js';
import { compileScenario, type CompiledScenario } from './scenario.js';
import { runSummary, summarise } from './summary.js';
import { SMALL_TOPOLOGY, smallFiles, smallScenario, type Doc } from './testing.js';

const small = (patch: (doc: Doc) => void = () => {}): CompiledScenario => {
  const doc = smallScenario();
  patch(doc);
  return compileScenario(doc, smallFiles);
};

/** Both runs of a scenario, and their summary without the wall-clock part. */
function both(s: CompiledScenario): { off: RunResult; on: RunResult; summary: unknown } {
  const off = runProvince(s, false);
  const on = runProvince(s, true);
  const { timing: _timing, ...summary } = summarise(s, off, on, { offMs: 1, onMs: 1 });
  return { off, on, summary };
}

describe('the province run', () => {
  test('gives the same summary for the same seed, and another for another seed', () => {
    const a = both(small()).summary;
    assert.deepEqual(both(small()).summary, a);
    assert.notDeepEqual(both(small((d: Doc) => (d.seed = 8))).summary, a);
  });

  test('moves nothing with federation off', () => {
    const { off } = both(small());
    const r = runSummary(off);
    assert.equal(r.routing.asked, 0);
    assert.equal(r.province.movedOut, 0);
    for (const site of Object.values(r.sites)) assert.deepEqual([site.movedOut, site.movedIn], [0, 0]);
  });

  test("with federation on moves the short site's callers to the helper and raises its service level", () => {
    const { off, on } = both(small());
    const a = runSummary(off);
    const b = runSummary(on);
    assert.ok(b.sites.busy!.movedOut > 10, `moved out ${b.sites.busy!.movedOut}`);
    assert.equal(b.sites.helper!.movedIn, b.sites.busy!.movedOut);
    assert.equal(b.routing.moved, b.sites.busy!.movedOut);
    assert.ok(b.sites.busy!.serviceLevel! > a.sites.busy!.serviceLevel! + 0.1);
    assert.ok(b.province.serviceLevel! > a.province.serviceLevel!);
  });

  test('counts every call once, at the site where it ended: offered = answered + abandoned + other, province = sum', () => {
    for (const s of [
      small(),
      small((d: Doc) => (d.events = [{ kind: 'agents-short', site: 'busy', fraction: 0.5 }])),
    ]) {
      const { off, on } = both(s);
      for (const r of [runSummary(off), runSummary(on)]) {
        let offered = 0;
        for (const site of Object.values(r.sites)) {
          assert.equal(site.offered, site.answered + site.abandoned + site.other);
          offered += site.offered;
        }
        assert.equal(r.province.offered, offered);
        assert.equal(r.province.offered, s.totalCalls);
        assert.equal(
          r.province.answered,
          Object.values(r.sites).reduce((a, x) => a + x.answered, 0),
        );
      }
    }
  });

  test('a cut link neither asks nor is routed to while it is cut', () => {
    const s = small(
      (d: Doc) => (d.events = [{ kind: 'link-cut', site: 'busy', from: '08:00', to: '13:00' }]),
    );
    const r = runSummary(runProvince(s, true));
    assert.equal(r.routing.asked, 0);
    const t = small(
      (d: Doc) => (d.events = [{ kind: 'link-cut', site: 'helper', from: '08:00', to: '13:00' }]),
    );
    const u = runSummary(runProvince(t, true));
    assert.ok(u.routing.asked > 0);
    assert.equal(u.routing.moved, 0);
    assert.equal(u.routing.noTarget['no-eligible-site'], u.routing.asked);
  });

  test("a cover entry's calls rank as the entry says: below-own the covering site turns more of them down", () => {
    // helper covers busy's retail all day; helper has its own busy line (5 agents, 80 calls an hour).
    const covered = (rank: string): RunResult => {
      const topology = SMALL_TOPOLOGY.replace(
        /overflow:[\s\S]*$/,
        `cover:
  - id: helper-covers-busy
    agentsOf: helper
    serves: { site: busy, queues: [retail] }
    when: { days: [mon, tue, wed, thu, fri, sat, sun], from: '00:00', to: '24:00' }
    rank: ${rank}
`,
      );
      const doc = smallScenario();
      doc.sites.helper.roster[0].count = 5;
      doc.sites.helper.arrivals.byHour = doc.sites.helper.arrivals.byHour.map((n: number) => n * 4);
      const s = compileScenario(doc, (p) => (p === 'topology.yaml' ? topology : smallFiles(p)));
      return runProvince(s, true);
    };
    const below = runSummary(covered('below-own')).routing;
    const byWait = runSummary(covered('by-wait')).routing;
    assert.ok(below.cover > 0 && byWait.cover > 0 && below.moved > 0);
    // The target judges a below-own call on the wait behind all its own callers: longer, so
    // fewer fit the caller's patience (a by-wait call, as an overflow call, is judged at its
    // own place).
    assert.ok(
      below.refusedByTarget > byWait.refusedByTarget,
      `refused below-own ${below.refusedByTarget}, by-wait ${byWait.refusedByTarget}`,
    );
  });
});
