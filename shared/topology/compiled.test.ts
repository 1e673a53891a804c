import { test } from 'vitest';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { isDomainError } from '../errors.js';
import { validateCompiledTopology } from './compiled.js';
import { loadTopology } from './validate.js';
import type { Topology } from './schema.js';

const EXAMPLE = fileURLToPath(new URL('../../deploy/examples/province.yaml', import.meta.url));
const example = (): Topology => loadTopology(readFileSync(EXAMPLE, 'utf8'));
/** What a site receives: the compiled topology through JSON. */
const wire = (t: unknown): unknown => JSON.parse(JSON.stringify(t)) as unknown;

function problemsOf(input: unknown): string[] {
  try {
    validateCompiledTopology(input);
  } catch (e) {
    assert.ok(isDomainError(e, 'invalid-argument'), `expected invalid-argument, got ${String(e)}`);
    const lines = e.message.split('\n');
    return lines.length === 1 ? lines : lines.slice(1).map((l) => l.replace(/^\s*- /, ''));
  }
  assert.fail('expected the compiled topology to be refused');
}

test('a compiled topology validates again and comes back unchanged', () => {
  const t = example();
  // The example has the parts the compiled form spells differently from the file: overflow
  // conditions set and unset, weekly and on-demand cover (the property below drops backups).
  assert.ok(t.overflow.some((p) => p.when.serviceLevelBelow === null));
  assert.ok(t.cover.some((c) => c.when.kind === 'on-demand'));
  assert.ok(t.cover.some((c) => c.when.kind === 'weekly'));
  assert.deepEqual(validateCompiledTopology(wire(t)), t);
  // As the hub stores it (version cleared), and with the admin's version number.
  assert.deepEqual(validateCompiledTopology(wire({ ...t, version: null })), { ...t, version: null });
  assert.deepEqual(validateCompiledTopology(wire({ ...t, version: 7 })), { ...t, version: 7 });
});

test('property: any valid variant of the example survives the trip unchanged', () => {
  const base = example();
  fc.assert(
    fc.property(
      fc.record({
        agents: fc.nat(500),
        dropBackups: fc.boolean(),
        waitingOver: fc.option(fc.nat(50), { nil: null }),
        dropCover: fc.nat(base.cover.length),
        exclude: fc.uniqueArray(fc.integer({ min: 0, max: 100 }), { maxLength: 3 }),
        afterHours: fc.boolean(),
      }),
      (e) => {
        const t: Topology = structuredClone(base);
        const full = t.sites.find((s) => s.kind === 'full')!;
        if (full.kind === 'full') full.capacity.agents = e.agents;
        if (e.dropBackups) for (const s of t.sites) if (s.kind === 'access') s.backupCenter = null;
        const p = t.overflow[0]!;
        p.when.oldestWaitOverMs ??= 60_000; // a policy needs one condition; waitingOver may go
        p.when.waitingOver = e.waitingOver;
        p.when.afterHours = e.afterHours;
        p.excludePriorities = [...e.exclude].sort((x, y) => x - y);
        t.cover.splice(e.dropCover, 1);
        assert.deepEqual(validateCompiledTopology(wire(t)), t);
      },
    ),
    { numRuns: 100 },
  );
});

test('a compiled topology from a hub that predates the new overflow fields gets their defaults', () => {
  const t = example();
  const old = wire(t) as { overflow: Array<Record<string, unknown>> };
  for (const p of old.overflow) {
    delete p.excludePriorities;
    const when = p.when as Record<string, unknown>;
    delete when.noAgentsLoggedIn;
    delete when.afterHours;
  }
  const got = validateCompiledTopology(old);
  for (const p of got.overflow) {
    assert.deepEqual(p.excludePriorities, [10]);
    assert.equal(p.when.noAgentsLoggedIn, false);
    assert.equal(p.when.afterHours, false);
  }
});

test('a compiled topology from a hub that predates cover ranks gets below-own', () => {
  const t = example();
  const old = wire(t) as { cover: Array<Record<string, unknown>> };
  for (const c of old.cover) delete c.rank;
  const got = validateCompiledTopology(old);
  assert.ok(got.cover.length > 0);
  for (const c of got.cover) assert.equal(c.rank, 'below-own');
});

test('a pushed cover rank the file format does not know is refused by its path', () => {
  const old = wire(example()) as { cover: Array<Record<string, unknown>> };
  old.cover[0]!.rank = 'above-own';
  assert.throws(
    () => validateCompiledTopology(old),
    (e: Error) => /cover\[0\]\.rank: must be one of below-own, by-wait/.test(e.message),
  );
});

test("a compiled topology from a hub that predates sites' SIP transports gets udp", () => {
  const old = wire(example()) as { sites: Array<{ kind: string; endpoints: Record<string, unknown> }> };
  for (const s of old.sites) delete s.endpoints.sipTransport;
  const got = validateCompiledTopology(old);
  for (const s of got.sites) if (s.kind === 'full') assert.equal(s.endpoints.sipTransport, 'udp');
});

test('a pushed SIP transport the file format does not know is refused by its path', () => {
  const old = wire(example()) as { sites: Array<{ endpoints: Record<string, unknown> }> };
  old.sites[0]!.endpoints.sipTransport = 'tls';
  assert.deepEqual(problemsOf(old), ['sites[0].endpoints.sipTransport: must be one of udp, tcp']);
});

test('a broken compiled topology is refused with every problem named by its path in the JSON', () => {
  const t = wire(example()) as {
    sites: Array<Record<string, unknown>>;
    overflow: Array<Record<string, unknown>>;
    cover: Array<Record<string, unknown>>;
  };
  const cq = t.sites.findIndex((s) => s.id === 'chongqing');
  (t.sites[cq]!.capacity as Record<string, unknown>).trunks = -1;
  t.sites[cq]!.extra = true;
  t.overflow[0]!.to = ['nowhere'];
  t.cover[0]!.when = { kind: 'monthly' };
  assert.deepEqual(problemsOf(t), [
    `sites[${cq}].capacity.trunks: Too small: expected number to be >=0`,
    `sites[${cq}]: Unrecognized key: "extra"`,
    `overflow[0].to[0]: unknown site "nowhere"`,
    `cover[0].when: must be 'on-demand' or { days, from, to, utcOffsetMinutes? }`,
  ]);
});

test('what is not a topology at all is refused, not trusted', () => {
  assert.deepEqual(problemsOf(null), ['(root): a topology is a mapping with province, hubSite and sites']);
  assert.deepEqual(problemsOf([]), ['(root): a topology is a mapping with province, hubSite and sites']);
  const { sites: _sites, ...noSites } = example();
  assert.equal(problemsOf(wire(noSites))[0], 'sites: Invalid input: expected array, received undefined');
  assert.deepEqual(problemsOf(wire({ ...example(), version: 'seven' })), [
    'version: Invalid input: expected number, received string',
  ]);
});
