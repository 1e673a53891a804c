import { test } from 'vitest';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { parse as parseYaml } from 'yaml';
import { diffTopology, formatDiff, jsonEqual } from './diff.js';
import { validateTopology } from './validate.js';

const EXAMPLE = fileURLToPath(new URL('../../deploy/examples/province.yaml', import.meta.url));
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Raw = any;
const raw = (): Raw => parseYaml(readFileSync(EXAMPLE, 'utf8')) as Raw;
const site = (r: Raw, id: string): Raw => r.sites.find((s: Raw) => s.id === id);

test('diff of the example against an edited copy lists exactly the changes', () => {
  const a = raw();
  const b = raw();
  b.version = 2;
  site(b, 'wanzhou').capacity.agents = 12;
  site(b, 'wanzhou').queues.push('fx');
  b.sites = b.sites.filter((s: Raw) => s.id !== 'kaizhou');
  b.sites.push({
    id: 'yongchuan',
    kind: 'access',
    city: '永川 Yongchuan',
    endpoints: { sip: '10.32.0.2:5060' },
    capacity: { trunks: 20 },
    center: 'chongqing',
  });
  b.overflow.find((p: Raw) => p.id === 'fuling-busy').when.oldestWaitOverMs = '90s';
  b.overflow = b.overflow.filter((p: Raw) => p.id !== 'center-vip-busy');
  b.cover.find((c: Raw) => c.id === 'night-wanzhou-retail').when.from = '21:00';
  b.cover.find((c: Raw) => c.id === 'weekend-wanzhou-cards').rank = 'by-wait';
  b.cover.push({
    id: 'sunday-help',
    agentsOf: 'fuling',
    serves: { site: 'chongqing', queues: ['vip'] },
    when: 'on-demand',
  });
  // Meaningless edits: order of sites and queues, durations spelled differently.
  b.sites.reverse();
  site(b, 'chongqing').queues.reverse();
  b.overflow.find((p: Raw) => p.id === 'wanzhou-busy').when.oldestWaitOverMs = 60_000;

  const changes = diffTopology(validateTopology(a), validateTopology(b));
  assert.deepEqual(
    changes.map((c) => c.kind),
    [
      'header-changed',
      'site-removed',
      'site-changed',
      'site-added',
      'overflow-removed',
      'overflow-changed',
      'cover-changed',
      'cover-added',
      'cover-changed',
    ],
  );
  assert.equal(
    formatDiff(changes),
    [
      '~ version: 1 -> 2',
      '- site kaizhou (access, 开州 Kaizhou): center wanzhou, backup chongqing',
      '~ site wanzhou: capacity.agents 8 -> 12; queues [complaints, credit-card, retail, vip] -> [complaints, credit-card, fx, retail, vip]',
      '+ site yongchuan (access, 永川 Yongchuan): center chongqing, backup (none)',
      '- overflow center-vip-busy: chongqing [vip] -> [wanzhou]',
      '~ overflow fuling-busy: when.oldestWaitOverMs 60000 -> 90000',
      '~ cover night-wanzhou-retail: when.from 22:00 -> 21:00',
      '+ cover sunday-help: fuling serves chongqing [vip] on demand, rank below-own',
      '~ cover weekend-wanzhou-cards: rank below-own -> by-wait',
    ].join('\n'),
  );
});

test('a change of excluded priorities or of the new triggers is listed as a field change', () => {
  const a = raw();
  const b = raw();
  b.overflow.find((p: Raw) => p.id === 'wanzhou-busy').excludePriorities = [];
  b.overflow.find((p: Raw) => p.id === 'wanzhou-busy').when.afterHours = true;
  assert.equal(
    formatDiff(diffTopology(validateTopology(a), validateTopology(b))),
    '~ overflow wanzhou-busy: when.afterHours false -> true; excludePriorities [10] -> []',
  );
  // Spelling out the default changes nothing.
  b.overflow.find((p: Raw) => p.id === 'wanzhou-busy').excludePriorities = [10];
  b.overflow.find((p: Raw) => p.id === 'wanzhou-busy').when.afterHours = false;
  assert.deepEqual(diffTopology(validateTopology(a), validateTopology(b)), []);
});

test("a cover entry's rank spelled out as the default changes nothing", () => {
  const a = raw();
  const b = raw();
  b.cover.find((c: Raw) => c.id === 'night-wanzhou-retail').rank = 'below-own';
  assert.deepEqual(diffTopology(validateTopology(a), validateTopology(b)), []);
});

