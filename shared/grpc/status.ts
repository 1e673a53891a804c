/**
 * The ONE translation point between domain errors and gRPC status codes (docs/architecture.md §3.5).
 *
 * Servers: `toGrpcStatus(err)` turns whatever a handler threw into a status object; a
 * DomainError keeps its message (it is written for the caller) and its field travels in the
 * `pcc-error-field` trailer (and its `trailers`, if any, as they are); anything else becomes INTERNAL with a generic message, the
 * details logged server-side only (no stack trace ever leaves the process).
 * Clients: `fromGrpcError(err)` turns a ServiceError back into a DomainError.
 * Handlers: `unary(...)` and `serverStream(...)` wrap a handler so that it can simply
 * throw.
 */
import {
  Metadata,
  status as Status,
  type handleServerStreamingCall,
  type handleUnaryCall,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceError,
  type StatusObject,
} from '@grpc/grpc-js';
import { DomainError, type ErrorKind } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';

/** Trailer that carries DomainError.field, so clients can point at the offending field. */
export const ERROR_FIELD_KEY = 'pcc-error-field';
/** Trailer that carries the DomainError kind, so clients get `conflict` back (not `aborted`). */
export const ERROR_KIND_KEY = 'pcc-error-kind';
/** The message sent for anything that is not a DomainError. */
export const INTERNAL_MESSAGE = 'internal error';

const KIND_TO_CODE: Record<ErrorKind, Status> = {
  'invalid-argument': Status.INVALID_ARGUMENT,
  'not-found': Status.NOT_FOUND,
  'already-exists': Status.ALREADY_EXISTS,
  conflict: Status.ABORTED,
  'failed-precondition': Status.FAILED_PRECONDITION,
  'permission-denied': Status.PERMISSION_DENIED,
  unauthenticated: Status.UNAUTHENTICATED,
  'resource-exhausted': Status.RESOURCE_EXHAUSTED,
  unavailable: Status.UNAVAILABLE,
  'deadline-exceeded': Status.DEADLINE_EXCEEDED,
  internal: Status.INTERNAL,
};

const CODE_TO_KIND = new Map<Status, ErrorKind>([
  [Status.INVALID_ARGUMENT, 'invalid-argument'],
  [Status.OUT_OF_RANGE, 'invalid-argument'],
  [Status.NOT_FOUND, 'not-found'],
  [Status.ALREADY_EXISTS, 'already-exists'],
  [Status.ABORTED, 'conflict'],
  [Status.FAILED_PRECONDITION, 'failed-precondition'],
  [Status.PERMISSION_DENIED, 'permission-denied'],
  [Status.UNAUTHENTICATED, 'unauthenticated'],
  [Status.RESOURCE_EXHAUSTED, 'resource-exhausted'],
  [Status.UNAVAILABLE, 'unavailable'],
  [Status.CANCELLED, 'unavailable'],
  [Status.DEADLINE_EXCEEDED, 'deadline-exceeded'],
]);

/**
 * The most of a message a status carries. The message travels in the `grpc-message` trailer,
 * and a peer refuses a header block over its limit (a few KiB to 16 KiB): the call then fails
 * only at its deadline, with nothing of the message. A topology with thousands of problems
 * says far more than that.
 */
export const MAX_STATUS_MESSAGE_BYTES = 4096;

/**
 * A message cut to fit a status: whole lines from the start, then one line saying how many
 * were left out (`unit`: what a line is, e.g. `problems`). Short messages pass unchanged.
 */
export function capStatusMessage(
  message: string,
  unit = 'lines',
  maxBytes = MAX_STATUS_MESSAGE_BYTES,
): string {
  if (Buffer.byteLength(message) <= maxBytes) return message;
  const lines = message.split('\n');
  const kept: string[] = [];
  // Room for the closing line, whatever its count.
  let room = maxBytes - 80;
  for (const line of lines) {
    const size = Buffer.byteLength(line) + 1;
    if (size > room) break;
    kept.push(line);
    room -= size;
  }
  // A single line longer than the limit is cut by characters, not dropped.
  if (kept.length === 0)
    return `${message.slice(0, Math.floor(maxBytes / 4))}… (cut: ${Buffer.byteLength(message)} bytes in all)`;
  return `${kept.join('\n')}\n  … and ${lines.length - kept.length} more ${unit}`;
}

export function codeForKind(kind: ErrorKind): Status {
  return KIND_TO_CODE[kind];
}

