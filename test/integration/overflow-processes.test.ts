/**
 * Overflow between real processes (docs/architecture.md §5.9): the hub and two site processes
 * (`site-node/main.ts --simulate`) on their own databases, each site behind its own toxiproxy
 * proxy (test/support/province.ts), running the example province's topology as deployed. Wanzhou
 * gets more callers than its eight simulated agents can take, Chongqing few, so the policy
 * `wanzhou-busy` (more than 5 waiting) moves Wanzhou's callers to Chongqing, the simulated
 * caller travelling in the request. Proves, on what the processes wrote: a moved call ends
 * `overflowed` at Wanzhou naming Chongqing and a token; Chongqing has exactly one record of it,
 * `overflow-in` from Wanzhou under that token; when that record ends, the hub has one fact for
 * the pair, at Chongqing, and none for Wanzhou's end. The precise cases (refusals, a cut
 * between accept and commit, latency, drain, cover) are overflow.test.ts, on the same code in
 * one process, where a test can say which agent is ready.
 */
import { afterAll, beforeAll, test } from 'vitest';
import assert from 'node:assert/strict';
import { pgSkip } from '../../hub/store/testing.js';
import { PROVINCE_POLL_MS, startProvince, type Province } from '../support/province.js';
import { waitFor } from '../support/wait.js';

const skip = pgSkip || !process.env.TOXIPROXY_URL;
let p: Province;

beforeAll(async () => {
  if (skip) return;
  p = await startProvince({
    label: 'ovf_proc',
    sites: [
      { id: 'wanzhou', events: 'link', rate: 1_200 },
      { id: 'chongqing', events: 'link', rate: 60 },
    ],
    heartbeatIntervalMs: 200,
  });
}, 180_000);

afterAll(async () => {
  await p?.stop();
});

interface Moved {
  call_id: string;
  token: string;
}

test.skipIf(skip)(
  "a busy site's callers are moved to a site with agents: one record at each end, linked by the token; the hub counts the call once",
  async () => {
    const wz = p.sitePool('wanzhou');
    const cq = p.sitePool('chongqing');
    const moved = await waitFor(
      'a call of wanzhou ended overflowed',
      async () =>
        (
          await wz.query<Moved & { to: string }>(
            `SELECT call_id, overflow_out ->> 'token' AS token, overflow_out ->> 'toSiteId' AS "to"
               FROM cdrs WHERE outcome = 'overflowed' ORDER BY ended_at LIMIT 1`,
          )
        ).rows[0],
      120_000,
      PROVINCE_POLL_MS,
    ).catch((e: unknown) => {
      throw new Error(`${(e as Error).message}\n${p.logTail(30)}`);
    });
    assert.equal(moved.to, 'chongqing');
    const at = await cq.query<{ id: string; state: string; origin: string; origin_call: string }>(
      `SELECT id, state, overflow_in ->> 'originSiteId' AS origin, overflow_in ->> 'originCallId' AS origin_call
         FROM calls WHERE overflow_in ->> 'token' = $1`,
      [moved.token],
    );
    assert.equal(at.rows.length, 1, 'admitted once at chongqing');
    const target = at.rows[0]!;
    assert.equal(target.origin, 'wanzhou');
    assert.equal(target.origin_call, moved.call_id);
    // Every move wanzhou made so far has exactly one record at chongqing under its token.
    const all = await wz.query<Moved>(
      `SELECT call_id, overflow_out ->> 'token' AS token FROM cdrs WHERE outcome = 'overflowed'`,
    );
    const tokens = await cq.query<{ token: string; n: string }>(
      `SELECT overflow_in ->> 'token' AS token, count(*) AS n FROM calls
        WHERE overflow_in ->> 'token' = ANY($1) GROUP BY 1`,
      [all.rows.map((r) => r.token)],
    );
    assert.equal(tokens.rows.length, all.rows.length, 'each move has its record at the target');
    assert.ok(
      tokens.rows.every((r) => r.n === '1'),
      'and only one',
    );
    // The hub: one fact, at chongqing, once the moved call has ended there; none for wanzhou's end.
    const fact = await waitFor(
      'the hub to count the moved call where it ended',
      async () =>
        (
          await p.hubPool.query<{ site_id: string }>(`SELECT site_id FROM call_facts WHERE call_id = $1`, [
            target.id,
          ])
        ).rows[0],
      120_000,
      PROVINCE_POLL_MS,
    );
    assert.equal(fact.site_id, 'chongqing');
    const originFacts = await p.hubPool.query(`SELECT 1 FROM call_facts WHERE call_id = $1`, [moved.call_id]);
    assert.equal(originFacts.rows.length, 0, "no fact of the origin's overflowed end");
  },
  300_000,
);