test("a site's SIP transport is a field change; spelled out as the default it changes nothing", () => {
  const a = raw();
  const b = raw();
  site(b, 'wanzhou').endpoints.sipTransport = 'tcp';
  site(b, 'fuling').endpoints.sipTransport = 'udp';
  assert.equal(
    formatDiff(diffTopology(validateTopology(a), validateTopology(b))),
    [
      '~ site fuling: endpoints.sipTransport tcp -> udp',
      '~ site wanzhou: endpoints.sipTransport udp -> tcp',
    ].join('\n'),
  );
  site(b, 'wanzhou').endpoints.sipTransport = 'udp';
  site(b, 'fuling').endpoints.sipTransport = 'tcp';
  site(b, 'chongqing').endpoints.sipTransport = 'udp';
  assert.deepEqual(diffTopology(validateTopology(a), validateTopology(b)), []);
});

test('formatDiff of no changes is empty', () => {
  const t = validateTopology(raw());
  assert.deepEqual(diffTopology(t, t), []);
  assert.equal(formatDiff([]), '');
});

/** Edits that keep the example valid; some change the meaning, some only the spelling. */
const edit = fc.oneof(
  fc.record({
    k: fc.constant('agents'),
    site: fc.constantFrom('chongqing', 'wanzhou', 'fuling'),
    n: fc.nat(50),
  }),
  fc.record({
    k: fc.constant('trunks'),
    site: fc.constantFrom('qianjiang', 'kaizhou', 'fuling'),
    n: fc.nat(200),
  }),
  fc.record({
    k: fc.constant('city'),
    site: fc.constantFrom('wanzhou', 'kaizhou'),
    s: fc.constantFrom('X', 'Y'),
  }),
  fc.record({ k: fc.constant('reverseSites') }),
  fc.record({ k: fc.constant('reverseQueues'), site: fc.constantFrom('chongqing', 'wanzhou') }),
  fc.record({ k: fc.constant('reverseTo') }),
  fc.record({ k: fc.constant('waitMs'), v: fc.constantFrom<unknown>('60s', 60_000, '1m', '90s', 90_000) }),
  fc.record({ k: fc.constant('version'), n: fc.integer({ min: 1, max: 3 }) }),
  fc.record({
    k: fc.constant('dropCover'),
    id: fc.constantFrom('weekend-wanzhou-cards', 'wanzhou-helps-center'),
  }),
  fc.record({ k: fc.constant('coverTo'), v: fc.constantFrom('08:00', '07:30') }),
  fc.record({ k: fc.constant('backup'), v: fc.constantFrom('chongqing', 'wanzhou', undefined) }),
);
type Edit = typeof edit extends fc.Arbitrary<infer E> ? E : never;

function applyEdits(edits: Edit[]): Raw {
  const r = raw();
  for (const e of edits) {
    switch (e.k) {
      case 'agents':
        site(r, e.site).capacity.agents = e.n;
        break;
      case 'trunks':
        site(r, e.site).capacity.trunks = e.n;
        break;
      case 'city':
        site(r, e.site).city = e.s;
        break;
      case 'reverseSites':
        r.sites.reverse();
        break;
      case 'reverseQueues':
        site(r, e.site).queues.reverse();
        break;
      case 'reverseTo':
        r.overflow[0].to.reverse();
        break;
      case 'waitMs':
        r.overflow[1].when.oldestWaitOverMs = e.v;
        break;
      case 'version':
        r.version = e.n;
        break;
      case 'dropCover':
        r.cover = r.cover.filter((c: Raw) => c.id !== e.id);
        break;
      case 'coverTo':
        r.cover[0].when.to = e.v;
        break;
      case 'backup':
        if (e.v === undefined) delete site(r, 'qianjiang').backupCenter;
        else site(r, 'qianjiang').backupCenter = e.v;
        break;
    }
  }
  return r;
}

test('property: diff(a, a) is empty, and diff(a, b) is empty iff a and b compile to the same topology', () => {
  let equalSeen = 0;
  let differentSeen = 0;
  fc.assert(
    fc.property(fc.array(edit, { maxLength: 4 }), fc.array(edit, { maxLength: 4 }), (ea, eb) => {
      const a = validateTopology(applyEdits(ea));
      const b = validateTopology(applyEdits(eb));
      assert.deepEqual(diffTopology(a, a), []);
      const same = isDeepStrictEqual(a, b); // an independent notion of "the same topology"
      assert.equal(jsonEqual(a, b), same);
      const d = diffTopology(a, b);
      assert.equal(d.length === 0, same, formatDiff(d));
      assert.equal(diffTopology(b, a).length, d.length);
      if (same) equalSeen++;
      else differentSeen++;
    }),
    { numRuns: 300 },
  );
  assert.ok(equalSeen > 0 && differentSeen > 0, `equal ${equalSeen}, different ${differentSeen}`);
});
