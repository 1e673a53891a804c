/**
 * PIN lockout across calls (port.ts `PinLockPolicy`): the same table run against the in-memory
 * host and the reference ledger on real Postgres (skipped, loudly, without TEST_PG_URL). Wrong
 * PINs are counted per customer at the host, so a caller who redials does not get fresh tries;
 * a locked customer is refused with `locked` (not a wrong PIN) even with the right PIN; a right
 * PIN before the limit resets the count; the lock lapses after its period on the host's clock;
 * every lock is recorded once.
 */
import { afterAll, beforeAll, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import type pg from 'pg';
import { ManualClock } from '../clock.js';
import { isDomainError } from '../errors.js';
import { createPool } from '../pg/pool.js';
import { freshDatabase, type TestDatabase } from '../../test/support/pg.js';
import { DEMO_LEDGER_CUSTOMERS } from './demo.js';
import { InMemoryBankHost, type PinLockRecord } from './memory.js';
import { applyLedgerMigrations } from './migrate.js';
import { PgLedgerBankHost, seedDemoLedger } from './pg-ledger.js';
import { type BankHost, type PinLockPolicy, DEFAULT_PIN_LOCK } from './port.js';

/** One adapter: a host on a manual clock, its lock records, and a way back to a clean slate. */
interface Subject {
  make(clock: ManualClock, pinLock?: PinLockPolicy): Promise<BankHost>;
  locks(): Promise<PinLockRecord[]>;
  reset(): Promise<void>;
}

const C = 'c-1001';
const RIGHT = '135790';
const CARD = '6222020000001001';
const DAY = 24 * 60 * 60 * 1000;
const T0 = 1_780_000_000_000;

function runTable(get: () => Subject) {
  let clock: ManualClock;
  let host: BankHost;
  const fresh = async (pinLock?: PinLockPolicy) => {
    await get().reset();
    clock = new ManualClock(T0);
    host = await get().make(clock, pinLock);
  };
  const wrong = () => host.verifyPin({ customerId: C }, '000000');
  const right = () => host.verifyPin({ customerId: C }, RIGHT);

  test('the default policy is three wrong PINs, locked for 24 hours', () => {
    assert.deepEqual(DEFAULT_PIN_LOCK, { maxFailures: 3, lockMs: DAY });
  });

  test('three wrong PINs over separate calls lock the customer; the right PIN is then refused as locked', async () => {
    await fresh();
    assert.deepEqual(await wrong(), { verified: false });
    clock.advance(60_000); // the caller hangs up and redials
    assert.deepEqual(await wrong(), { verified: false });
    clock.advance(60_000);
    assert.deepEqual(await wrong(), {
      verified: false,
      locked: true,
      lockedUntilMs: T0 + 120_000 + DAY,
      lockedNow: true,
    });
    clock.advance(60_000);
    assert.deepEqual(await right(), {
      verified: false,
      locked: true,
      lockedUntilMs: T0 + 120_000 + DAY,
      lockedNow: false,
    });
    assert.deepEqual(await get().locks(), [
      { customerId: C, failures: 3, lockedAtMs: T0 + 120_000, lockedUntilMs: T0 + 120_000 + DAY },
    ]);
  });

  test("a card's wrong PINs count against its customer, and a locked customer's card is refused too", async () => {
    await fresh();
    await wrong();
    await wrong();
    const byCard = await host.verifyPin({ cardNumber: CARD }, '111111');
    assert.equal(byCard.locked, true);
    assert.equal((await host.verifyPin({ cardNumber: CARD }, RIGHT)).locked, true);
    assert.equal((await get().locks()).length, 1, 'one lock, recorded once');
  });

  test('a right PIN before the limit resets the count', async () => {
    await fresh();
    await wrong();
    await wrong();
    assert.deepEqual(await right(), { verified: true, customerId: C });
    assert.deepEqual(await wrong(), { verified: false });
    assert.deepEqual(await wrong(), { verified: false });
    assert.deepEqual(await right(), { verified: true, customerId: C });
    assert.deepEqual(await get().locks(), []);
  });

  test("the lock lapses after its period on the host's clock, and the count starts again", async () => {
    await fresh();
    await wrong();
    await wrong();
    const lock = await wrong();
    assert.ok(lock.locked);
    clock.set(lock.lockedUntilMs - 1);
    assert.equal((await right()).locked, true, 'still locked a millisecond before the end');
    clock.set(lock.lockedUntilMs);
    assert.deepEqual(await wrong(), { verified: false }, 'lapsed: a wrong PIN is the first of a new count');
    assert.deepEqual(await wrong(), { verified: false });
    assert.deepEqual(await right(), { verified: true, customerId: C });
  });

  test('the policy is set where the host is built', async () => {
    await fresh({ maxFailures: 2, lockMs: 15 * 60_000 });
    await wrong();
    assert.deepEqual(await wrong(), {
      verified: false,
      locked: true,
      lockedUntilMs: T0 + 15 * 60_000,
      lockedNow: true,
    });
    clock.advance(15 * 60_000);
    assert.deepEqual(await right(), { verified: true, customerId: C });
  });

  test('a bad policy is refused where the host is built, naming the field', async () => {
    await get().reset();
    await assert.rejects(
      get().make(new ManualClock(T0), { maxFailures: 0, lockMs: DAY }),
      (e: unknown) => isDomainError(e) && e.kind === 'invalid-argument' && e.field === 'pinLock.maxFailures',
    );
    await assert.rejects(
      get().make(new ManualClock(T0), { maxFailures: 3, lockMs: -1 }),
      (e: unknown) => isDomainError(e) && e.kind === 'invalid-argument' && e.field === 'pinLock.lockMs',
    );
  });

  test('an unlock lifts the lock at once, resets the count, and the lock records who and why', async () => {
    await fresh();
    await wrong();
    await wrong();
    await wrong();
    clock.advance(5 * 60_000);
    const by = { customerId: C, by: 'agent-007', reason: 'identity verified by security questions' };
    assert.deepEqual(await host.unlockPin(by), { customerId: C, status: 'unlocked' });
    assert.deepEqual(await get().locks(), [
      {
        customerId: C,
        failures: 3,
        lockedAtMs: T0,
        lockedUntilMs: T0 + DAY,
        unlockedAtMs: T0 + 5 * 60_000,
        unlockedBy: 'agent-007',
        unlockReason: 'identity verified by security questions',
      },
    ]);
    assert.deepEqual(await wrong(), { verified: false }, 'a fresh count after the unlock');
    assert.deepEqual(await wrong(), { verified: false });
    assert.deepEqual(await right(), { verified: true, customerId: C });
    assert.deepEqual(await host.unlockPin(by), { customerId: C, status: 'not-locked' });
    assert.equal((await get().locks()).length, 1, 'an unlock of nothing records nothing');
  });

  test('an unlock of a lapsed lock is not-locked and leaves its record as it was', async () => {
    await fresh();
    for (let i = 0; i < 3; i++) await wrong();
    clock.advance(DAY);
    assert.deepEqual(await host.unlockPin({ customerId: C, by: 'agent-007', reason: 'late' }), {
      customerId: C,
      status: 'not-locked',
    });
    assert.equal((await get().locks())[0]!.unlockedBy, undefined);
  });

  test('an unlock names an unknown customer not-found, and a malformed one the field', async () => {
    await fresh();
    await assert.rejects(
      host.unlockPin({ customerId: 'c-nobody', by: 'agent-007', reason: 'x' }),
      (e: unknown) => isDomainError(e) && e.kind === 'not-found',
    );
    await assert.rejects(
      host.unlockPin({ customerId: C, by: '', reason: 'x' }),
      (e: unknown) => isDomainError(e) && e.kind === 'invalid-argument' && e.field === 'by',
    );
    await assert.rejects(
      host.unlockPin({ customerId: C, by: 'agent-007', reason: '' }),
      (e: unknown) => isDomainError(e) && e.kind === 'invalid-argument' && e.field === 'reason',
    );
  });

  test('the lock status says locked (and until when) while a lock is in force, not after it lapses or is lifted', async () => {
    await fresh();
    assert.deepEqual(await host.pinLockStatus(C), { customerId: C, locked: false });
    for (let i = 0; i < 3; i++) await wrong();
    assert.deepEqual(await host.pinLockStatus(C), { customerId: C, locked: true, lockedUntilMs: T0 + DAY });
    assert.deepEqual(
      await host.pinLockStatus(C),
      { customerId: C, locked: true, lockedUntilMs: T0 + DAY },
      'reading the status changes nothing',
    );
    clock.advance(DAY);
    assert.deepEqual(await host.pinLockStatus(C), { customerId: C, locked: false }, 'a lapsed lock');
    for (let i = 0; i < 3; i++) await wrong();
    await host.unlockPin({ customerId: C, by: 'agent-007', reason: 'verified' });
    assert.deepEqual(await host.pinLockStatus(C), { customerId: C, locked: false }, 'a lifted lock');
    await assert.rejects(
      host.pinLockStatus('c-nobody'),
      (e: unknown) => isDomainError(e) && e.kind === 'not-found',
    );
  });

  test('an unknown subject is a plain refusal and counts against nobody', async () => {
    await fresh();
    for (let i = 0; i < 4; i++) {
      assert.deepEqual(await host.verifyPin({ customerId: 'c-nobody' }, '000000'), { verified: false });
    }
    assert.deepEqual(await right(), { verified: true, customerId: C });
    assert.deepEqual(await get().locks(), []);
  });
}

describe('PIN lockout: the in-memory host', () => {
  let last: InMemoryBankHost | undefined;
  runTable(() => ({
    make: async (clock, pinLock) => {
      last = await InMemoryBankHost.withCustomers(DEMO_LEDGER_CUSTOMERS, clock, { pinLock });
      return last;
    },
    locks: async () => [...(last?.pinLocks ?? [])],
    reset: async () => {
      last = undefined;
    },
  }));
});

const skip = process.env.TEST_PG_URL ? false : 'TEST_PG_URL is not set (run with npm test)';

describe.skipIf(skip)('PIN lockout: the pg ledger', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  beforeAll(async () => {
    db = await freshDatabase('ledger_pinlock');
    pool = createPool(db.url, { applicationName: 'test/ledger-pinlock', max: 4 });
    await applyLedgerMigrations(pool);
    await seedDemoLedger(pool, DEMO_LEDGER_CUSTOMERS);
  });
  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });
  runTable(() => ({
    make: async (clock, pinLock) => new PgLedgerBankHost(pool, { clock, pinLock }),
    locks: async () =>
      (
        await pool.query<{
          customer_id: string;
          failures: number;
          locked_at_ms: string;
          locked_until_ms: string;
          unlocked_at_ms: string | null;
          unlocked_by: string | null;
          unlock_reason: string | null;
        }>('SELECT * FROM ledger.pin_locks ORDER BY lock_id')
      ).rows.map((r) => ({
        customerId: r.customer_id,
        failures: r.failures,
        lockedAtMs: Number(r.locked_at_ms),
        lockedUntilMs: Number(r.locked_until_ms),
        ...(r.unlocked_at_ms === null
          ? {}
          : {
              unlockedAtMs: Number(r.unlocked_at_ms),
              unlockedBy: r.unlocked_by!,
              unlockReason: r.unlock_reason!,
            }),
      })),
    reset: async () => {
      await pool.query('DELETE FROM ledger.pin_locks');
      await pool.query('UPDATE ledger.customers SET pin_failures = 0, pin_locked_until_ms = NULL');
    },
  }));
});
