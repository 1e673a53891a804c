/**
 * Domain errors (docs/architecture.md §3.5). Code inside a process throws these; each boundary has one
 * function that translates them (to gRPC status codes in shared/grpc, from SQLSTATEs in
 * shared/pg, to SIP responses in the telephony adapter). Nothing else inspects messages.
 */
export type ErrorKind =
  | 'invalid-argument'
  | 'not-found'
  | 'already-exists'
  | 'conflict'
  | 'failed-precondition'
  | 'permission-denied'
  | 'unauthenticated'
  | 'resource-exhausted'
  | 'unavailable'
  | 'deadline-exceeded'
  | 'internal';

export class DomainError extends Error {
  readonly kind: ErrorKind;
  /** The field (dotted path) the error is about, when there is one: `flow.nodes.main.next`. */
  readonly field: string | undefined;
  /**
   * Every problem found, each naming its path, when a check reports several at once (the
   * message lists them too); a caller that re-words them reads these, never the message.
   */
  readonly problems: readonly string[] | undefined;
  /**
   * Extra gRPC trailers the caller needs to act on the error (a standby hub names the leader
   * in `x-hub-leader`, shared/federation/hub-failover.ts); sent by shared/grpc/status.ts.
   */
  readonly trailers: Readonly<Record<string, string>> | undefined;

  constructor(
    kind: ErrorKind,
    message: string,
    opts: {
      field?: string;
      cause?: unknown;
      problems?: readonly string[];
      trailers?: Readonly<Record<string, string>>;
    } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'DomainError';
    this.kind = kind;
    this.field = opts.field;
    this.problems = opts.problems;
    this.trailers = opts.trailers;
  }
}

export const invalidArgument = (field: string, message: string, cause?: unknown): DomainError =>
  new DomainError('invalid-argument', `${field}: ${message}`, { field, cause });

export const notFound = (what: string, id: string): DomainError =>
  new DomainError('not-found', `${what} ${JSON.stringify(id)} not found`);

export const failedPrecondition = (message: string, cause?: unknown): DomainError =>
  new DomainError('failed-precondition', message, { cause });

export const conflict = (message: string, cause?: unknown): DomainError =>
  new DomainError('conflict', message, { cause });

export const unavailable = (message: string, cause?: unknown): DomainError =>
  new DomainError('unavailable', message, { cause });

/** The message of anything thrown; a librdkafka callback's error may be a plain object with one. */
export const errorMessage = (e: unknown): string =>
  e instanceof Error
    ? e.message
    : typeof e === 'object' && e !== null && 'message' in e
      ? String(e.message)
      : String(e);

export function isDomainError(e: unknown, kind?: ErrorKind): e is DomainError {
  return e instanceof DomainError && (kind === undefined || e.kind === kind);
}
