import { test } from 'vitest';
import assert from 'node:assert/strict';
import { DomainError } from '../../shared/errors.js';
import { fromPgError } from '../../shared/pg/errors.js';
import { admissionOpen, classifyWriteError, retryDelayMs } from './write-policy.js';

const pgError = (code: string): Error => Object.assign(new Error(`sqlstate ${code}`), { code });
const errno = (code: string): Error => Object.assign(new Error(`connect ${code} 127.0.0.1:5432`), { code });

test('the database being away is transient, raw or already mapped', () => {
  for (const e of [
    errno('ECONNREFUSED'),
    errno('ECONNRESET'),
    new Error('Connection terminated unexpectedly'),
    new Error('timeout exceeded when trying to connect'),
    pgError('57P01'), // admin shutdown
    pgError('57P03'), // starting up
    pgError('08006'),
    pgError('08001'),
    pgError('53300'), // too many connections
    pgError('40001'),
    fromPgError(pgError('57P01')),
    fromPgError(errno('ECONNREFUSED')),
    fromPgError(new Error('Connection terminated unexpectedly')),
    new DomainError('unavailable', 'database unreachable'),
  ]) {
    assert.equal(classifyWriteError(e), 'transient', String(e));
  }
});

test('a constraint, a state the write did not expect or a bug is permanent', () => {
  for (const e of [
    pgError('23505'),
    pgError('23503'),
    pgError('22P02'),
    fromPgError(pgError('23505')),
    new DomainError('failed-precondition', 'call c1 is ended, not ivr'),
    new DomainError('not-found', 'call "c1" not found'),
    new DomainError('internal', 'pg-boss refused the callback job'),
    new TypeError("Cannot read properties of undefined (reading 'callId')"),
    'a string',
  ]) {
    assert.equal(classifyWriteError(e), 'permanent', String(e));
  }
});

test('backoff doubles from the first wait and stops at the cap', () => {
  const p = { firstMs: 100, maxMs: 1_000 };
  assert.deepEqual(
    [1, 2, 3, 4, 5, 50].map((n) => retryDelayMs(n, p)),
    [100, 200, 400, 800, 1_000, 1_000],
  );
  assert.equal(retryDelayMs(0, p), 0);
});

test('admission closes when the buffer is full, or past the threshold while the store is down', () => {
  const p = { capacity: 100, closeWhileDownAt: 10 };
  assert.equal(admissionOpen({ buffered: 99, storeUp: true }, p), true);
  assert.equal(admissionOpen({ buffered: 100, storeUp: true }, p), false);
  assert.equal(admissionOpen({ buffered: 9, storeUp: false }, p), true);
  assert.equal(admissionOpen({ buffered: 10, storeUp: false }, p), false);
  // Closed while down only because of what waits: an empty buffer takes the next call, whose
  // first row then tells whether the store is back.
  assert.equal(admissionOpen({ buffered: 0, storeUp: false }, { capacity: 100, closeWhileDownAt: 0 }), false);
});
