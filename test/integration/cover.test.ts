/**
 * Agent cover turned on and off, live (docs/architecture.md §5.8): the real hub on its own
 * Postgres, real site links (chongqing, wanzhou) over mTLS, and `fedctl` as an admin runs it.
 * The hub's cover clock is a VirtualScheduler the test moves across window edges (the links
 * keep the wall clock), so an hour of schedule takes no waiting. Proves: a weekly entry
 * switching on and off at its edges, logged and pushed to the sites concerned (and again on
 * reconnect); on-demand start/stop audited, shown by status and pushed; a bad `--until`
 * refused naming it, with nothing stored; a start and a stop surviving a hub restart; a
 * topology version dropping a started on-demand entry closing its activation, audited; an
 * entry pushed as active only while its covering site is connected and not drained.
 */
import { afterEach, beforeEach, test } from 'vitest';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { pgSkip } from '../../hub/store/testing.js';
import { VirtualScheduler } from '../../shared/scheduler.js';
import {
  count,
  EXAMPLE_TOPOLOGY,
  refusalsBy,
  startTestProvince,
  type TestProvince,
} from '../support/federation.js';
import { waitFor } from '../support/wait.js';

/** Wednesday 2 December 2026, 20:59 at +08:00 (the example province's offset). */
const WED_2059 = Date.UTC(2026, 11, 2, 12, 59);
const HOUR = 3_600_000;

let p: TestProvince;
let clock: VirtualScheduler;

beforeEach(async () => {
  if (pgSkip) return;
  clock = new VirtualScheduler(WED_2059);
  p = await startTestProvince({ label: 'cover_hub', coverScheduler: clock });
  await p.addSite('chongqing');
  await p.addSite('wanzhou');
  await waitFor('both links up, each told its (empty) cover', () =>
    ['chongqing', 'wanzhou'].every((id) => {
      const l = p.sites.get(id)!.link;
      return l.state === 'up' && !l.cover.stale;
    }),
  );
});

afterEach(async () => {
  await p?.close();
});

const coverOf = (siteId: string) => p.sites.get(siteId)!.link.cover;
const ids = (siteId: string) => coverOf(siteId).activeEntryIds.join(',');
/** Whether a site was told the entry is active (the weekly nights run alongside in test 2). */
const has = (siteId: string, entryId: string) => coverOf(siteId).activeEntryIds.includes(entryId);
const logged = (msg: string) =>
  p.hubLog.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === msg);

test.skipIf(pgSkip)('a weekly entry switches on and off at its window edges, on the hub clock', async () => {
  assert.equal(ids('wanzhou'), '');
  assert.match((await p.fedctl('status')).out, /active cover: none/);

  // 21:00: the provincial center starts covering Fuling (chongqing is its covering site).
  await clock.advance(60_000);
  await waitFor('chongqing told', () => ids('chongqing') === 'night-fuling-retail');
  assert.equal(ids('wanzhou'), '', "wanzhou is neither served nor covering: not told of fuling's cover");
  const began = logged('cover started');
  assert.deepEqual(
    began.map((l) => [l.entryId, l.servedSiteId, l.coveringSiteId, l.why]),
    [['night-fuling-retail', 'fuling', 'chongqing', 'schedule']],
  );

  // 22:00: Wanzhou's night cover too.
  await clock.runUntil(WED_2059 + HOUR + 60_000);
  await waitFor('wanzhou told', () => ids('wanzhou') === 'night-wanzhou-retail');
  await waitFor('chongqing told both', () => ids('chongqing') === 'night-fuling-retail,night-wanzhou-retail');
  const st = await p.fedctl('status');
  assert.equal(st.code, 0, st.err);
  assert.match(
    st.out,
    /night-wanzhou-retail\s+wanzhou -> chongqing\s+retail\s+yes\s+2026-12-02T14:00Z\s+2026-12-03T00:00Z\s+scheduled/,
  );

  // Thursday 08:00: Wanzhou's ends (Fuling's runs to 08:30).
  await clock.runUntil(Date.UTC(2026, 11, 3, 0, 0));
  await waitFor('wanzhou told it ended', () => ids('wanzhou') === '');
  assert.equal(ids('chongqing'), 'night-fuling-retail');
  const ended = logged('cover ended');
  assert.deepEqual(
    ended.map((l) => [l.entryId, l.why]),
    [['night-wanzhou-retail', 'schedule']],
  );

  // On reconnect the site is told again: the set goes stale with the hub, fresh after hello.
  await clock.runUntil(Date.UTC(2026, 11, 3, 0, 15));
  await p.stopHub();
  await waitFor('chongqing stale', () => coverOf('chongqing').stale);
  assert.equal(ids('chongqing'), 'night-fuling-retail', 'the last set is kept while the hub is away');
  await p.startHub();
  await waitFor(
    'chongqing fresh again',
    () => !coverOf('chongqing').stale && p.sites.get('chongqing')!.link.state === 'up',
  );
  assert.equal(ids('chongqing'), 'night-fuling-retail');
});

