import { afterAll, beforeAll, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { isDomainError } from '../../shared/errors.js';
import type { StoredBinding } from '../telephony/phone-registrar.js';
import { PgRegistrationStore } from './sip-registrations-repo.js';
import { pgSkip, siteTestDb, type SiteTestDb } from './testing.js';

const T0 = Date.UTC(2026, 11, 2, 9, 0, 0);
const binding = (contact: string, o: Partial<StoredBinding> = {}): StoredBinding => ({
  aor: 'sip:1001@chongqing.cc.example',
  contact,
  callId: 'reg-1@192.0.2.10',
  cseq: 7,
  expiresAtMs: T0 + 3_600_000,
  q: 0.7,
  received: { transport: 'udp', host: '192.0.2.10', port: 5060 },
  userAgent: 'baresip v3.10.0',
  registeredAtMs: T0,
  ...o,
});

describe.skipIf(pgSkip)('sip registrations in the site database', () => {
  let t: SiteTestDb;
  beforeAll(async () => {
    t = await siteTestDb('sip_registrations');
  });
  afterAll(async () => {
    await t?.close();
  });

  test('bindings round-trip exactly: a put inserts or replaces, a delete removes', async () => {
    const store = new PgRegistrationStore(t.pool);
    assert.deepEqual(await store.load(), []);
    await store.apply([]);
    const a = binding('sip:1001@192.0.2.10');
    const b = binding('sip:1001@[2001:db8::10]:5062;transport=tcp;ob', {
      q: undefined,
      userAgent: undefined,
      received: { transport: 'tcp', host: '2001:db8::10', port: 40000 },
    });
    await store.apply([
      { kind: 'put', binding: a },
      { kind: 'put', binding: b },
    ]);
    assert.deepEqual(await store.load(), [a, b]);
    const refreshed = { ...a, cseq: 8, expiresAtMs: T0 + 7_200_000, registeredAtMs: T0 + 1000 };
    await store.apply([
      { kind: 'put', binding: refreshed },
      { kind: 'delete', aor: b.aor, contact: b.contact },
    ]);
    assert.deepEqual(await store.load(), [refreshed]);
  });

  test('the writes of one change commit together or not at all', async () => {
    const store = new PgRegistrationStore(t.pool);
    const before = await store.load();
    await assert.rejects(
      store.apply([
        { kind: 'delete', aor: before[0]!.aor, contact: before[0]!.contact },
        { kind: 'put', binding: binding('sip:1001@192.0.2.99') },
        // A port the table refuses: the whole change is rolled back.
        {
          kind: 'put',
          binding: binding('sip:1001@192.0.2.98', { received: { transport: 'udp', host: 'x', port: 0 } }),
        },
      ]),
      (e: unknown) => isDomainError(e),
    );
    assert.deepEqual(await store.load(), before);
  });
});
