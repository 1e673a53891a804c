/**
 * The invariants every chaos scenario must keep (docs/operations.md, "Chaos suite"), each a
 * check that returns pass/fail with the numbers behind it, never throws on a violation:
 *
 *   callsTerminal   every call the traffic placed has exactly one terminal record (the call
 *                   ended, one CDR); a refused call its `call.refused` event
 *   eventsAtHub     the events at the hub equal the sites' outboxes, none twice
 *   noAgentStuck    no agent stays on a call, and none is left logged in once its site stopped
 *   statsMatch      each site's live tally equals its recomputation from its stored events,
 *                   and the hub's call facts (what province statistics are computed from)
 *                   equal the ones the sites' `call.ended` events give
 *   toldRecorded    every caller told "recorded" (a ticket reference, a callback booked) has
 *                   the record
 *   answeredOnce, movesLanded, countedOnce
 *                   calls moved between sites: none answered at two sites, none lost on the
 *                   way, each counted once by the hub (moves.ts, the pure rules)
 *
 * What a kill -9 cannot keep is said, not hidden: a call placed by a process killed before its
 * first write committed has no record at all. Writes are queued in order (runtime/
 * durable-writes.ts), so such calls are the tail of that run's placements; they are counted as
 * `lostInKill` and any other call without a record fails the check. One exception to the
 * order: a call refused because its first row did not commit in time (`store.firstRowWait`)
 * has its `call.refused` event in a later batch (runtime/refusal-log.ts), behind calls placed
 * after it, so in a killed run such a call (its id in the site's refusal line) may be lost
 * out of order; it is counted as `lostInKill` too. A call whose move to another site was
 * committed but not yet answered when its site stopped is left open for the next start to
 * settle (docs/architecture.md §5.9); it is counted as `inTransitAtStop`, not as never ended.
 */
import { get } from 'node:http';
import type { EventEnvelope } from '../../shared/events/envelope.js';
import { callFactOf } from '../../hub/ingest/pg-ingest.js';
import { loadSiteConfig } from '../../site-node/config.js';
import { readStatsEvents } from '../../site-node/store/stats-events.js';
import { STATS_EVENT_TYPES, rebuildSinceMs, rebuildStats } from '../../site-node/runtime/stats-rebuild.js';
import { dayStartMs } from '../../site-node/runtime/tally.js';
import type { Province } from '../support/province.js';
import { PROVINCE_POLL_MS } from '../support/province.js';
import { waitFor } from '../support/wait.js';
import type { Observer } from './observe.js';
import { checkMoves, type CallRecord, type MovesVerdict } from './moves.js';

export interface Check {
  pass: boolean;
  detail: string;
}

const few = (xs: readonly string[], n = 5): string =>
  xs.length <= n ? xs.join(', ') : `${xs.slice(0, n).join(', ')} … (+${xs.length - n})`;

const verdict = (problems: string[], facts: string[]): Check => ({
  pass: problems.length === 0,
  detail: [...problems.map((x) => `FAIL ${x}`), ...facts].join('; '),
});

