/**
 * `withTransaction(pool, fn)`: BEGIN, run `fn(client)`, COMMIT; ROLLBACK on any error. A
 * serialization failure (40001), deadlock (40P01) or lock timeout (55P03) reruns the whole
 * function a bounded number of times with a small jittered backoff, so `fn` must be safe to
 * run again: it should only touch the database through `client` (no side effects outside it).
 * Database errors leave as DomainErrors (see errors.ts); anything else `fn` threw (a
 * DomainError, an application error) is rethrown as is after the rollback.
 */
import type pg from 'pg';
import { fromPgError, isDatabaseError, isRetryableSqlState } from './errors.js';

/** What node-postgres says when a query outlives the pool's query_timeout. */
const READ_TIMEOUT = /Query read timeout/;

export type IsolationLevel = 'read committed' | 'repeatable read' | 'serializable';

export interface TransactionOptions {
  isolation?: IsolationLevel;
  /** Total attempts including the first; default 4. */
  maxAttempts?: number;
  /** Base backoff between attempts; default 10 ms (doubled each time, with jitter). */
  backoffMs?: number;
  /** Called before each retry; for logging and tests. */
  onRetry?: (attempt: number, err: unknown) => void;
}

export async function withTransaction<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient) => Promise<T>,
  opts: TransactionOptions = {},
): Promise<T> {
  const maxAttempts = Math.max(1, opts.maxAttempts ?? 4);
  const backoffMs = opts.backoffMs ?? 10;
  for (let attempt = 1; ; attempt++) {
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (e) {
      throw fromPgError(e);
    }
    let failure: unknown;
    let broken = false;
    try {
      await client.query(opts.isolation ? `BEGIN ISOLATION LEVEL ${opts.isolation.toUpperCase()}` : 'BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (e) {
      failure = e;
      if (READ_TIMEOUT.test(e instanceof Error ? e.message : '')) {
        // The connection stopped answering (pool.ts queryTimeoutMs): a ROLLBACK would queue
        // behind the unanswered query and wait as long again. Dropping the connection ends
        // the transaction on the server all the same.
        broken = true;
      } else {
        try {
          await client.query('ROLLBACK');
        } catch {
          broken = true; // the connection is gone: destroy it rather than give it back
        }
      }
    } finally {
      client.release(broken);
    }
    if (!(isRetryableSqlState(failure) && attempt < maxAttempts)) {
      // Database errors leave as DomainErrors; anything else `fn` threw is rethrown unchanged.
      throw isDatabaseError(failure) ? fromPgError(failure) : failure;
    }
    opts.onRetry?.(attempt, failure);
    const wait = backoffMs * 2 ** (attempt - 1);
    await new Promise((r) => setTimeout(r, wait / 2 + Math.random() * wait));
  }
}
