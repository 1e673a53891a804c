/**
 * Pool creation and small query helpers. Every pool names itself (`application_name`) so
 * `pg_stat_activity` shows which process holds which connection.
 */
import pg from 'pg';
import { fromPgError } from './errors.js';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;
/** Anything that can run a query: a pool, or a client inside a transaction. */
export type Queryable = Pick<pg.Pool, 'query'> | Pick<pg.PoolClient, 'query'>;

export interface PoolOptions {
  /** Shown in pg_stat_activity, e.g. `site-cq/store`. */
  applicationName: string;
  /** Maximum connections; default 10. */
  max?: number;
  /** Server-side statement timeout; 0 or absent means none. */
  statementTimeoutMs?: number;
  /** How long to wait for a free connection before failing; default 10 s. */
  connectionTimeoutMs?: number;
  idleTimeoutMs?: number;
  /**
   * Client-side bound on one query; 0 or absent means none. A query unanswered this long (a
   * half-open connection, a host dropping packets) fails with node-postgres's "Query read
   * timeout" (`unavailable`, errors.ts), and its connection is not reused: the pool drops a
   * client released with an error, and withTransaction does not send ROLLBACK down it.
   */
  queryTimeoutMs?: number;
  /** TCP keepalive on every connection, first probe after this long idle; absent: none. */
  keepAliveMs?: number;
}

export function createPool(url: string, opts: PoolOptions): pg.Pool {
  if (!/^postgres(ql)?:\/\//.test(url)) {
    throw new RangeError(
      `createPool: url must start with postgres:// (got ${JSON.stringify(url.slice(0, 16))}...)`,
    );
  }
  const pool = new pg.Pool({
    connectionString: url,
    application_name: opts.applicationName,
    max: opts.max ?? 10,
    connectionTimeoutMillis: opts.connectionTimeoutMs ?? 10_000,
    idleTimeoutMillis: opts.idleTimeoutMs ?? 30_000,
    ...(opts.statementTimeoutMs ? { statement_timeout: opts.statementTimeoutMs } : {}),
    ...(opts.queryTimeoutMs ? { query_timeout: opts.queryTimeoutMs } : {}),
    ...(opts.keepAliveMs !== undefined
      ? { keepAlive: true, keepAliveInitialDelayMillis: opts.keepAliveMs }
      : {}),
  });
  // An idle client losing its connection emits 'error' on the pool; without a listener that
  // would crash the process. The next query gets a fresh connection (or an `unavailable`).
  pool.on('error', () => {});
  // A checked-out client whose backend dies (server restart, pg_terminate_backend) emits
  // 'error' as well as rejecting its query. The rejection is what callers handle (as
  // `unavailable`); the event, with no listener, would be an uncaught exception that takes
  // the whole site down with one broken connection.
  pool.on('connect', (client) => {
    client.on('error', () => {});
  });
  return pool;
}

/** Run one statement, translating driver errors through `fromPgError`. */
export async function query<R extends pg.QueryResultRow = pg.QueryResultRow>(
  db: Queryable,
  text: string,
  values: unknown[] = [],
): Promise<pg.QueryResult<R>> {
  try {
    return await (db as pg.Pool).query<R>(text, values);
  } catch (e) {
    throw fromPgError(e);
  }
}

/**
 * `query` as a named prepared statement: parsed and planned once per connection, then only
 * executed. For the hot statements (a roaming lookup on every call) where planning a
 * multi-part statement each time shows in the latency.
 */
export async function queryPrepared<R extends pg.QueryResultRow = pg.QueryResultRow>(
  db: Queryable,
  name: string,
  text: string,
  values: unknown[] = [],
): Promise<pg.QueryResult<R>> {
  try {
    return await (db as pg.Pool).query<R>({ name, text, values });
  } catch (e) {
    throw fromPgError(e);
  }
}