/** Every call placed has exactly one terminal record; every call recorded was placed. */
export async function callsTerminal(p: Province, obs: Observer): Promise<Check> {
  const problems: string[] = [];
  const facts: string[] = [];
  for (const id of p.siteIds) {
    const pool = p.sitePool(id);
    const rows = (
      await pool.query<{ id: string; dnis: string; ended: boolean; cdrs: string; moved_in: boolean }>(
        `SELECT c.id, c.dnis, c.ended_at IS NOT NULL AS ended,
                (SELECT count(*) FROM cdrs d WHERE d.call_id = c.id) AS cdrs,
                c.overflow_in IS NOT NULL AS moved_in
           FROM calls c`,
      )
    ).rows;
    const byId = new Map(rows.map((r) => [r.id, r]));
    // A call given an id and then refused (its first row not committed while the store was
    // away) has its `call.refused` event under that id: that event is its terminal record.
    const refusedIds = new Set(
      (
        await pool.query<{ id: string }>(`SELECT aggregate_id AS id FROM outbox WHERE type = 'call.refused'`)
      ).rows.map((r) => r.id),
    );
    const runs = obs.runs.get(id) ?? [];
    const placed = new Set<string>();
    let refusedPlaced = 0;
    let lostInKill = 0;
    const unrecorded: string[] = [];
    for (const run of runs) {
      const refusedWithId = run.placed.filter((c) => c !== '' && !byId.has(c) && refusedIds.has(c));
      const ids = run.placed.filter((c) => c !== '' && !refusedWithId.includes(c));
      refusedPlaced += run.placed.length - ids.length;
      ids.forEach((c) => placed.add(c));
      // Writes commit in order: after a kill only a tail of the run can be without a record.
      let lastRecorded = -1;
      ids.forEach((c, i) => (byId.has(c) ? (lastRecorded = i) : undefined));
      ids.forEach((c, i) => {
        if (byId.has(c)) return;
        if (run.killed && (i > lastRecorded || run.refusedWithId.has(c))) lostInKill++;
        else unrecorded.push(c);
      });
    }
    // A call whose move was committed (recorded before the commit went out) and not yet answered
    // by its target when its site stopped is left open on purpose: the next start resends the
    // commit and ends it `overflowed` or sends it home (docs/architecture.md §5.9). Not lost,
    // not ended; counted and said.
    const committed = new Set(
      (await pool.query<{ id: string }>(`SELECT DISTINCT call_id AS id FROM overflow_commits`)).rows.map(
        (r) => r.id,
      ),
    );
    const inTransitAtStop = rows.filter((r) => !r.ended && committed.has(r.id)).map((r) => r.id);
    const open = new Set(inTransitAtStop);
    const notEnded = rows.filter((r) => !r.ended && !open.has(r.id)).map((r) => r.id);
    const notOneCdr = rows
      .filter((r) => Number(r.cdrs) !== 1 && !open.has(r.id))
      .map((r) => `${r.id} (${r.cdrs} CDRs)`);
    // A call moved in from another site (docs/architecture.md §5.9) was placed there, where its
    // record ends `overflowed`.
    const neverPlaced = rows
      .filter((r) => r.dnis !== 'callback' && !r.moved_in && !placed.has(r.id))
      .map((r) => r.id);
    const refusedEvents = Number(
      (await pool.query<{ n: string }>(`SELECT count(*) AS n FROM outbox WHERE type = 'call.refused'`))
        .rows[0]!.n,
    );
    const killedRuns = runs.filter((r) => r.killed).length;
    if (unrecorded.length > 0)
      problems.push(`${id}: ${unrecorded.length} placed calls have no record: ${few(unrecorded)}`);
    if (notEnded.length > 0) problems.push(`${id}: ${notEnded.length} calls never ended: ${few(notEnded)}`);
    if (notOneCdr.length > 0)
      problems.push(`${id}: ${notOneCdr.length} calls without exactly one CDR: ${few(notOneCdr)}`);
    if (neverPlaced.length > 0)
      problems.push(
        `${id}: ${neverPlaced.length} inbound calls recorded but not seen placed: ${few(neverPlaced)}`,
      );
    // A refused call's event is queued like any write: a killed run may lose its tail too.
    if (killedRuns === 0 ? refusedEvents !== refusedPlaced : refusedEvents > refusedPlaced)
      problems.push(`${id}: ${refusedPlaced} calls refused but ${refusedEvents} call.refused events`);
    facts.push(
      `${id}: placed ${placed.size + refusedPlaced} in ${runs.length} runs (${killedRuns} killed), ` +
        `refused ${refusedPlaced}, call records ${rows.length} (${rows.filter((r) => r.dnis === 'callback').length} callbacks), ` +
        `lostInKill ${lostInKill}, inTransitAtStop ${inTransitAtStop.length}` +
        (inTransitAtStop.length > 0 ? ` (${few(inTransitAtStop)})` : ''),
    );
  }
  return verdict(problems, facts);
}

/**
 * The hub's events equal the sites' outboxes. Run with the sites stopped and the hub up:
 * events the sites marked shipped get a bounded time to arrive (Kafka is asynchronous); events
 * written up to `marks` (taken when the links were healthy and caught up) must all be there;
 * events still unshipped at the stop stay in the outbox and ship on the next start (counted).
 */
