import { test } from 'vitest';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isDomainError } from '../errors.js';
import { coverOverlap, loadTopology, validateTopology } from './validate.js';
import { isHostPort, type CoverInput, type TopologyInput, type Weekday } from './schema.js';

const EXAMPLE = fileURLToPath(new URL('../../deploy/examples/province.yaml', import.meta.url));
export const exampleText = (): string => readFileSync(EXAMPLE, 'utf8');

/** A small valid province to break in each test. */
function base(): TopologyInput {
  return {
    province: 'test',
    hubSite: 'center',
    sites: [
      {
        id: 'center',
        kind: 'full',
        city: 'C',
        endpoints: { cti: 'center.local:7443', sip: '10.0.0.1:5060' },
        capacity: { trunks: 60, agents: 8, ivrPorts: 30 },
        queues: ['retail', 'vip'],
      },
      {
        id: 'city-a',
        kind: 'full',
        city: 'A',
        endpoints: { cti: 'a.local:7443', sip: '10.0.1.1:5060' },
        capacity: { trunks: 30, agents: 4, ivrPorts: 10 },
        queues: ['retail'],
      },
      {
        id: 'gw-b',
        kind: 'access',
        city: 'B',
        endpoints: { sip: '10.0.2.1:5060' },
        capacity: { trunks: 10 },
        center: 'city-a',
        backupCenter: 'center',
      },
    ],
    overflow: [
      { id: 'a-busy', from: 'city-a', queues: ['retail'], to: ['center'], when: { waitingOver: 3 } },
    ],
    cover: [],
  };
}

/** The problem lines of the invalid-argument error `fn` throws. */
function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    assert.ok(isDomainError(e, 'invalid-argument'), `expected invalid-argument, got ${String(e)}`);
    const lines = e.message.split('\n');
    return lines.length === 1 ? lines : lines.slice(1).map((l) => l.replace(/^\s*- /, ''));
  }
  assert.fail('expected the topology to be refused');
}

const night = (
  id: string,
  days: string[],
  from: string,
  to: string,
  extra: Partial<CoverInput> = {},
): CoverInput => ({
  id,
  agentsOf: 'center',
  serves: { site: 'city-a', queues: ['retail'] },
  when: { days: days as Weekday[], from, to },
  ...extra,
});

test('the example province validates and compiles', () => {
  const t = loadTopology(exampleText());
  assert.equal(t.hubSite, 'chongqing');
  assert.deepEqual(
    t.sites.map((s) => `${s.id}:${s.kind}`),
    ['chongqing:full', 'fuling:full', 'kaizhou:access', 'qianjiang:access', 'wanzhou:full'],
  );
  const wz = t.overflow.find((p) => p.id === 'wanzhou-busy')!;
  assert.deepEqual(wz.when, {
    waitingOver: 5,
    oldestWaitOverMs: 60_000,
    serviceLevelBelow: 0.8,
    noAgentsLoggedIn: false,
    afterHours: false,
  });
  assert.deepEqual(wz.to, ['chongqing', 'fuling']); // preference order kept
  assert.deepEqual(wz.excludePriorities, [10]); // VIP stays home by default
  const fl = t.overflow.find((p) => p.id === 'fuling-busy')!;
  assert.equal(fl.when.serviceLevelBelow, null);
  assert.equal(fl.when.noAgentsLoggedIn, true);
  assert.deepEqual(t.overflow.find((p) => p.id === 'center-vip-busy')!.excludePriorities, []);
  assert.equal(fl.maxHops, 1);
  const c = t.cover.find((x) => x.id === 'night-wanzhou-retail')!;
  assert.deepEqual(c.when, {
    kind: 'weekly',
    days: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'],
    from: '22:00',
    to: '08:00',
    utcOffsetMinutes: 480,
  });
  assert.deepEqual(t.cover.find((x) => x.id === 'wanzhou-helps-center')!.when, { kind: 'on-demand' });
  // An entry's calls rank below the covering site's own unless it says otherwise (issue 11).
  assert.equal(c.rank, 'below-own');
  assert.equal(t.cover.find((x) => x.id === 'wanzhou-helps-center')!.rank, 'by-wait');
  const sipTransports = t.sites.map((s) => s.kind === 'full' && `${s.id}:${s.endpoints.sipTransport}`);
  assert.deepEqual(sipTransports.filter(Boolean), ['chongqing:udp', 'fuling:tcp', 'wanzhou:udp']);
  const qj = t.sites.find((s) => s.id === 'qianjiang')!;
  assert.ok(qj.kind === 'access' && qj.capacity.ivrPorts === 8 && qj.backupCenter === 'chongqing');
});

