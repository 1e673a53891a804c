import { describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { Metadata, status as Status, type ServiceError } from '@grpc/grpc-js';
import { DomainError, type ErrorKind } from '../errors.js';
import { createLogger } from '../log.js';
import {
  capStatusMessage,
  ERROR_FIELD_KEY,
  fromGrpcError,
  INTERNAL_MESSAGE,
  MAX_STATUS_MESSAGE_BYTES,
  toGrpcStatus,
  unary,
} from './status.js';

const table: Array<[ErrorKind, Status]> = [
  ['invalid-argument', Status.INVALID_ARGUMENT],
  ['not-found', Status.NOT_FOUND],
  ['already-exists', Status.ALREADY_EXISTS],
  ['conflict', Status.ABORTED],
  ['failed-precondition', Status.FAILED_PRECONDITION],
  ['permission-denied', Status.PERMISSION_DENIED],
  ['unauthenticated', Status.UNAUTHENTICATED],
  ['resource-exhausted', Status.RESOURCE_EXHAUSTED],
  ['unavailable', Status.UNAVAILABLE],
  ['deadline-exceeded', Status.DEADLINE_EXCEEDED],
];

function asServiceError(st: ReturnType<typeof toGrpcStatus>): ServiceError {
  return Object.assign(new Error(`${st.code} ${Status[st.code]}: ${st.details}`), st);
}

describe('grpc status translation', () => {
  for (const [kind, code] of table) {
    test(`${kind} <-> ${Status[code]}`, () => {
      const st = toGrpcStatus(new DomainError(kind, 'what went wrong', { field: 'a.b' }));
      assert.equal(st.code, code);
      assert.equal(st.details, 'what went wrong');
      assert.equal(st.metadata.get(ERROR_FIELD_KEY)[0], 'a.b');
      const back = fromGrpcError(asServiceError(st));
      assert.equal(back.kind, kind);
      assert.equal(back.field, 'a.b');
      assert.equal(back.message, 'what went wrong');
    });
  }

  test('anything else is INTERNAL with a generic message; the details are logged, not sent', () => {
    const lines: string[] = [];
    const log = createLogger({}, { write: (l) => lines.push(l) });
    const st = toGrpcStatus(new Error('db password=hunter2 at /srv/x.ts:1'), log, { method: 'X.Y' });
    assert.equal(st.code, Status.INTERNAL);
    assert.equal(st.details, INTERNAL_MESSAGE);
    assert.equal(st.metadata.getMap()[ERROR_FIELD_KEY], undefined);
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /X\.Y/);
    assert.equal(toGrpcStatus(new DomainError('internal', 'secret detail')).details, INTERNAL_MESSAGE);
    assert.equal(toGrpcStatus('a string').code, Status.INTERNAL);
  });

  test('foreign servers: kind from the code alone; unknown codes are internal', () => {
    const err = (code: Status): ServiceError =>
      Object.assign(new Error('x'), { code, details: 'd', metadata: new Metadata() });
    assert.equal(fromGrpcError(err(Status.ABORTED)).kind, 'conflict');
    assert.equal(fromGrpcError(err(Status.UNAVAILABLE)).kind, 'unavailable');
    assert.equal(fromGrpcError(err(Status.UNKNOWN)).kind, 'internal');
    assert.equal(fromGrpcError(new TypeError('boom')).kind, 'internal');
  });

  test('unary() answers with the result or the translated error, exactly once', async () => {
    const run = (h: Parameters<typeof unary<string, string>>[0]) =>
      new Promise<[unknown, unknown]>((resolve) => {
        const handler = unary<string, string>(h);
        // Only `request` is read by unary().
        handler({ request: 'in' } as never, (err, res) => resolve([err, res]));
      });
    assert.deepEqual(await run(async (r) => `${r}-out`), [null, 'in-out']);
    const [err] = await run(() => {
      throw new DomainError('not-found', 'agent "x" not found');
    });
    assert.equal((err as ServiceError).code, Status.NOT_FOUND);
    const [err2] = await run(async () => {
      throw new RangeError('oops');
    });
    assert.equal((err2 as ServiceError).code, Status.INTERNAL);
    assert.equal((err2 as ServiceError).details, INTERNAL_MESSAGE);
  });
});

describe('a long message is cut to fit a status', () => {
  test('short messages pass unchanged', () => {
    assert.equal(capStatusMessage('2 problems:\n  - a\n  - b'), '2 problems:\n  - a\n  - b');
  });

  test('a long list keeps whole lines from the start and counts the rest', () => {
    const problems = Array.from({ length: 3000 }, (_, i) => `sites[${i}].city: required`);
    const e = new DomainError('invalid-argument', `3000 problems:\n  - ${problems.join('\n  - ')}`, {
      problems,
    });
    const { details } = toGrpcStatus(e);
    assert.ok(Buffer.byteLength(details) <= MAX_STATUS_MESSAGE_BYTES, `${Buffer.byteLength(details)} bytes`);
    const lines = details.split('\n');
    assert.equal(lines[0], '3000 problems:');
    assert.equal(lines[1], '  - sites[0].city: required');
    const shown = lines.length - 2;
    assert.equal(lines.at(-1), `  … and ${3001 - 1 - shown} more problems`);
  });

  test('one line longer than the limit is cut by characters, with its size', () => {
    const cut = capStatusMessage('x'.repeat(10_000), 'lines', 1000);
    assert.ok(Buffer.byteLength(cut) <= 1000);
    assert.match(cut, /… \(cut: 10000 bytes in all\)$/);
  });
});