export async function eventsAtHub(p: Province, marks: ReadonlyMap<string, number>): Promise<Check> {
  const problems: string[] = [];
  const facts: string[] = [];
  for (const id of p.siteIds) {
    const outbox = (
      await p
        .sitePool(id)
        .query<{ id: string; seq: string; shipped: boolean }>(
          `SELECT id, seq, shipped_at IS NOT NULL AS shipped FROM outbox`,
        )
    ).rows;
    const hubIds = async () =>
      new Set(
        (
          await p.hubPool.query<{ id: string }>(`SELECT id FROM ingested_events WHERE site_id = $1`, [id])
        ).rows.map((r) => r.id),
      );
    let atHub = await hubIds();
    await waitFor(
      `${id}: events marked shipped at the hub`,
      async () => {
        atHub = await hubIds();
        return outbox.every((e) => !e.shipped || atHub.has(e.id));
      },
      60_000,
      PROVINCE_POLL_MS,
    ).catch(() => undefined); // what is still missing is reported below
    const inOutbox = new Set(outbox.map((e) => e.id));
    const extra = [...atHub].filter((e) => !inOutbox.has(e));
    const shippedMissing = outbox.filter((e) => e.shipped && !atHub.has(e.id)).map((e) => e.id);
    const mark = marks.get(id) ?? 0;
    const earlyMissing = outbox
      .filter((e) => !e.shipped && Number(e.seq) <= mark && !atHub.has(e.id))
      .map((e) => e.id);
    const unshippedAtStop = outbox.filter((e) => !e.shipped && !atHub.has(e.id)).length - earlyMissing.length;
    // An event is the same event by its id (a replay keeps it); the hub stores each id once.
    const rows = Number(
      (
        await p.hubPool.query<{ n: string }>(`SELECT count(*) AS n FROM ingested_events WHERE site_id = $1`, [
          id,
        ])
      ).rows[0]!.n,
    );
    const twice = rows > atHub.size ? [`${rows - atHub.size} rows share an id`] : [];
    if (extra.length > 0)
      problems.push(`${id}: ${extra.length} events at the hub not in the outbox: ${few(extra)}`);
    if (shippedMissing.length > 0)
      problems.push(
        `${id}: ${shippedMissing.length} events marked shipped missing at the hub: ${few(shippedMissing)}`,
      );
    if (earlyMissing.length > 0)
      problems.push(
        `${id}: ${earlyMissing.length} events written before the catch-up mark missing: ${few(earlyMissing)}`,
      );
    if (twice.length > 0)
      problems.push(`${id}: ${twice.length} events at the hub twice (same content): ${few(twice)}`);
    facts.push(`${id}: outbox ${outbox.length}, at hub ${atHub.size}, unshipped at stop ${unshippedAtStop}`);
  }
  return verdict(problems, facts);
}

/** A site's live board: which agent is in which state on which call. */
async function board(
  p: Province,
  id: string,
): Promise<Array<{ agentId: string; state: string; callId?: string }>> {
  const ready = await p.site(id).process!.ready();
  // No keep-alive: an idle connection left open would hold up the site's web server at its stop.
  const body = await new Promise<string>((resolve, reject) => {
    const req = get(new URL('/api/snapshot', String(ready.wallboard)), { agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () =>
        res.statusCode === 200 ? resolve(text) : reject(new Error(`${id} snapshot: HTTP ${res.statusCode}`)),
      );
    });
    req.on('error', reject);
  });
  const s = JSON.parse(body) as { agentBoard: Array<{ agentId: string; state: string; callId?: string }> };
  return s.agentBoard;
}

const ON_CALL = new Set(['reserved', 'on-call', 'wrap-up']);

/**
 * Live part, with the sites running: every agent on a call names it, and moves on from it in
 * time (a call lasts seconds of real time at the simulation's speed; 60 s on the same one is
 * stuck).
 */
