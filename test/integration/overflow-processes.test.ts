/**
 * Overflow between real processes (docs/architecture.md §5.9): the hub and two site processes
 * (`site-node/main.ts --simulate`) on their own databases, each site behind its own toxiproxy
 * proxy (test/support/province.ts), running the example province's topology with one policy
 * more, `chongqing-busy`, the mirror of `wanzhou-busy` asking from 2 callers waiting, so a
 * restarted Chongqing fills up soon (applied with fedctl as version 2). Each
 * site is the origin once and the target once: first Wanzhou gets more callers than its eight
 * simulated agents can take and Chongqing few, so Wanzhou's callers move to Chongqing; then
 * both sites restart with the loads swapped, and Chongqing's callers move to Wanzhou. The
 * simulated caller travels in the request. Proves, each way, on what the processes wrote: a
 * moved call ends `overflowed` at the origin naming the target and a token; the target has
 * exactly one record of it, `overflow-in` from the origin under that token; once the hub has
 * both ends of the move (the target's end counted, the origin's `call.ended` ingested), it has
 * one fact for the pair, at the target, and none for the origin's end. The precise cases
 * (refusals, a cut between accept and commit, latency, drain, cover) are overflow.test.ts, on
 * the same code in one process, where a test can say which agent is ready.
 */
import { afterAll, beforeAll, test } from 'vitest';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { PROVINCE_TOPOLOGY } from '../../deploy/demo/layout.js';
import { pgSkip } from '../../hub/store/testing.js';
import { PROVINCE_POLL_MS, startProvince, type Province } from '../support/province.js';
import { waitFor } from '../support/wait.js';

const skip = pgSkip || !process.env.TOXIPROXY_URL;
/** Simulated calls per hour: more than a site's eight agents take, and few. */
const BUSY = 1_200;
const QUIET = 60;
let p: Province;

/** The example province, version 2: Chongqing's retail and card callers may go to Wanzhou too. */
function bothWays(): string {
  const doc = parseYaml(readFileSync(PROVINCE_TOPOLOGY, 'utf8')) as {
    version: number;
    overflow: Array<Record<string, unknown>>;
  };
  doc.version = 2;
  doc.overflow.push({
    id: 'chongqing-busy',
    from: 'chongqing',
    queues: ['retail', 'credit-card'],
    to: ['wanzhou'],
    when: { waitingOver: 2 },
  });
  return p.writeFile('province-both-ways.yaml', toYaml(doc));
}

beforeAll(async () => {
  if (skip) return;
  p = await startProvince({
    label: 'ovf_proc',
    sites: [
      { id: 'wanzhou', events: 'link', rate: BUSY },
      { id: 'chongqing', events: 'link', rate: QUIET },
    ],
    heartbeatIntervalMs: 200,
  });
  const applied = await p.fedctl('apply', bothWays());
  assert.equal(applied.code, 0, applied.err);
  for (const id of p.siteIds) {
    await waitFor(
      `${id} running version 2`,
      async () =>
        (await p.sitePool(id).query<{ v: number }>(`SELECT topology_version::int AS v FROM hub_link`)).rows[0]
          ?.v === 2,
      30_000,
      PROVINCE_POLL_MS,
    );
  }
}, 180_000);

afterAll(async () => {
  await p?.stop();
});

interface Moved {
  call_id: string;
  token: string;
}

/** A call of `from` moved to `to`: one record at each end, linked by the token; the hub counts it once. */
async function proveMove(from: string, to: string): Promise<void> {
  const origin = p.sitePool(from);
  const target = p.sitePool(to);
  const moved = await waitFor(
    `a call of ${from} ended overflowed`,
    async () =>
      (
        await origin.query<Moved & { to: string }>(
          `SELECT call_id, overflow_out ->> 'token' AS token, overflow_out ->> 'toSiteId' AS "to"
             FROM cdrs WHERE outcome = 'overflowed' ORDER BY ended_at LIMIT 1`,
        )
      ).rows[0],
    120_000,
    PROVINCE_POLL_MS,
  ).catch((e: unknown) => {
    throw new Error(`${(e as Error).message}\n${p.logTail(30)}`);
  });
  assert.equal(moved.to, to);
  // The target stored the call before it acked the move, so before the origin ended it.
  const stored = (
    await target.query<{ id: string }>(`SELECT id FROM calls WHERE overflow_in ->> 'token' = $1`, [
      moved.token,
    ])
  ).rows[0];
  assert.ok(stored, `${to} has the moved call's record`);

  // Both ends of the move at the hub: the target's end counted (the moved call ended there),
  // the origin's end ingested. Only then does "no fact of the origin's end" mean anything.
  await waitFor(
    `the hub to count the moved call at ${to} and to ingest ${from}'s end of it`,
    async () => {
      const r = await p.hubPool.query<{ counted: boolean; ingested: boolean }>(
        `SELECT EXISTS (SELECT 1 FROM call_facts WHERE call_id = $1) AS counted,
                EXISTS (SELECT 1 FROM ingested_events
                         WHERE site_id = $2 AND type = 'call.ended' AND aggregate_id = $3) AS ingested`,
        [stored.id, from, moved.call_id],
      );
      return r.rows[0]!.counted && r.rows[0]!.ingested;
    },
    120_000,
    PROVINCE_POLL_MS,
  );
  const at = await target.query<{ id: string; origin: string; origin_call: string }>(
    `SELECT id, overflow_in ->> 'originSiteId' AS origin, overflow_in ->> 'originCallId' AS origin_call
       FROM calls WHERE overflow_in ->> 'token' = $1`,
    [moved.token],
  );
  assert.deepEqual(
    at.rows,
    [{ id: stored.id, origin: from, origin_call: moved.call_id }],
    `admitted once at ${to}`,
  );
  // Every move the origin made so far (each acked by the target) has exactly one record there.
  const all = await origin.query<Moved>(
    `SELECT call_id, overflow_out ->> 'token' AS token FROM cdrs WHERE outcome = 'overflowed'`,
  );
  const tokens = await target.query<{ token: string; n: string }>(
    `SELECT overflow_in ->> 'token' AS token, count(*) AS n FROM calls
      WHERE overflow_in ->> 'token' = ANY($1) GROUP BY 1`,
    [all.rows.map((r) => r.token)],
  );
  assert.equal(tokens.rows.length, all.rows.length, 'each move has its record at the target');
  assert.ok(
    tokens.rows.every((r) => r.n === '1'),
    'and only one',
  );
  const facts = await p.hubPool.query<{ call_id: string; site_id: string }>(
    `SELECT call_id, site_id FROM call_facts WHERE call_id = ANY($1) ORDER BY call_id`,
    [[stored.id, moved.call_id]],
  );
  assert.deepEqual(
    facts.rows,
    [{ call_id: stored.id, site_id: to }],
    `one fact, at ${to}; none for ${from}'s overflowed end`,
  );
}

test.skipIf(skip)(
  'wanzhou busy: its callers are moved to chongqing, one record at each end, linked by the token; the hub counts each once',
  async () => {
    await proveMove('wanzhou', 'chongqing');
  },
  300_000,
);

test.skipIf(skip)(
  'the loads swapped: chongqing busy, its callers are moved to wanzhou, one record at each end; the hub counts each once',
  async () => {
    // Both restarted on their databases, wanzhou quiet and chongqing busy.
    await Promise.all(p.siteIds.map((id) => p.stopSite(id)));
    await p.startSite('wanzhou', { rate: QUIET });
    await p.startSite('chongqing', { rate: BUSY });
    await proveMove('chongqing', 'wanzhou');
  },
  300_000,
);
