import { describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { createLogger, type LogLevel } from './log.js';
import { DomainError } from './errors.js';

type Line = Record<string, unknown>;

/** A logger whose lines are kept, raw and parsed. */
function capture(
  base: Record<string, unknown> = {},
  opts: { level?: LogLevel; env?: Record<string, string | undefined> } = {},
) {
  const raw: string[] = [];
  const log = createLogger(base, { ...opts, env: opts.env ?? {}, write: (l) => raw.push(l) });
  const lines = (): Line[] => raw.map((l) => JSON.parse(l) as Line);
  return { log, raw, lines, last: (): Line => lines().at(-1)! };
}

describe('the line keeps its own level, time and msg', () => {
  test("a caller's `level` does not change the severity; the caller's value is kept beside it", () => {
    const c = capture();
    c.log.warn('ticket escalation', { ticketId: 't-1', level: 1 });
    const line = c.last();
    assert.equal(line.level, 'warn');
    assert.equal(line['fields.level'], 1);
    assert.equal(line.ticketId, 't-1');
    // Nothing in the raw text repeats the key: a parser that keeps the first one agrees too.
    assert.equal(c.raw[0]!.match(/"level":/g)?.length, 1);
  });

  test("a caller's `time` and `msg` do not replace the line's", () => {
    const c = capture();
    c.log.info('the real message', { time: 'yesterday', msg: 'a fake message' });
    const line = c.last();
    assert.equal(line.msg, 'the real message');
    assert.match(String(line.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(line['fields.time'], 'yesterday');
    assert.equal(line['fields.msg'], 'a fake message');
  });

  test('the same holds for the fields a child logger carries', () => {
    const c = capture();
    c.log.child({ level: 'component-level' }).error('boom');
    assert.equal(c.last().level, 'error');
    assert.equal(c.last()['fields.level'], 'component-level');
  });
});

describe('redaction', () => {
  test('keys that merely contain "pin" or "pan" are logged as they are', () => {
    const c = capture();
    const fields = {
      mapping: 'queue-a',
      wrapping: 'on',
      eventsShipping: 3,
      spinner: true,
      company: 'acme',
      span: 12,
      stopping: false,
    };
    c.log.info('innocent', fields);
    const line = c.last();
    for (const [k, v] of Object.entries(fields)) assert.deepEqual(line[k], v, k);
  });

  test('PINs and passwords are [redacted], at the top level and nested in requests', () => {
    const c = capture();
    c.log.info('bank request', {
      pin: '135790',
      newPin: '246802',
      pinHash: 'scrypt$...',
      password: 'hunter2',
      req: { pin: '111111', op: 'verifyPin' },
      request: { args: { pin: '222222', newPin: '333333' } },
      params: { password: 'hunter3' },
      desk: { newPassword: 'hunter4', oldPassword: 'hunter5', sessionToken: 'tok-hunter6' },
      passwordHash: 'scrypt$hunter7',
      token: 'hunter8-token',
      metadata: { authorization: 'Bearer hunter9-bearer' },
    });
    const line = c.last();
    assert.equal(line.pin, '[redacted]');
    assert.equal(line.newPin, '[redacted]');
    assert.equal(line.pinHash, '[redacted]');
    assert.equal(line.password, '[redacted]');
    assert.deepEqual(line.req, { pin: '[redacted]', op: 'verifyPin' });
    assert.deepEqual(line.request, { args: { pin: '[redacted]', newPin: '[redacted]' } });
    assert.deepEqual(line.params, { password: '[redacted]' });
    assert.deepEqual(line.desk, {
      newPassword: '[redacted]',
      oldPassword: '[redacted]',
      sessionToken: '[redacted]',
    });
    // A desk session's bearer token, bare or as the gRPC metadata that carries it.
    assert.equal(line.token, '[redacted]');
    assert.deepEqual(line.metadata, { authorization: '[redacted]' });
    for (const secret of [
      '135790',
      '246802',
      'scrypt',
      'hunter2',
      '111111',
      '222222',
      '333333',
      'hunter',
      'tok-',
    ])
      assert.ok(!c.raw[0]!.includes(secret), `${secret} reached the log`);
  });

  test('a card number keeps at most its first 6 and last 4 digits', () => {
    const c = capture();
    c.log.info('card loss', {
      cardNumber: '6228480000001234',
      cmd: { op: 'verifyPin', args: { subject: { cardNumber: '6222020000001001' } } },
      pan: '4000 0012 3456 7899',
      card: '622202000000300',
      cards: ['6222020000002001', '123'],
    });
    const line = c.last();
    assert.equal(line.cardNumber, '622848******1234');
    assert.deepEqual(line.cmd, { op: 'verifyPin', args: { subject: { cardNumber: '622202******1001' } } });
    assert.equal(line.pan, '400000******7899');
    // 15 digits: fewer shown at the front, so at least six stay hidden.
    assert.equal(line.card, '62220******0300');
    assert.deepEqual(line.cards, ['622202******2001', '[redacted]']);
    assert.ok(!c.raw[0]!.includes('6228480000001234'));
  });

  test('a child logger redacts what it carries; the caller objects are not modified', () => {
    const c = capture();
    const req = { pin: '999999', op: 'x' };
    c.log.child({ pin: '888888', cardNumber: '6228480000005678' }).info('child', { req });
    const line = c.last();
    assert.equal(line.pin, '[redacted]');
    assert.equal(line.cardNumber, '622848******5678');
    assert.deepEqual(line.req, { pin: '[redacted]', op: 'x' });
    assert.equal(req.pin, '999999');
  });
});

describe('errors are logged under `err`', () => {
  test("a DomainError keeps its kind, its field and its cause's message", () => {
    const c = capture();
    const root = new Error('connection refused');
    const e = new DomainError('invalid-argument', 'flow.nodes.main.next: no such node', {
      field: 'flow.nodes.main.next',
      cause: root,
    });
    c.log.warn('topology refused', { err: e });
    const err = c.last().err as Record<string, unknown>;
    assert.equal(err.type, 'DomainError');
    assert.equal(err.kind, 'invalid-argument');
    assert.equal(err.field, 'flow.nodes.main.next');
    assert.equal(err.message, 'flow.nodes.main.next: no such node');
    const cause = err.cause as Record<string, unknown>;
    assert.equal(cause.message, 'connection refused');
    assert.equal(cause.type, 'Error');
    // An unexpected error keeps its stack (that is how it gets found); an expected one does not.
    assert.match(String(cause.stack), /connection refused/);
    assert.equal(err.stack, undefined);
  });

  test('a cause chain is followed to its end, and a cycle does not hang the logger', () => {
    const c = capture();
    const a = new Error('a');
    const b = new DomainError('unavailable', 'b', { cause: a });
    const top = new DomainError('internal', 'top', { cause: b });
    (a as { cause?: unknown }).cause = top; // a cycle
    c.log.error('chain', { err: top });
    const err = c.last().err as { kind: string; cause: { kind: string; cause: { message: string } } };
    assert.equal(err.kind, 'internal');
    assert.equal(err.cause.kind, 'unavailable');
    assert.equal(err.cause.cause.message, 'a');
  });

  test('`error` is not a field name: the compiler sends the caller to `err`', () => {
    const c = capture();
    // @ts-expect-error -- checked by tsc: an error goes under `err`, the one way in the tree.
    c.log.warn('old style', { error: new Error('boom') });
    assert.equal(c.lines().length, 1);
  });

  test('a thrown value that is not an Error still logs a message', () => {
    const c = capture();
    c.log.warn('odd', { err: 'a string was thrown' });
    assert.deepEqual(c.last().err, { type: 'string', message: 'a string was thrown' });
  });
});

describe('levels', () => {
  test('an invalid LOG_LEVEL is an error naming the variable and the allowed values', () => {
    assert.throws(
      () => createLogger({}, { env: { LOG_LEVEL: 'verbose' }, write: () => {} }),
      (e: unknown) => {
        assert.ok(e instanceof DomainError);
        assert.equal(e.kind, 'invalid-argument');
        assert.equal(e.field, 'LOG_LEVEL');
        assert.match(e.message, /LOG_LEVEL/);
        assert.match(e.message, /debug, info, warn, error/);
        assert.match(e.message, /"verbose"/);
        return true;
      },
    );
  });

  test('LOG_LEVEL sets the threshold; an explicit level wins over it', () => {
    const c = capture({}, { env: { LOG_LEVEL: 'warn' } });
    c.log.info('dropped');
    c.log.warn('kept');
    assert.deepEqual(
      c.lines().map((l) => l.msg),
      ['kept'],
    );
    const d = capture({}, { env: { LOG_LEVEL: 'warn' }, level: 'debug' });
    d.log.debug('kept');
    assert.equal(d.lines().length, 1);
  });

  test('without LOG_LEVEL the threshold is info', () => {
    const c = capture({}, { env: {} });
    c.log.debug('dropped');
    c.log.info('kept');
    assert.deepEqual(
      c.lines().map((l) => l.msg),
      ['kept'],
    );
  });
});

test('child loggers carry their component fields, nested children add to them', () => {
  const c = capture({ site: 'chongqing' });
  const link = c.log.child({ component: 'hub-link' });
  link.child({ sessionId: 's-1' }).info('up', { state: 'up' });
  const line = c.last();
  assert.equal(line.site, 'chongqing');
  assert.equal(line.component, 'hub-link');
  assert.equal(line.sessionId, 's-1');
  assert.equal(line.state, 'up');
  assert.equal(line.msg, 'up');
  assert.equal(line.level, 'info');
});