export async function agentsMoveOn(p: Province, boundMs = 60_000): Promise<Check> {
  const problems: string[] = [];
  let watched = 0;
  // The sites in parallel: each may take up to the bound.
  await Promise.all(
    p.siteIds.map(async (id) => {
      const first = await board(p, id);
      const held = first.filter((a) => ON_CALL.has(a.state));
      watched += held.length;
      const noCall = held.filter((a) => !a.callId).map((a) => a.agentId);
      if (noCall.length > 0) problems.push(`${id}: agents in a call state without a call: ${few(noCall)}`);
      let still = held;
      await waitFor(
        `${id}: every agent on a call moved on`,
        async () => {
          const now = new Map((await board(p, id)).map((a) => [a.agentId, a]));
          still = still.filter((a) => {
            const n = now.get(a.agentId);
            return n !== undefined && n.state === a.state && n.callId === a.callId;
          });
          return still.length === 0;
        },
        boundMs,
        1000,
      ).catch(() => undefined);
      if (still.length > 0)
        problems.push(
          `${id}: ${still.length} agents held the same call for ${boundMs / 1000} s: ${few(still.map((a) => `${a.agentId} ${a.state} ${a.callId}`))}`,
        );
    }),
  );
  return verdict(problems, [`${watched} agents on calls watched`]);
}

/** After the sites stopped: every agent logged out, no session left open. */
export async function agentsLoggedOut(p: Province): Promise<Check> {
  const problems: string[] = [];
  for (const id of p.siteIds) {
    const pool = p.sitePool(id);
    const inState = (
      await pool.query<{ id: string; state: string }>(
        `SELECT id, state FROM agents WHERE state <> 'logged-out'`,
      )
    ).rows.map((r) => `${r.id} ${r.state}`);
    const open = (
      await pool.query<{ agent_id: string }>(`SELECT agent_id FROM agent_sessions WHERE logout_at IS NULL`)
    ).rows.map((r) => r.agent_id);
    if (inState.length > 0) problems.push(`${id}: agents left logged in after the stop: ${few(inState)}`);
    if (open.length > 0) problems.push(`${id}: sessions left open: ${few(open)}`);
  }
  return verdict(problems, []);
}

/** Live tallies vs their recomputation; the hub's call facts vs the sites' events. */
export async function statsMatch(p: Province, obs: Observer): Promise<Check> {
  const problems: string[] = [];
  const facts: string[] = [];
  for (const id of p.siteIds) {
    const pool = p.sitePool(id);
    const stopped = obs.stopTallies.get(id);
    if (!stopped) {
      problems.push(`${id}: logged no tally at a clean stop`);
    } else {
      const config = loadSiteConfig(p.site(id).configPath);
      const sl = config.acd.serviceLevel;
      const options = {
        nowMs: stopped.atMs,
        dayStartMs: dayStartMs(stopped.atMs, config.utcOffsetMs),
        windowMs: sl.windowMs,
        thresholdMs: sl.thresholdMs,
        handleTime: config.acd.handleTime,
        queueIds: config.acd.queues.map((q) => q.id),
      };
      const events = await readStatsEvents(pool, STATS_EVENT_TYPES, rebuildSinceMs(options), stopped.atMs);
      const rebuilt = rebuildStats(events, options).tally as unknown as Record<string, number>;
      const diff = Object.keys(rebuilt)
        .filter((k) => k !== 'dayStartMs' && rebuilt[k] !== stopped.tally[k])
        .map((k) => `${k} live ${stopped.tally[k]} rebuilt ${rebuilt[k]}`);
      if (diff.length > 0) problems.push(`${id}: tally differs from its events: ${diff.join(', ')}`);
      facts.push(`${id}: offered ${stopped.tally.offered}, answered ${stopped.tally.answered}`);
    }
    // What the hub computes province statistics from, against what the site's events say.
    const ended = (
      await pool.query<{
        id: string;
        aggregate_id: string;
        occurred_at_ms: string;
        payload: Record<string, unknown>;
      }>(`SELECT id, aggregate_id, occurred_at_ms, payload FROM outbox WHERE type = 'call.ended'`)
    ).rows;
    const want = new Map<string, string>();
    for (const r of ended) {
      const f = callFactOf({
        id: r.id,
        type: 'call.ended',
        siteId: id,
        aggregateId: r.aggregate_id,
        occurredAtMs: Number(r.occurred_at_ms),
        payload: r.payload,
      } as unknown as EventEnvelope);
      if (f)
        want.set(
          f.callId,
          JSON.stringify([f.queueId, f.endedAtMs, f.queued, f.answered, f.abandoned, f.waitMs]),
        );
    }
    const have = new Map(
      (
        await p.hubPool.query<{
          call_id: string;
          queue_id: string;
          ended_at_ms: string;
          queued: boolean;
          answered: boolean;
          abandoned: boolean;
          wait_ms: string;
        }>(`SELECT * FROM call_facts WHERE site_id = $1`, [id])
      ).rows.map((r) => [
        r.call_id,
        JSON.stringify([
          r.queue_id,
          Number(r.ended_at_ms),
          r.queued,
          r.answered,
          r.abandoned,
          Number(r.wait_ms),
        ]),
      ]),
    );
    const missing = [...want.keys()].filter((k) => !have.has(k));
    const wrong = [...want.entries()].filter(([k, v]) => have.has(k) && have.get(k) !== v).map(([k]) => k);
    const extra = [...have.keys()].filter((k) => !want.has(k));
    if (missing.length + wrong.length + extra.length > 0)
      problems.push(
        `${id}: hub call facts differ from the site's events: missing ${missing.length} (${few(missing, 3)}), ` +
          `different ${wrong.length} (${few(wrong, 3)}), extra ${extra.length} (${few(extra, 3)})`,
      );
    facts.push(`${id}: ${want.size} call facts`);
  }
  return verdict(problems, facts);
}