test('the small base file validates; defaults are filled', () => {
  const t = validateTopology(base());
  assert.equal(t.version, null);
  assert.equal(t.utcOffsetMinutes, 0);
  const gw = t.sites.find((s) => s.id === 'gw-b')!;
  assert.ok(gw.kind === 'access');
  assert.equal(gw.capacity.ivrPorts, 0);
});

test("a full site's SIP transport: udp unless it says tcp; anything else is named by its path", () => {
  const t = base();
  const compiled = (x: TopologyInput) =>
    validateTopology(x).sites.map((s) => (s.kind === 'full' ? s.endpoints.sipTransport : s.kind));
  assert.deepEqual(compiled(t), ['udp', 'udp', 'access']);
  (t.sites[1]!.endpoints as Record<string, string>).sipTransport = 'tcp';
  (t.sites[0]!.endpoints as Record<string, string>).sipTransport = 'udp';
  assert.deepEqual(compiled(t), ['udp', 'tcp', 'access']);
  for (const bad of ['TCP', 'tls', 'sctp', '', 5060]) {
    const b = base();
    (b.sites[1]!.endpoints as Record<string, unknown>).sipTransport = bad;
    assert.deepEqual(
      problemsOf(() => validateTopology(b)),
      ['sites[1].endpoints.sipTransport: must be one of udp, tcp'],
      String(bad),
    );
  }
  // An access gateway's voice arrives on a trunk: no site hands it callers, it has no transport.
  const gw = base();
  (gw.sites[2]!.endpoints as Record<string, string>).sipTransport = 'tcp';
  const p = problemsOf(() => validateTopology(gw));
  assert.equal(p.length, 1, p.join('\n'));
  assert.match(p[0]!, /^sites\[2\]\.endpoints: .*sipTransport/);
});

test('an overflow policy keeps VIP home unless it says otherwise; its priorities are sorted', () => {
  const t = base();
  assert.deepEqual(validateTopology(t).overflow[0]!.excludePriorities, [10]);
  t.overflow![0]!.excludePriorities = [9, 0, 10];
  assert.deepEqual(validateTopology(t).overflow[0]!.excludePriorities, [0, 9, 10]);
  t.overflow![0]!.excludePriorities = [];
  assert.deepEqual(validateTopology(t).overflow[0]!.excludePriorities, []);
});

test('noAgentsLoggedIn and afterHours are triggers of their own; false or absent is off', () => {
  const t = base();
  t.overflow![0]!.when = { afterHours: true };
  const p = validateTopology(t).overflow[0]!;
  assert.deepEqual(p.when, {
    waitingOver: null,
    oldestWaitOverMs: null,
    serviceLevelBelow: null,
    noAgentsLoggedIn: false,
    afterHours: true,
  });
  t.overflow![0]!.when = { noAgentsLoggedIn: true };
  assert.equal(validateTopology(t).overflow[0]!.when.noAgentsLoggedIn, true);
  // Both off is no trigger at all.
  t.overflow![0]!.when = { noAgentsLoggedIn: false, afterHours: false };
  assert.ok(problemsOf(() => validateTopology(t))[0]!.startsWith('overflow[0].when: set at least one of'));
});

