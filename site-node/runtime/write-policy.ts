/**
 * The pure rules of the site's durable writes (docs/architecture.md §7.1): which failures are
 * worth retrying, how long to wait before the next try, and whether the site may take another
 * call given what is waiting to be written. No I/O, no clock: durable-writes.ts carries them out.
 *
 * Transient: the database is away or overloaded, and the same write will succeed once it is
 * back (connection refused, terminated or silent past the pool's query timeout, 08xxx, 57P01..57P05 admin/crash shutdown and
 * "starting up", a pool that could not connect in time, 53xxx, a serialization failure that
 * outlived withTransaction's own retries). Permanent: anything else (a constraint, a state the
 * write did not expect, a bug). Retrying a permanent failure would block every later write
 * forever, so it is given up on at once, logged with its label and counted.
 */
import { DomainError } from '../../shared/errors.js';
import { fromPgError, isDatabaseError, isRetryableSqlState } from '../../shared/pg/errors.js';

export type WriteFailure = 'transient' | 'permanent';

/** Said by node-postgres when the pool cannot open a connection within its timeout. */
const POOL_CONNECT_TIMEOUT = /timeout exceeded when trying to connect|connection timeout/i;

export function classifyWriteError(e: unknown): WriteFailure {
  if (e instanceof Error && POOL_CONNECT_TIMEOUT.test(e.message)) return 'transient';
  if (isRetryableSqlState(e)) return 'transient';
  let err: unknown = e;
  // pg-boss and a few repository paths throw the driver's own error; map it the one way.
  if (!(e instanceof DomainError) && isDatabaseError(e)) err = fromPgError(e);
  if (!(err instanceof DomainError)) return 'permanent';
  switch (err.kind) {
    case 'unavailable':
    case 'resource-exhausted':
    case 'deadline-exceeded':
      return 'transient';
    default:
      return 'permanent';
  }
}

export interface BackoffPolicy {
  /** Wait before the second try. */
  firstMs: number;
  /** Longest wait between tries: the store is probed at least this often while it is away. */
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { firstMs: 100, maxMs: 2_000 };

/**
 * The wait after the `failures`-th failed try of the write at the head of the buffer:
 * doubling from `firstMs`, capped at `maxMs`. No jitter: one writer per site, nobody to
 * stampede with.
 */
export function retryDelayMs(failures: number, p: BackoffPolicy = DEFAULT_BACKOFF): number {
  if (failures < 1) return 0;
  const exp = Math.min(failures - 1, 30);
  return Math.min(p.maxMs, p.firstMs * 2 ** exp);
}

export interface AdmissionPolicy {
  /** Writes the buffer holds at most before the site stops taking calls. */
  capacity: number;
  /** While the store is known down, admission closes once this many writes wait. */
  closeWhileDownAt: number;
}

export interface BufferState {
  buffered: number;
  storeUp: boolean;
}

/**
 * May the site take a new call? Not when the buffer is full, nor when the store is down and
 * the buffer is past the threshold: each admitted call adds several writes, and a caller
 * refused with "busy" can call again, while one admitted and then lost cannot.
 */
export function admissionOpen(s: BufferState, p: AdmissionPolicy): boolean {
  if (s.buffered >= p.capacity) return false;
  return s.storeUp || s.buffered < p.closeWhileDownAt;
}
