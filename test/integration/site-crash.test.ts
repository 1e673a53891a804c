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
import pg from 'pg';
import { assertNothingLive, assertRecovered, committedAtKill } from '../support/crash-checks.js';
import { freshDatabase, type TestDatabase } from '../support/pg.js';
import { startSiteProcess } from '../support/site-process.js';
import { waitFor } from '../support/wait.js';

/** How long the running site gets to produce what a wait looks for (its simulation runs 30x). */
const SITE_WAIT_MS = 90_000;
/** Each check is a few count(*) queries on the database the site is busy writing: polled gently. */
const POLL_MS = 250;

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

const startSite = () =>
  startSiteProcess([
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
  ]);

async function count(sql: string, params: unknown[] = []): Promise<number> {
  const r = await client.query<{ n: string }>(sql, params);
  return Number(r.rows[0]!.n);
}

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
  const before = await committedAtKill(client);
  assert.ok(before.inFlight.length >= 1 && before.agentsIn.length >= 1);

  const second = await startSite();
  try {
    // Recovery runs before the site reports ready.
    await assertRecovered(client, before);

    // The restarted site takes calls again.
    await waitFor(
      'new calls after restart',
      async () => (await count(`SELECT count(*) AS n FROM calls`)) > before.calls.length,
      SITE_WAIT_MS,
      POLL_MS,
    );
  } finally {
    second.child.kill('SIGTERM');
  }
  assert.equal(await second.exited, 0, `clean stop:\n${second.stderr.slice(-10).join('\n')}`);
  await assertNothingLive(client);
});
