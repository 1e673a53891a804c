/**
 * Parse untrusted input (config files, flow files, RPC requests) with a zod schema and turn
 * every problem into one `invalid-argument` error that names each field. Nothing is half
 * applied: callers parse first and act only on the parsed value.
 */
import type { z } from 'zod';
import { DomainError } from './errors.js';

export function formatIssuePath(prefix: string, path: ReadonlyArray<PropertyKey>): string {
  let out = prefix;
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out || '(root)';
}

export function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown, what: string): z.infer<S> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const problems = r.error.issues.map((i) => `${formatIssuePath(what, i.path)}: ${i.message}`);
  const first = r.error.issues[0];
  return throwInvalid(problems, first ? formatIssuePath(what, first.path) : what);
}

/**
 * Throw one invalid-argument error listing every problem (each already names its field);
 * `cause` is what the problems were read from, when it is an error worth keeping (a parser's).
 */
export function throwInvalid(problems: string[], field: string, cause?: unknown): never {
  throw new DomainError(
    'invalid-argument',
    problems.length === 1 ? problems[0]! : `${problems.length} problems:\n  - ${problems.join('\n  - ')}`,
    { field, cause, problems },
  );
}