/** Every caller told "recorded" has the record. */
export async function toldRecorded(p: Province, obs: Observer): Promise<Check> {
  const problems: string[] = [];
  const missing: string[] = [];
  for (const c of obs.confirmations) {
    const pool = p.sitePool(c.siteId);
    const r = c.ref
      ? await pool.query(`SELECT 1 FROM tickets WHERE data->>'ivrTicketId' = $1`, [c.ref])
      : await pool.query(`SELECT 1 FROM tickets WHERE kind = 'callback-request' AND call_id = $1`, [
          c.callId,
        ]);
    if (r.rowCount === 0) missing.push(`${c.siteId} ${c.callId} ${c.promptId}${c.ref ? ` ${c.ref}` : ''}`);
  }
  if (missing.length > 0)
    problems.push(
      `${missing.length} of ${obs.confirmations.length} callers told "recorded" have no record: ${few(missing)}`,
    );
  return verdict(problems, [`${obs.confirmations.length} confirmations heard`]);
}

/**
 * The sites' call records and the hub's call facts, read for the move invariants (moves.ts).
 * Run with the sites stopped and their events at the hub.
 */
export async function movesKept(p: Province): Promise<MovesVerdict> {
  const records: CallRecord[] = [];
  for (const id of p.siteIds) {
    const rows = (
      await p.sitePool(id).query<{
        id: string;
        end_reason: string | null;
        overflow_in: { originSiteId: string; originCallId: string; token: string; waitedMs: number } | null;
        outcome: string | null;
        answered: boolean;
        overflow_out: { toSiteId: string; token: string } | null;
      }>(
        `SELECT c.id, c.end_reason, c.overflow_in, d.outcome, d.answered_at IS NOT NULL AS answered,
                d.overflow_out
           FROM calls c LEFT JOIN cdrs d ON d.call_id = c.id`,
      )
    ).rows;
    for (const r of rows)
      records.push({
        siteId: id,
        callId: r.id,
        outcome: r.outcome,
        answered: r.answered,
        endReason: r.end_reason,
        overflowOut: r.overflow_out,
        overflowIn: r.overflow_in,
      });
  }
  const facts = (
    await p.hubPool.query<{ site_id: string; call_id: string; wait_ms: string }>(
      `SELECT site_id, call_id, wait_ms FROM call_facts`,
    )
  ).rows.map((r) => ({ siteId: r.site_id, callId: r.call_id, waitMs: Number(r.wait_ms) }));
  return checkMoves(p.siteIds, records, facts);
}
