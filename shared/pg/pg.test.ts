/**
 * shared/pg against a real PostgreSQL: the SQLSTATE mapping with errors provoked on the
 * server, withTransaction commit/rollback/retry, and the migration runner.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { DomainError, isDomainError } from '../errors.js';
import { freshDatabase, type TestDatabase } from '../../test/support/pg.js';
import { waitFor } from '../../test/support/wait.js';
import { fromPgError, isRetryableSqlState, kindForSqlState, sqlStateOf } from './errors.js';
import { migrate } from './migrate.js';
import { createPool, query } from './pool.js';
import { withTransaction } from './transaction.js';

const skip = process.env.TEST_PG_URL ? false : 'TEST_PG_URL is not set (needs PostgreSQL)';

describe('kindForSqlState (table)', () => {
  test('maps classes and specific codes', () => {
    const cases: Array<[string, string]> = [
      ['23505', 'already-exists'],
      ['23503', 'failed-precondition'],
      ['23514', 'invalid-argument'],
      ['23502', 'invalid-argument'],
      ['22P02', 'invalid-argument'],
      ['22003', 'invalid-argument'],
      ['40001', 'conflict'],
      ['40P01', 'conflict'],
      ['57014', 'deadline-exceeded'],
      ['08006', 'unavailable'],
      ['57P01', 'unavailable'],
      ['53300', 'resource-exhausted'],
      ['28P01', 'unauthenticated'],
      ['42501', 'permission-denied'],
      ['42P01', 'internal'],
    ];
    for (const [code, kind] of cases) assert.equal(kindForSqlState(code), kind, code);
  });

  test('a DomainError passes through; a socket error is unavailable', () => {
    const d = new DomainError('not-found', 'x');
    assert.equal(fromPgError(d), d);
    const sock = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    assert.equal(fromPgError(sock).kind, 'unavailable');
    assert.equal(fromPgError(new Error('weird')).kind, 'internal');
  });
});

describe.skipIf(skip)('shared/pg on PostgreSQL', () => {
  /** Waits until the backend is where the test needs it (in pg_sleep, waiting for a lock). */
  const backendIs = async (pid: number, condition: string): Promise<void> => {
    await waitFor(
      `backend ${pid} to reach ${condition}`,
      async () =>
        (await pool.query(`SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND ${condition}`, [pid])).rowCount,
      10_000,
    );
  };

  let db: TestDatabase;
  let pool: pg.Pool;

  beforeAll(async () => {
    db = await freshDatabase('sharedpg');
    pool = createPool(db.url, { applicationName: 'test/shared-pg', max: 6 });
    await pool.query(`
      CREATE TABLE parent (id int PRIMARY KEY);
      CREATE TABLE child (id int PRIMARY KEY, parent_id int NOT NULL REFERENCES parent (id), n int CHECK (n >= 0));
      INSERT INTO parent VALUES (1);`);
  });
  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  const provoke = async (sql: string, db2: pg.Pool = pool): Promise<DomainError> => {
    try {
      await query(db2, sql);
    } catch (e) {
      assert.ok(e instanceof DomainError, 'expected a DomainError');
      return e;
    }
    assert.fail(`expected ${sql} to fail`);
  };

  test('application_name is set on the connection', async () => {
    const r = await pool.query<{ n: string }>(`SELECT current_setting('application_name') AS n`);
    assert.equal(r.rows[0]!.n, 'test/shared-pg');
  });

  test('real server errors map to domain kinds, keeping the cause', async () => {
    await pool.query(`INSERT INTO child VALUES (1, 1, 0)`);
    const dup = await provoke(`INSERT INTO child VALUES (1, 1, 0)`);
    assert.equal(dup.kind, 'already-exists');
    assert.equal(sqlStateOf(dup), '23505');
    assert.match(dup.message, /child_pkey/);
    assert.equal((dup.cause as { code: string }).code, '23505');

    assert.equal((await provoke(`INSERT INTO child VALUES (2, 99, 0)`)).kind, 'failed-precondition');
    assert.equal((await provoke(`INSERT INTO child VALUES (3, 1, -1)`)).kind, 'invalid-argument');
    assert.equal((await provoke(`SELECT 'abc'::int`)).kind, 'invalid-argument');
    assert.equal((await provoke(`SELECT 1/0`)).kind, 'invalid-argument');
    assert.equal((await provoke(`SELECT * FROM no_such_table`)).kind, 'internal');
  });

  test('statement timeout -> deadline-exceeded', async () => {
    const p = createPool(db.url, { applicationName: 'test/timeout', max: 1, statementTimeoutMs: 100 });
    try {
      const e = await provoke(`SELECT pg_sleep(2)`, p);
      assert.equal(e.kind, 'deadline-exceeded');
      assert.equal(sqlStateOf(e), '57014');
    } finally {
      await p.end();
    }
  });

  test('a terminated backend -> unavailable', async () => {
    const p = createPool(db.url, { applicationName: 'test/victim', max: 1 });
    try {
      const c = await p.connect();
      const pid = (await c.query<{ pid: number }>(`SELECT pg_backend_pid() AS pid`)).rows[0]!.pid;
      const killed = c.query(`SELECT pg_sleep(5)`).then(
        () => assert.fail('should have been terminated'),
        (e: unknown) => fromPgError(e),
      );
      await backendIs(pid, `wait_event = 'PgSleep'`);
      await pool.query(`SELECT pg_terminate_backend($1)`, [pid]);
      const e = await killed;
      c.release(true);
      assert.equal(e.kind, 'unavailable');
    } finally {
      await p.end();
    }
  });

  test('a real deadlock maps to conflict (retryable)', async () => {
    await pool.query(`CREATE TABLE dl (id int PRIMARY KEY, v int); INSERT INTO dl VALUES (1, 0), (2, 0)`);
    const a = await pool.connect();
    const b = await pool.connect();
    try {
      await a.query('BEGIN');
      await b.query('BEGIN');
      await a.query(`UPDATE dl SET v = 1 WHERE id = 1`);
      await b.query(`UPDATE dl SET v = 1 WHERE id = 2`);
      const pidA = (await a.query<{ pid: number }>(`SELECT pg_backend_pid() AS pid`)).rows[0]!.pid;
      const ra = a.query(`UPDATE dl SET v = 2 WHERE id = 2`).then(() => undefined, fromPgError);
      await backendIs(pidA, `wait_event_type = 'Lock'`);
      const rb = b.query(`UPDATE dl SET v = 2 WHERE id = 1`).then(() => undefined, fromPgError);
      const errs = (await Promise.all([ra, rb])).filter((x): x is DomainError => x !== undefined);
      assert.equal(errs.length, 1);
      assert.equal(errs[0]!.kind, 'conflict');
      assert.equal(sqlStateOf(errs[0]), '40P01');
      assert.ok(isRetryableSqlState(errs[0]));
    } finally {
      await a.query('ROLLBACK').catch(() => {});
      await b.query('ROLLBACK').catch(() => {});
      a.release();
      b.release();
    }
  });

  test('withTransaction commits, and rolls back everything on error', async () => {
    await pool.query(`CREATE TABLE tx (id int PRIMARY KEY)`);
    const n = await withTransaction(pool, async (c) => {
      await c.query(`INSERT INTO tx VALUES (1)`);
      return 7;
    });
    assert.equal(n, 7);
    await assert.rejects(
      withTransaction(pool, async (c) => {
        await c.query(`INSERT INTO tx VALUES (2)`);
        await c.query(`INSERT INTO tx VALUES (1)`); // duplicate
      }),
      (e) => isDomainError(e, 'already-exists'),
    );
    const r = await pool.query(`SELECT id FROM tx ORDER BY id`);
    assert.deepEqual(
      r.rows.map((x) => x.id),
      [1],
    );
  });

  test('withTransaction retries a serialization failure raised by the server, then succeeds', async () => {
    await pool.query(`CREATE TABLE retry (id serial PRIMARY KEY, attempt int)`);
    let attempts = 0;
    const retries: number[] = [];
    await withTransaction(
      pool,
      async (c) => {
        attempts++;
        await c.query(`INSERT INTO retry (attempt) VALUES ($1)`, [attempts]);
        if (attempts < 3)
          await c.query(
            `DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = 'serialization_failure'; END $$`,
          );
      },
      { onRetry: (n) => retries.push(n), backoffMs: 1 },
    );
    assert.equal(attempts, 3);
    assert.deepEqual(retries, [1, 2]);
    const r = await pool.query(`SELECT attempt FROM retry`);
    assert.deepEqual(
      r.rows.map((x) => x.attempt),
      [3],
    );
  });

  test('withTransaction gives up after maxAttempts with a conflict error', async () => {
    let attempts = 0;
    await assert.rejects(
      withTransaction(
        pool,
        async (c) => {
          attempts++;
          await c.query(`DO $$ BEGIN RAISE EXCEPTION 'dl' USING ERRCODE = 'deadlock_detected'; END $$`);
        },
        { maxAttempts: 2, backoffMs: 1 },
      ),
      (e) => isDomainError(e, 'conflict'),
    );
    assert.equal(attempts, 2);
  });

  test('real serializable conflict between two transactions is retried to success', async () => {
    await pool.query(
      `CREATE TABLE acct (id int PRIMARY KEY, bal int); INSERT INTO acct VALUES (1, 100), (2, 100)`,
    );
    // Classic write skew: each reads both rows and writes one; one must fail with 40001.
    let gate!: () => void;
    const bothRead = new Promise<void>((r) => (gate = r));
    let reads = 0;
    const run = (id: number): Promise<void> =>
      withTransaction(
        pool,
        async (c) => {
          const r = await c.query<{ s: number }>(`SELECT sum(bal)::int AS s FROM acct`);
          if (++reads === 2) gate();
          await Promise.race([bothRead, new Promise((r2) => setTimeout(r2, 300))]);
          if (r.rows[0]!.s >= 150) await c.query(`UPDATE acct SET bal = bal - 100 WHERE id = $1`, [id]);
        },
        { isolation: 'serializable', backoffMs: 5 },
      );
    await Promise.all([run(1), run(2)]);
    const r = await pool.query<{ s: number }>(`SELECT sum(bal)::int AS s FROM acct`);
    assert.equal(
      r.rows[0]!.s,
      100,
      'exactly one withdrawal happened; the other was retried and saw the new sum',
    );
  });

  describe('migrate', () => {
    let dir: string;
    // Each test starts from a directory of its own holding 001 and 002 (and a file that is not
    // a migration), on a database with none of the tables they make, so that each can run alone.
    beforeEach(async () => {
      await pool.query('DROP TABLE IF EXISTS mig_t, m_a, m_b, m_c, m_d, m_e');
      dir = await mkdtemp(join(tmpdir(), 'mig-'));
      await writeFile(join(dir, '001_a.sql'), 'CREATE TABLE m_a (id int);');
      await writeFile(join(dir, '002_b.sql'), 'CREATE TABLE m_b (id int);');
      await writeFile(join(dir, 'README.md'), 'not a migration');
    });
    afterEach(async () => {
      await rm(dir, { recursive: true, force: true });
    });
    /** Applies what the directory holds so far: where a test that adds or changes files starts. */
    const applyAll = () => migrate(pool, { dir, schemaTable: 'mig_t' });

    test('applies in order, then a second run changes nothing', async () => {
      const first = await migrate(pool, { dir, schemaTable: 'mig_t' });
      assert.deepEqual(first.applied, ['001_a.sql', '002_b.sql']);
      const second = await migrate(pool, { dir, schemaTable: 'mig_t' });
      assert.deepEqual(second, { applied: [], unchanged: ['001_a.sql', '002_b.sql'] });
      const r = await pool.query(`SELECT name, length(sha256) AS l FROM mig_t ORDER BY name`);
      assert.deepEqual(r.rows, [
        { name: '001_a.sql', l: 64 },
        { name: '002_b.sql', l: 64 },
      ]);
    });

    test('concurrent runners apply each file once (advisory lock)', async () => {
      await applyAll();
      await writeFile(join(dir, '003_c.sql'), 'CREATE TABLE m_c (id int);');
      const rs = await Promise.all([1, 2, 3].map(() => migrate(pool, { dir, schemaTable: 'mig_t' })));
      assert.equal(rs.flatMap((r) => r.applied).join(','), '003_c.sql');
    });

    test('a changed applied file is refused, naming it, before anything new is applied', async () => {
      await applyAll();
      await writeFile(join(dir, '002_b.sql'), 'CREATE TABLE m_b (id int, x int);');
      await writeFile(join(dir, '004_d.sql'), 'CREATE TABLE m_d (id int);');
      await assert.rejects(
        migrate(pool, { dir, schemaTable: 'mig_t' }),
        (e) =>
          isDomainError(e, 'failed-precondition') &&
          /002_b\.sql/.test(e.message) &&
          /changed/.test(e.message),
      );
      const r = await pool.query(`SELECT to_regclass('m_d') AS t`);
      assert.equal(r.rows[0].t, null);
    });

    test('a failing file is rolled back alone and named', async () => {
      await applyAll();
      await writeFile(join(dir, '004_d.sql'), 'CREATE TABLE m_d (id int);');
      await writeFile(join(dir, '005_bad.sql'), 'CREATE TABLE m_e (id int); SELECT * FROM nope;');
      await assert.rejects(
        migrate(pool, { dir, schemaTable: 'mig_t' }),
        (e) => isDomainError(e) && /005_bad\.sql/.test(e.message),
      );
      const r = await pool.query(`SELECT to_regclass('m_d') AS d, to_regclass('m_e') AS e`);
      assert.equal(r.rows[0].d, 'm_d', '004 applied before 005 failed');
      assert.equal(r.rows[0].e, null, '005 left nothing behind');
    });

    test('badly named and duplicate-numbered files are refused', async () => {
      const d2 = await mkdtemp(join(tmpdir(), 'mig2-'));
      try {
        await writeFile(join(d2, '1_x.sql'), 'SELECT 1');
        await assert.rejects(
          migrate(pool, { dir: d2, schemaTable: 'mig_2' }),
          (e) => isDomainError(e, 'invalid-argument') && /1_x\.sql/.test(e.message),
        );
        await rm(join(d2, '1_x.sql'));
        await writeFile(join(d2, '001_x.sql'), 'SELECT 1');
        await writeFile(join(d2, '001_y.sql'), 'SELECT 1');
        await assert.rejects(
          migrate(pool, { dir: d2, schemaTable: 'mig_2' }),
          (e) => isDomainError(e, 'invalid-argument') && /share number 001/.test(e.message),
        );
      } finally {
        await rm(d2, { recursive: true, force: true });
      }
    });
  });
});
