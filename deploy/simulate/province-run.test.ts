import { describe, expect, it } from 'vitest';
import { runProvince, type RunResult } from './province-run.js';
import { compileScenario, type CompiledScenario } from './scenario.js';
import { runSummary, summarise } from './summary.js';
import { smallFiles, smallScenario, type Doc } from './testing.js';

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
  it('gives the same summary for the same seed, and another for another seed', () => {
    const a = both(small()).summary;
    expect(both(small()).summary).toEqual(a);
    expect(both(small((d: Doc) => (d.seed = 8))).summary).not.toEqual(a);
  });

  it('moves nothing with federation off', () => {
    const { off } = both(small());
    const r = runSummary(off);
    expect(r.routing.asked).toBe(0);
    expect(r.province.movedOut).toBe(0);
    for (const site of Object.values(r.sites)) expect([site.movedOut, site.movedIn]).toEqual([0, 0]);
  });

  it("with federation on moves the short site's callers to the helper and raises its service level", () => {
    const { off, on } = both(small());
    const a = runSummary(off);
    const b = runSummary(on);
    expect(b.sites.busy!.movedOut).toBeGreaterThan(10);
    expect(b.sites.helper!.movedIn).toBe(b.sites.busy!.movedOut);
    expect(b.routing.moved).toBe(b.sites.busy!.movedOut);
    expect(b.sites.busy!.serviceLevel!).toBeGreaterThan(a.sites.busy!.serviceLevel! + 0.1);
    expect(b.province.serviceLevel!).toBeGreaterThan(a.province.serviceLevel!);
  });

  it('counts every call once, at the site where it ended: offered = answered + abandoned + other, province = sum', () => {
    for (const s of [
      small(),
      small((d: Doc) => (d.events = [{ kind: 'agents-short', site: 'busy', fraction: 0.5 }])),
    ]) {
      const { off, on } = both(s);
      for (const r of [runSummary(off), runSummary(on)]) {
        let offered = 0;
        for (const site of Object.values(r.sites)) {
          expect(site.offered).toBe(site.answered + site.abandoned + site.other);
          offered += site.offered;
        }
        expect(r.province.offered).toBe(offered);
        expect(r.province.offered).toBe(s.totalCalls);
        expect(r.province.answered).toBe(Object.values(r.sites).reduce((a, x) => a + x.answered, 0));
      }
    }
  });

  it('a cut link neither asks nor is routed to while it is cut', () => {
    const s = small(
      (d: Doc) => (d.events = [{ kind: 'link-cut', site: 'busy', from: '08:00', to: '13:00' }]),
    );
    const r = runSummary(runProvince(s, true));
    expect(r.routing.asked).toBe(0);
    const t = small(
      (d: Doc) => (d.events = [{ kind: 'link-cut', site: 'helper', from: '08:00', to: '13:00' }]),
    );
    const u = runSummary(runProvince(t, true));
    expect(u.routing.asked).toBeGreaterThan(0);
    expect(u.routing.moved).toBe(0);
    expect(u.routing.noTarget['no-eligible-site']).toBe(u.routing.asked);
  });
});
