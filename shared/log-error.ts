/**
 * How an error is written to a log line: the `err` field's serializer (shared/log.ts). One
 * shape for every thrown value, so a line can always be read as `err.type` / `err.message`.
 */
import { DomainError } from './errors.js';

export interface SerializedError {
  /** The error's name (`DomainError`, `TypeError`...), or `typeof` a thrown non-error. */
  type: string;
  message: string;
  kind?: string;
  field?: string;
  /** errno, gRPC status, SQLSTATE or librdkafka code, when the error carries one. */
  code?: string | number;
  stack?: string;
  /** The inner errors of an AggregateError (e.g. a connect that tried IPv6 and IPv4). */
  errors?: SerializedError[];
  cause?: SerializedError;
  /** A thrown object that is not an error, kept as it is so the redaction paths still see it. */
  value?: unknown;
}

// Causes and aggregates are bounded: a log line is not the place for a thousand-error tree.
const MAX_DEPTH = 8;
const MAX_ERRORS = 10;

type ErrorLike = Error | { message: string; name?: unknown; stack?: unknown; cause?: unknown };

const isErrorLike = (v: unknown): v is ErrorLike =>
  v instanceof Error ||
  (typeof v === 'object' && v !== null && typeof (v as { message?: unknown }).message === 'string');

export function serializeError(value: unknown): SerializedError {
  return walk(value, 0, new Set());
}

function walk(v: unknown, depth: number, seen: Set<unknown>): SerializedError {
  if (!isErrorLike(v)) {
    if (typeof v === 'object' && v !== null) return { type: 'object', message: '(not an Error)', value: v };
    return { type: v === null ? 'null' : typeof v, message: String(v) };
  }
  const out: SerializedError = { type: typeName(v), message: v.message };
  if (seen.has(v)) return { ...out, message: `${out.message} (cycle)` };
  seen.add(v);
  if (v instanceof DomainError) {
    out.kind = v.kind;
    if (v.field !== undefined) out.field = v.field;
  }
  const code = (v as { code?: unknown }).code;
  if (typeof code === 'string' || typeof code === 'number') out.code = code;
  // A DomainError other than 'internal' is an expected condition that its kind and message
  // describe; its stack is noise repeated on every retry. Anything else is a bug to be found.
  const expected = v instanceof DomainError && v.kind !== 'internal';
  if (!expected && typeof v.stack === 'string') out.stack = v.stack;
  if (depth >= MAX_DEPTH) return out;
  const inner = (v as { errors?: unknown }).errors;
  if (Array.isArray(inner) && inner.length > 0)
    out.errors = inner.slice(0, MAX_ERRORS).map((e) => walk(e, depth + 1, seen));
  if (v.cause !== undefined) out.cause = walk(v.cause, depth + 1, seen);
  return out;
}

function typeName(e: ErrorLike): string {
  if (typeof e.name === 'string' && e.name !== '') return e.name;
  const ctor = (e as { constructor?: { name?: unknown } }).constructor;
  return typeof ctor?.name === 'string' && ctor.name !== '' ? ctor.name : 'Error';
}