test('bad excluded priorities are named', () => {
  for (const [bad, message] of [
    [[10, 10], 'overflow[0].excludePriorities: lists a priority twice'],
    [[101], 'overflow[0].excludePriorities[0]:'],
    [[1.5], 'overflow[0].excludePriorities[0]:'],
    ['vip', 'overflow[0].excludePriorities:'],
  ] as const) {
    const t = base();
    (t.overflow![0] as Record<string, unknown>).excludePriorities = bad;
    const p = problemsOf(() => validateTopology(t));
    assert.equal(p.length, 1, p.join('\n'));
    assert.ok(p[0]!.startsWith(message), p[0]);
  }
  const t = base();
  (t.overflow![0]!.when as Record<string, unknown>).afterHours = 'yes';
  assert.ok(problemsOf(() => validateTopology(t))[0]!.startsWith('overflow[0].when.afterHours:'));
});

test('a file with three different problems reports all three, each with its path', () => {
  const t = base();
  t.sites.push({ ...t.sites[1]!, city: 'dup' } as never); // duplicate id
  (t.sites[2] as { backupCenter?: string }).backupCenter = 'nowhere'; // dangling
  t.overflow![0]!.to = ['city-a']; // to itself
  const p = problemsOf(() => validateTopology(t));
  assert.equal(p.length, 3, p.join('\n'));
  assert.ok(p.some((l) => l.startsWith('sites[3].id: duplicate site id "city-a"')));
  assert.ok(p.some((l) => l.startsWith('sites[2].backupCenter: unknown site "nowhere"')));
  assert.ok(p.some((l) => l.startsWith('overflow[0].to[0]: overflow from "city-a" to itself')));
});

test('schema problems and cross-reference problems are reported together', () => {
  const t = base() as unknown as Record<string, unknown>;
  const sites = t.sites as Array<Record<string, unknown>>;
  (sites[0]!.endpoints as Record<string, string>).sip = '10.0.0.1'; // no port
  sites[1]!.capacity = { trunks: -1, agents: 4, ivrPorts: 10 };
  t.colour = 'blue';
  t.overflow = [{ id: 'x', from: 'ghost', queues: ['retail'], to: ['center'], when: {} }];
  const p = problemsOf(() => validateTopology(t));
  for (const prefix of [
    'sites[0].endpoints.sip: must be host:port',
    'sites[1].capacity.trunks:',
    'colour: unknown field',
    'overflow[0].when: set at least one of',
  ]) {
    assert.ok(
      p.some((l) => l.startsWith(prefix)),
      `missing ${prefix} in\n${p.join('\n')}`,
    );
  }
});