test.skipIf(pgSkip)(
  'on-demand cover with fedctl: refused, started, shown, stopped, audited, through restarts',
  async () => {
    const audits = () =>
      p.hubDb.pool
        .query<{ actor: string; action: string; target: string }>(
          `SELECT actor, action, target FROM admin_audit WHERE action LIKE 'cover.%' ORDER BY id`,
        )
        .then((r) => r.rows.map((x) => `${x.actor} ${x.action} ${x.target}`));

    // Refused, naming what is wrong; nothing stored.
    const past = await p.fedctl(
      'cover',
      'start',
      'wanzhou-helps-center',
      '--until',
      '2026-12-02T20:00+08:00',
    );
    assert.equal(past.code, 1);
    assert.match(
      past.err,
      /invalid-argument: until: must be later than now \(got 2026-12-02T12:00:00.000Z, now 2026-12-02T12:59:00.000Z/,
    );
    const weekly = await p.fedctl('cover', 'start', 'night-wanzhou-retail');
    assert.equal(weekly.code, 1);
    assert.match(weekly.err, /cover entry "night-wanzhou-retail" is scheduled .*only on-demand entries/);
    const unknown = await p.fedctl('cover', 'start', 'nope');
    assert.match(unknown.err, /no cover entry "nope".*on-demand entries: wanzhou-helps-center/);
    assert.equal(await count(p.hubDb.pool, 'SELECT count(*) AS n FROM cover_activations'), 0);
    assert.deepEqual(await audits(), []);
    await waitFor(
      'each refusal logged with who and why',
      () => refusalsBy(p.hubLog, 'admin alice').total === 3,
    );
    assert.ok(refusalsBy(p.hubLog, 'admin alice').lines.some((l) => l.field === 'until'));

    // Started for two hours of the hub's clock.
    const s = await p.fedctl(
      'cover',
      'start',
      'wanzhou-helps-center',
      '--until',
      '+2h',
      '--comment',
      'CHG-7',
    );
    assert.equal(s.code, 0, s.err);
    assert.match(
      s.out,
      /wanzhou-helps-center active: chongqing retail served by wanzhou's agents, until 2026-12-02T14:59Z; told (chongqing, wanzhou|wanzhou, chongqing)/,
    );
    await waitFor(
      'both sites told',
      () => ids('wanzhou') === 'wanzhou-helps-center' && ids('chongqing') === 'wanzhou-helps-center',
    );
    assert.deepEqual(
      logged('cover started').map((l) => [l.entryId, l.why]),
      [['wanzhou-helps-center', 'alice']],
    );
    assert.match(
      (await p.fedctl('status')).out,
      /wanzhou-helps-center\s+chongqing -> wanzhou\s+retail\s+yes\s+2026-12-02T12:59Z\s+2026-12-02T14:59Z\s+on-demand by alice/,
    );
    const again = await p.fedctl('cover', 'start', 'wanzhou-helps-center');
    assert.equal(again.code, 1);
    assert.match(again.err, /failed-precondition: .*already active/);

    // Its until ends it on the hub's clock (the nights began meanwhile: 21:00 and 22:00 local).
    await clock.advance(2 * HOUR);
    await waitFor(
      'ended by its until',
      () => !has('wanzhou', 'wanzhou-helps-center') && !has('chongqing', 'wanzhou-helps-center'),
    );
    assert.equal(ids('wanzhou'), 'night-wanzhou-retail');
    assert.deepEqual(
      logged('cover ended').map((l) => [l.entryId, l.why]),
      [['wanzhou-helps-center', 'until']],
    );
    assert.deepEqual(
      logged('cover started').map((l) => [l.entryId, l.why]),
      [
        ['wanzhou-helps-center', 'alice'],
        ['night-fuling-retail', 'schedule'],
        ['night-wanzhou-retail', 'schedule'],
      ],
    );

    // Started until stopped: survives a hub restart (state from the table).
    assert.equal((await p.fedctl('cover', 'start', 'wanzhou-helps-center')).code, 0);
    await p.stopHub();
    await p.startHub();
    await waitFor(
      'told again after the restart',
      () => !coverOf('wanzhou').stale && has('wanzhou', 'wanzhou-helps-center'),
    );
    assert.match(
      (await p.fedctl('cover', 'list')).out,
      /wanzhou-helps-center\s+chongqing -> wanzhou\s+retail\s+yes\s+2026-12-02T14:59Z\s+stopped\s+on-demand by alice/,
    );

    // Stopped: and a stop survives a restart too.
    const stop = await p.fedctl('cover', 'stop', 'wanzhou-helps-center', '--comment', 'rush over');
    assert.equal(stop.code, 0, stop.err);
    await waitFor(
      'both told it stopped',
      () => !has('wanzhou', 'wanzhou-helps-center') && !has('chongqing', 'wanzhou-helps-center'),
    );
    assert.equal(logged('cover ended').at(-1)!.why, 'alice');
    await p.stopHub();
    await p.startHub();
    await waitFor(
      'fresh after the restart',
      () => !coverOf('wanzhou').stale && p.sites.get('wanzhou')!.link.state === 'up',
    );
    assert.equal(ids('wanzhou'), 'night-wanzhou-retail');
    assert.doesNotMatch((await p.fedctl('status')).out, /wanzhou-helps-center/);
    const notActive = await p.fedctl('cover', 'stop', 'wanzhou-helps-center');
    assert.equal(notActive.code, 1);
    assert.match(notActive.err, /is not active; nothing to stop/);

    assert.deepEqual(await audits(), [
      'alice cover.start wanzhou-helps-center',
      'alice cover.start wanzhou-helps-center',
      'alice cover.stop wanzhou-helps-center',
    ]);
    const rows = await p.hubDb.pool.query<{
      started_by: string;
      until_ms: string | null;
      stopped_by: string | null;
      stopped_at_ms: string | null;
    }>('SELECT started_by, until_ms, stopped_by, stopped_at_ms FROM cover_activations ORDER BY id');
    assert.deepEqual(
      rows.rows.map((r) => [r.started_by, r.until_ms !== null, r.stopped_by, r.stopped_at_ms !== null]),
      [
        ['alice', true, null, true], // closed by its until when started again
        ['alice', false, 'alice', true],
      ],
    );
  },
);

test.skipIf(pgSkip)(
  'a version that drops a started on-demand entry closes its activation, audited; adding it back starts nothing',
  async () => {
    const example = readFileSync(EXAMPLE_TOPOLOGY, 'utf8');
    const helps = `  - id: wanzhou-helps-center
    agentsOf: wanzhou
    serves: { site: chongqing, queues: [retail] }
    when: on-demand
`;
    assert.ok(example.includes(helps), 'the example province has the on-demand entry');
    const apply = async (version: number, text: string) => {
      const file = p.writeFile(`v${version}.yaml`, text.replace('version: 1', `version: ${version}`));
      const r = await p.fedctl('apply', file, '--comment', `cover v${version}`);
      assert.equal(r.code, 0, r.err);
    };
    assert.equal((await p.fedctl('cover', 'start', 'wanzhou-helps-center')).code, 0);
    await waitFor('wanzhou told', () => has('wanzhou', 'wanzhou-helps-center'));

    await apply(2, example.replace(helps, ''));
    await waitFor('wanzhou told it ended', () => !has('wanzhou', 'wanzhou-helps-center'));
    const closed = () =>
      p.hubDb.pool
        .query<{ stopped_by: string | null }>(
          `SELECT stopped_by FROM cover_activations WHERE entry_id = 'wanzhou-helps-center'`,
        )
        .then((r) => r.rows.map((x) => x.stopped_by));
    await waitFor('the activation closed', async () => (await closed())[0] === 'topology v2');
    const audit = await p.hubDb.pool.query<{ actor: string; action: string }>(
      `SELECT actor, action FROM admin_audit WHERE target = 'wanzhou-helps-center' ORDER BY id`,
    );
    assert.deepEqual(
      audit.rows.map((r) => `${r.actor} ${r.action}`),
      ['alice cover.start', 'topology v2 cover.stop'],
    );
    assert.deepEqual(
      logged('cover ended').map((l) => [l.entryId, l.why]),
      [['wanzhou-helps-center', 'topology v2']],
    );

    // The same id back in v3: nobody started it, so nothing covers.
    await apply(3, example);
    await waitFor('both sites run v3', () =>
      ['chongqing', 'wanzhou'].every((id) => p.hub.registry.get(id)?.topologyVersion === 3),
    );
    assert.equal(p.hub.cover.activeCoverEntryIds(clock.now()).includes('wanzhou-helps-center'), false);
    assert.doesNotMatch((await p.fedctl('status')).out, /wanzhou-helps-center/);
    assert.equal(has('wanzhou', 'wanzhou-helps-center'), false);
    assert.equal(
      await count(p.hubDb.pool, 'SELECT count(*) AS n FROM cover_activations WHERE stopped_at_ms IS NULL'),
      0,
    );
  },
);

test.skipIf(pgSkip)(
  'an entry is pushed as active only while its covering site can be routed to: drained or gone, it is not',
  async () => {
    // wanzhou's agents cover chongqing's retail; chongqing asks under it while it is pushed.
    assert.equal((await p.fedctl('cover', 'start', 'wanzhou-helps-center')).code, 0);
    await waitFor('chongqing told', () => has('chongqing', 'wanzhou-helps-center'));

    assert.equal((await p.fedctl('drain', 'wanzhou', '--comment', 'maintenance')).code, 0);
    await waitFor(
      'both told it is off while wanzhou is drained',
      () => !has('chongqing', 'wanzhou-helps-center') && !has('wanzhou', 'wanzhou-helps-center'),
    );
    // The schedule is unchanged: the entry is still started, and routing would judge it.
    assert.ok(p.hub.cover.activeCoverEntryIds(clock.now()).includes('wanzhou-helps-center'));
    assert.equal((await p.fedctl('undrain', 'wanzhou')).code, 0);
    await waitFor('chongqing told again', () => has('chongqing', 'wanzhou-helps-center'));

    await p.sites.get('wanzhou')!.link.stop(200);
    await waitFor(
      'chongqing told it is off once wanzhou is gone',
      () => !has('chongqing', 'wanzhou-helps-center'),
    );
  },
);