/**
 * Translate anything a handler threw into a gRPC status. Never leaks a stack trace or the
 * message of a non-domain error: those are logged (with `context`) and answered INTERNAL.
 */
export function toGrpcStatus(
  err: unknown,
  log: Logger = silentLogger,
  context: Record<string, unknown> = {},
): StatusObject {
  const metadata = new Metadata();
  if (err instanceof DomainError && err.kind !== 'internal') {
    metadata.set(ERROR_KIND_KEY, err.kind);
    if (err.field !== undefined) metadata.set(ERROR_FIELD_KEY, err.field);
    for (const [k, v] of Object.entries(err.trailers ?? {})) metadata.set(k, v);
    const details = capStatusMessage(err.message, err.problems ? 'problems' : 'lines');
    return { code: KIND_TO_CODE[err.kind], details, metadata };
  }
  log.error('rpc failed with an unexpected error', { ...context, err });
  return { code: Status.INTERNAL, details: INTERNAL_MESSAGE, metadata };
}

function isServiceError(e: unknown): e is ServiceError {
  return e instanceof Error && typeof (e as Partial<ServiceError>).code === 'number';
}

/**
 * Client side: a failed call's error as a DomainError. The kind comes from the trailer when
 * the server is ours, else from the status code; the field from the trailer. The original
 * error is kept as `cause`. Unknown codes (INTERNAL, UNKNOWN, ...) become `internal`.
 */
export function fromGrpcError(err: unknown): DomainError {
  if (err instanceof DomainError) return err;
  if (!isServiceError(err)) {
    return new DomainError('internal', err instanceof Error ? err.message : String(err), { cause: err });
  }
  const trailerKind = err.metadata?.get(ERROR_KIND_KEY)[0];
  const field = err.metadata?.get(ERROR_FIELD_KEY)[0];
  const kind =
    typeof trailerKind === 'string' && trailerKind in KIND_TO_CODE
      ? (trailerKind as ErrorKind)
      : (CODE_TO_KIND.get(err.code) ?? 'internal');
  const message = err.details || err.message;
  return new DomainError(kind, message, {
    cause: err,
    ...(typeof field === 'string' ? { field } : {}),
  });
}

export interface HandlerOptions {
  log?: Logger;
  /** Name for logs, e.g. `AgentDesk.Login`. */
  method?: string;
}

/**
 * Wrap an async unary handler: its return value is the response, anything it throws is
 * translated by `toGrpcStatus`. The callback is called exactly once.
 */
export function unary<Req, Res>(
  handler: (request: Req, call: ServerUnaryCall<Req, Res>) => Promise<Res> | Res,
  opts: HandlerOptions = {},
): handleUnaryCall<Req, Res> {
  const log = opts.log ?? silentLogger;
  return (call, callback) => {
    let result: Promise<Res>;
    try {
      result = Promise.resolve(handler(call.request, call));
    } catch (e) {
      result = Promise.reject(e);
    }
    result.then(
      (res) => callback(null, res),
      (e: unknown) => {
        const st = toGrpcStatus(e, log, { method: opts.method });
        callback({ ...st, name: 'ServiceError', message: st.details }, null);
      },
    );
  };
}

/**
 * Wrap a server-streaming handler. The handler writes to the stream and either ends it or
 * leaves it open (for subscriptions); anything it throws (or rejects with) ends the stream
 * with the translated status. Use `failStream` to end a stream with an error later on.
 */
export function serverStream<Req, Res>(
  handler: (call: ServerWritableStream<Req, Res>) => Promise<void> | void,
  opts: HandlerOptions = {},
): handleServerStreamingCall<Req, Res> {
  const log = opts.log ?? silentLogger;
  return (call) => {
    let result: Promise<void>;
    try {
      result = Promise.resolve(handler(call));
    } catch (e) {
      result = Promise.reject(e);
    }
    result.catch((e: unknown) => failStream(call, e, log, opts.method));
  };
}

/** End a server stream with the status for `err` (no-op if the call is already over). */
export function failStream<Req, Res>(
  call: ServerWritableStream<Req, Res>,
  err: unknown,
  log: Logger = silentLogger,
  method?: string,
): void {
  if (call.cancelled || call.writableEnded || call.destroyed) return;
  // grpc-js: an 'error' event on a server writable stream ends it with that status.
  call.emit('error', toGrpcStatus(err, log, { method }));
}
