/**
 * `kill -9` of a running site loses nothing committed, and the restart closes what was in
 * flight. A real site process (simulated callers and agents, real ACD, IVR, ledger and
 * gRPC service) runs on a real PostgreSQL database; the test waits for finished calls,
 * tickets and live calls, reads what is committed, kills the process with SIGKILL,
 * restarts it on the same database and checks:
 *   - every call record, CDR, ticket, card-loss stop and outbox event committed before the
 *     kill is still there;
 *   - calls that were in progress are closed as `failed` with reason `site-restart`, each
 *     with exactly one CDR; agents are put back to logged-out (reason `site-restart`);
 *   - after a clean SIGTERM stop, no call is left in a live state.
 */
import { afterAll, beforeAll, test } from 'vitest';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import pg from 'pg';
import { freshDatabase, type TestDatabase } from '../support/pg.js';
import { waitFor } from '../support/wait.js';

/** How long the running site gets to produce what a wait looks for (its simulation runs 30x). */
const SITE_WAIT_MS = 90_000;
/** Each check is a few count(*) queries on the database the site is busy writing: polled gently. */
const POLL_MS = 250;

const ROOT = new URL('../..', import.meta.url).pathname;
let db: TestDatabase;
let client: pg.Client;

beforeAll(async () => {
  db = await freshDatabase('crash');
  client = new pg.Client({ connectionString: db.url });
  await client.connect();
});

afterAll(async () => {
  await client?.end();
  await db?.drop();
});

interface Running {
  child: ChildProcess;
  exited: Promise<number | null>;
  stderr: string[];
}

/** Start the site and resolve once it prints its ready line. */
async function startSite(): Promise<Running> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'site-node/main.ts',
      '--config',
      'deploy/examples/site-chongqing.yaml',
      '--database',
      db.url,
      '--simulate',
      // The example's cti.tls files are not made here; its cti.host is loopback.
      '--insecure-loopback',
      '--speed',
      '30',
      '--rate',
      '1500',
      '--customers',
      '40',
      '--stats-every',
      '60',
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LOG_LEVEL: 'warn' } },
  );
  const stderr: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (l) => stderr.push(l));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const lines = createInterface({ input: child.stdout! });
  const ready = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 60_000);
    lines.on('line', (l) => {
      if (l.includes('"event":"ready"')) {
        clearTimeout(timer);
        resolve(true);
      }
    });
    void exited.then(() => resolve(false));
  });
  assert.ok(ready, `site did not become ready:\n${stderr.slice(-20).join('\n')}`);
  return { child, exited, stderr };
}

async function count(sql: string, params: unknown[] = []): Promise<number> {
  const r = await client.query<{ n: string }>(sql, params);
  return Number(r.rows[0]!.n);
}

const ids = async (sql: string): Promise<string[]> =>
  (await client.query<{ id: string }>(sql)).rows.map((r) => r.id).sort();

test('kill -9 loses no committed record; restart closes calls in progress and resets agents', async () => {
  const first = await startSite();
  try {
    await waitFor(
      'finished calls, tickets and calls in progress',
      async () => {
        const ended = await count(`SELECT count(*) AS n FROM cdrs`);
        const tickets = await count(`SELECT count(*) AS n FROM tickets`);
        const live = await count(`SELECT count(*) AS n FROM calls WHERE ended_at IS NULL`);
        const onCall = await count(`SELECT count(*) AS n FROM agents WHERE state <> 'logged-out'`);
        return ended >= 15 && tickets >= 2 && live >= 2 && onCall >= 1;
      },
      SITE_WAIT_MS,
      POLL_MS,
    );
  } catch (e) {
    first.child.kill('SIGKILL');
    throw e;
  }

  first.child.kill('SIGKILL');
  assert.equal(await first.exited, null, 'the site was killed, not stopped');

  // What was committed at the moment of the kill (nothing can commit after it).
  const calls = await ids(`SELECT id FROM calls`);
  const cdrs = await ids(`SELECT call_id AS id FROM cdrs`);
  const tickets = await ids(`SELECT id FROM tickets`);
  const events = await ids(`SELECT id FROM outbox`);
  const stoppedCards = await ids(`SELECT card_number AS id FROM ledger.cards WHERE status = 'stopped'`);
  const inFlight = await ids(`SELECT id FROM calls WHERE ended_at IS NULL`);
  const agentsIn = await ids(`SELECT id FROM agents WHERE state <> 'logged-out'`);
  assert.ok(inFlight.length >= 1 && agentsIn.length >= 1);

  const second = await startSite();
  try {
    // Recovery runs before the site reports ready.
    for (const id of inFlight) {
      const r = await client.query<{ state: string; end_reason: string }>(
        `SELECT state, end_reason FROM calls WHERE id = $1`,
        [id],
      );
      assert.deepEqual(r.rows[0], { state: 'failed', end_reason: 'site-restart' }, `call ${id}`);
      assert.equal(
        await count(`SELECT count(*) AS n FROM cdrs WHERE call_id = $1`, [id]),
        1,
        `one CDR for ${id}`,
      );
    }
    for (const id of agentsIn) {
      const n = await count(
        `SELECT count(*) AS n FROM agent_state_history WHERE agent_id = $1 AND to_state = 'logged-out' AND reason = 'site-restart'`,
        [id],
      );
      assert.equal(n, 1, `agent ${id} reset once`);
    }
    // Nothing committed before the kill went missing.
    const subset = async (label: string, before: string[], sql: string) => {
      const now = new Set(await ids(sql));
      const lost = before.filter((id) => !now.has(id));
      assert.deepEqual(lost, [], `${label} lost after kill -9`);
    };
    await subset('calls', calls, `SELECT id FROM calls`);
    await subset('CDRs', cdrs, `SELECT call_id AS id FROM cdrs`);
    await subset('tickets', tickets, `SELECT id FROM tickets`);
    await subset('outbox events', events, `SELECT id FROM outbox`);
    await subset(
      'card stops',
      stoppedCards,
      `SELECT card_number AS id FROM ledger.cards WHERE status = 'stopped'`,
    );

    // The restarted site takes calls again.
    await waitFor(
      'new calls after restart',
      async () => (await count(`SELECT count(*) AS n FROM calls`)) > calls.length,
      SITE_WAIT_MS,
      POLL_MS,
    );
  } finally {
    second.child.kill('SIGTERM');
  }
  assert.equal(await second.exited, 0, `clean stop:\n${second.stderr.slice(-10).join('\n')}`);
  assert.equal(await count(`SELECT count(*) AS n FROM calls WHERE ended_at IS NULL`), 0, 'no call left live');
  assert.equal(
    await count(
      `SELECT count(*) AS n FROM calls c WHERE NOT EXISTS (SELECT 1 FROM cdrs d WHERE d.call_id = c.id)`,
    ),
    0,
    'every call has its CDR',
  );
});