test('each kind of bad reference is refused with its path', () => {
  const cases: Array<[string, (t: TopologyInput) => void, string]> = [
    ['hub site unknown', (t) => (t.hubSite = 'ghost'), 'hubSite: unknown site "ghost"'],
    ['hub site is access', (t) => (t.hubSite = 'gw-b'), 'hubSite: "gw-b" is an access gateway'],
    [
      'center unknown',
      (t) => ((t.sites[2] as { center: string }).center = 'ghost'),
      'sites[2].center: unknown site',
    ],
    [
      'center is access',
      (t) => {
        t.sites.push({ ...t.sites[2]!, id: 'gw-c' } as never);
        (t.sites[2] as { center: string }).center = 'gw-c';
      },
      'sites[2].center: "gw-c" is an access gateway; a center must be a full site',
    ],
    [
      'center equals backup',
      (t) => ((t.sites[2] as { center: string }).center = 'center'),
      'sites[2].backupCenter: same as center "center"',
    ],
    [
      'no center at all',
      (t) => {
        delete (t.sites[2] as { center?: string }).center;
        delete (t.sites[2] as { backupCenter?: string }).backupCenter;
      },
      'sites[2]: access gateway "gw-b" has no reachable center',
    ],
    [
      'center and backup both unreachable',
      (t) => Object.assign(t.sites[2]!, { center: 'ghost', backupCenter: 'gw-b' }),
      'sites[2]: access gateway "gw-b" has no reachable center',
    ],
    [
      'overflow from unknown',
      (t) => (t.overflow![0]!.from = 'ghost'),
      'overflow[0].from: unknown site "ghost"',
    ],
    [
      'overflow to unknown',
      (t) => (t.overflow![0]!.to = ['ghost']),
      'overflow[0].to[0]: unknown site "ghost"',
    ],
    [
      'overflow of a queue the origin lacks',
      (t) => (t.overflow![0]!.queues = ['fx']),
      'overflow[0].queues[0]: site "city-a" does not offer queue "fx"',
    ],
    [
      'overflow to a site without the queue',
      (t) => Object.assign(t.overflow![0]!, { from: 'center', queues: ['vip'], to: ['city-a'] }),
      'overflow[0].to[0]: target "city-a" does not offer queue "vip"',
    ],
    ['overflow maxHops 2', (t) => (t.overflow![0]!.maxHops = 2 as 1), 'overflow[0].maxHops: must be 1'],
    [
      'cover naming an unknown queue',
      (t) =>
        (t.cover = [
          { ...night('n', ['mon'], '22:00', '06:00'), serves: { site: 'city-a', queues: ['vip'] } },
        ]),
      'cover[0].serves.queues[0]: site "city-a" does not offer queue "vip"',
    ],
    [
      'cover naming an unknown site',
      (t) => (t.cover = [{ ...night('n', ['mon'], '22:00', '06:00'), agentsOf: 'ghost' }]),
      'cover[0].agentsOf: unknown site "ghost"',
    ],
    [
      'cover of itself',
      (t) => (t.cover = [{ ...night('n', ['mon'], '22:00', '06:00'), agentsOf: 'city-a' }]),
      'cover[0].serves.site: "city-a" cannot cover its own queues',
    ],
    [
      'empty cover window',
      (t) => (t.cover = [night('n', ['mon'], '06:00', '06:00')]),
      'cover[0].when: empty window',
    ],
    [
      'bad time',
      (t) => (t.cover = [night('n', ['mon'], '25:00', '06:00')]),
      'cover[0].when.from: must be HH:MM',
    ],
    [
      'unknown cover rank',
      (t) => (t.cover = [{ ...night('n', ['mon'], '22:00', '06:00'), rank: 'first' as 'by-wait' }]),
      'cover[0].rank: must be one of below-own, by-wait',
    ],
    ['bad site id', (t) => (t.sites[1]!.id = 'City_A'), 'sites[1].id: must match'],
    [
      'duplicate queue',
      (t) => ((t.sites[1] as { queues: string[] }).queues = ['retail', 'retail']),
      'sites[1].queues[1]: duplicate queue',
    ],
  ];
  for (const [name, breakIt, expected] of cases) {
    const t = base();
    breakIt(t);
    const p = problemsOf(() => validateTopology(t));
    assert.ok(
      p.some((l) => l.startsWith(expected)),
      `${name}: expected "${expected}" in\n${p.join('\n')}`,
    );
  }
});

test('YAML syntax errors and non-mappings are invalid-argument', () => {
  assert.match(problemsOf(() => loadTopology('sites: [a'))[0]!, /not valid YAML/);
  assert.match(problemsOf(() => loadTopology('- 1'))[0]!, /mapping/);
});

test('endpoints must be host:port', () => {
  for (const ok of ['10.0.0.1:5060', 'cq.bank.internal:7443', 'localhost:1', '[::1]:5060', 'a-b.c:65535']) {
    assert.ok(isHostPort(ok), ok);
  }
  for (const bad of [
    '10.0.0.1',
    ':5060',
    'host:0',
    'host:65536',
    'host:abc',
    '300.1.1.1:5060',
    'a b:1',
    '::1:5060',
    '-x:1',
  ]) {
    assert.ok(!isHostPort(bad), bad);
  }
});

