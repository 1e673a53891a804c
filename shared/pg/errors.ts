/**
 * The ONE place SQLSTATEs become domain errors (docs/architecture.md §3.5). Repositories and
 * `withTransaction` call `fromPgError`; nothing else looks at `err.code` from the driver.
 * The original driver error is kept as `cause` so logs still show the constraint and detail.
 *
 *   23505 unique_violation            -> already-exists
 *   23503 foreign_key_violation       -> failed-precondition
 *   23502 not_null_violation          -> invalid-argument
 *   23514 check_violation             -> invalid-argument
 *   23P01 exclusion_violation         -> conflict
 *   22xxx data exception              -> invalid-argument
 *   40001 serialization_failure       -> conflict (retryable)
 *   40P01 deadlock_detected           -> conflict (retryable)
 *   55P03 lock_not_available          -> conflict (retryable)
 *   57014 query_canceled (timeout)    -> deadline-exceeded
 *   08xxx connection exception        -> unavailable (so are a lost socket and a query read timeout)
 *   57P01..57P05 admin shutdown etc.  -> unavailable
 *   53xxx insufficient resources      -> resource-exhausted
 *   42501 insufficient_privilege      -> permission-denied
 *   PCCNL a hub's write fenced off    -> unavailable (hub_fence: that hub no longer leads)
 *   28xxx invalid authorization       -> unauthenticated
 *   anything else                     -> internal
 */
import { DomainError, type ErrorKind } from '../errors.js';

/** The fields of a node-postgres `DatabaseError` this module reads. */
export interface PgErrorLike {
  code: string;
  message: string;
  constraint?: string;
  table?: string;
  column?: string;
  detail?: string;
}

/** SQLSTATEs after which the whole transaction may simply be run again. */
const RETRYABLE = new Set(['40001', '40P01', '55P03']);

/** Connection-level failures (client-side, no SQLSTATE) that node-postgres reports by errno. */
const NETWORK_ERRNO = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
]);

export function isPgError(e: unknown): e is PgErrorLike {
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof (e as { code?: unknown }).code === 'string' &&
    /^[0-9A-Z]{5}$/.test((e as { code: string }).code)
  );
}

/** The SQLSTATE of a driver error, or of the driver error a DomainError wraps. */
export function sqlStateOf(e: unknown): string | undefined {
  if (isPgError(e)) return e.code;
  if (e instanceof DomainError && isPgError(e.cause)) return e.cause.code;
  return undefined;
}

/** True when the error (raw or already mapped) means "run the transaction again". */
export function isRetryableSqlState(e: unknown): boolean {
  const code = sqlStateOf(e);
  return code !== undefined && RETRYABLE.has(code);
}

export function kindForSqlState(code: string): ErrorKind {
  switch (code) {
    case '23505':
      return 'already-exists';
    case '23503':
      return 'failed-precondition';
    case '23502':
    case '23514':
      return 'invalid-argument';
    case '23P01':
      return 'conflict';
    case '40001':
    case '40P01':
    case '55P03':
      return 'conflict';
    case '57014':
      return 'deadline-exceeded';
    case '42501':
      return 'permission-denied';
    case 'PCCNL':
      // Raised by the hub's write fence (hub/store/migrations/007_leader_lease.sql): the hub that
      // wrote no longer leads; the caller tries the leader (docs/architecture.md §6.6).
      return 'unavailable';
  }
  const cls = code.slice(0, 2);
  switch (cls) {
    case '22':
      return 'invalid-argument';
    case '08':
      return 'unavailable';
    case '53':
      return 'resource-exhausted';
    case '28':
      return 'unauthenticated';
    case '57':
      // 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now, 57P04/05.
      return code.startsWith('57P') ? 'unavailable' : 'internal';
  }
  return 'internal';
}

function describe(e: PgErrorLike): string {
  const where = e.constraint ? ` (constraint ${e.constraint})` : e.column ? ` (column ${e.column})` : '';
  const retry = RETRYABLE.has(e.code) ? ' [retryable]' : '';
  return `database: ${e.message}${where} [SQLSTATE ${e.code}]${retry}`;
}

// "Query read timeout": a pool's queryTimeoutMs passed with no answer (pool.ts); the connection
// is treated as lost, whatever became of the statement on the server.
const CONNECTION_LOST =
  /Connection terminated|connection timeout|Client has encountered a connection error|Query read timeout/i;

/** True for errors that came from the database or the connection to it (not from app code). */
export function isDatabaseError(e: unknown): boolean {
  if (isPgError(e)) return true;
  const errno = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined;
  if (typeof errno === 'string' && NETWORK_ERRNO.has(errno)) return true;
  return e instanceof Error && CONNECTION_LOST.test(e.message);
}

/**
 * Translate anything a pg call threw. A DomainError passes through untouched; a driver error
 * with a SQLSTATE becomes the DomainError of its kind; a socket error becomes `unavailable`;
 * anything else becomes `internal`. The original is always the `cause`.
 */
export function fromPgError(e: unknown): DomainError {
  if (e instanceof DomainError) return e;
  if (isPgError(e)) {
    return new DomainError(kindForSqlState(e.code), describe(e), { cause: e, field: e.column });
  }
  const errno = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined;
  if (typeof errno === 'string' && NETWORK_ERRNO.has(errno)) {
    return new DomainError('unavailable', `database unreachable: ${errno}`, { cause: e });
  }
  const msg = e instanceof Error ? e.message : String(e);
  if (CONNECTION_LOST.test(msg)) {
    return new DomainError('unavailable', `database connection lost: ${msg}`, { cause: e });
  }
  return new DomainError('internal', `database: ${msg}`, { cause: e });
}