test('overlapping cover is refused, including windows that cross midnight', () => {
  const overlapping: Array<[ReturnType<typeof night>, ReturnType<typeof night>]> = [
    [night('a', ['mon'], '20:00', '23:00'), night('b', ['mon'], '22:00', '23:30')],
    // Monday's night window runs into Tuesday morning.
    [night('a', ['mon'], '22:00', '06:00'), night('b', ['tue'], '05:00', '07:00')],
    // Saturday's night window runs into Sunday.
    [night('a', ['sat'], '23:00', '01:00'), night('b', ['sun'], '00:00', '00:30')],
    // 08:00-10:00 at UTC+8 is 00:00-02:00 UTC; 01:00-03:00 at UTC+0 meets it.
    [
      night('a', ['mon'], '08:00', '10:00'),
      {
        ...night('b', ['mon'], '01:00', '03:00'),
        when: { days: ['mon'], from: '01:00', to: '03:00', utcOffsetMinutes: 0 },
      },
    ],
  ];
  for (const [a, b] of overlapping) {
    const t = base();
    t.utcOffsetMinutes = 480;
    t.cover = [a, b] as never;
    const p = problemsOf(() => validateTopology(t));
    assert.equal(p.length, 1, p.join('\n'));
    assert.match(p[0]!, /^cover\[1\]\.when: overlaps cover\[0\] \("a"\)/);
  }
});

test('adjacent, disjoint or differently scoped cover windows are accepted', () => {
  const fine: Array<Array<ReturnType<typeof night>>> = [
    [night('a', ['mon'], '22:00', '06:00'), night('b', ['tue'], '06:00', '08:00')],
    [night('a', ['mon'], '08:00', '12:00'), night('b', ['mon'], '12:00', '24:00')],
    [night('a', ['sat'], '22:00', '24:00'), night('b', ['sun'], '00:00', '06:00')],
    [night('a', ['mon', 'wed'], '22:00', '06:00'), night('b', ['tue'], '06:00', '22:00')],
    // Same time, different queues of the site.
    [
      {
        ...night('a', ['mon'], '22:00', '06:00'),
        serves: { site: 'center', queues: ['vip'] },
        agentsOf: 'city-a',
      },
      {
        ...night('b', ['mon'], '22:00', '06:00'),
        serves: { site: 'center', queues: ['retail'] },
        agentsOf: 'city-a',
      },
    ],
    // On demand never conflicts with a schedule.
    [
      night('a', ['mon'], '22:00', '06:00'),
      { ...night('b', ['mon'], '00:00', '24:00'), when: 'on-demand' as never },
    ],
  ];
  for (const covers of fine) {
    const t = base();
    t.cover = covers as never;
    assert.doesNotThrow(() => validateTopology(t), JSON.stringify(covers));
  }
});

test('coverOverlap works on the UTC week', () => {
  const w = (days: Array<'sun' | 'mon' | 'tue' | 'sat'>, from: string, to: string, utcOffsetMinutes = 480) =>
    ({ kind: 'weekly', days, from, to, utcOffsetMinutes }) as const;
  assert.equal(coverOverlap(w(['sat'], '22:00', '02:00'), w(['sun'], '01:00', '03:00')), 'sat');
  assert.equal(coverOverlap(w(['sat'], '22:00', '02:00'), w(['sun'], '02:00', '03:00')), null);
  assert.equal(coverOverlap(w(['mon'], '00:00', '24:00'), w(['tue'], '00:00', '00:01')), null);
  // 07:00-09:00 at UTC+8 is 23:00-01:00 UTC Sunday night; 00:00-00:30 UTC Monday at offset 0.
  assert.equal(coverOverlap(w(['mon'], '07:00', '09:00'), w(['mon'], '00:00', '00:30', 0)), 'mon');
});
