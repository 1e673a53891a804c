import { test } from 'vitest';
import assert from 'node:assert/strict';
import { ManualClock } from '../../shared/clock.js';
import { DeskRoster } from './desk-access.js';
import { credentialVersion, DeskCredentials, MemoryCredentialStore } from './desk-credentials.js';
import { TEST_SCRYPT } from './testing.js';

const roster = new DeskRoster({ agents: [{ id: 'a01', name: 'a01' }], supervisors: [], teams: [] });

function make() {
  const store = new MemoryCredentialStore();
  return { store, creds: new DeskCredentials(store, roster, new ManualClock(0), TEST_SCRYPT) };
}

test('the store is asked for every id, known or not, so the time taken does not tell users apart', async () => {
  const { store, creds } = make();
  await creds.setPassword('a01', 'the right password', 'test');
  store.lookups = 0;
  assert.deepEqual(await creds.verify('nobody', 'the right password'), { ok: false, why: 'unknown user' });
  assert.equal(store.lookups, 1, 'an unknown id costs a lookup too');
  const ok = await creds.verify('a01', 'the right password');
  assert.equal(ok.ok, true);
  assert.equal(store.lookups, 2);
});

test("one's own change is stored only over the hash its old password matched", async () => {
  const { store, creds } = make();
  await creds.setPassword('a01', 'the old password', 'test');
  const checked = (await creds.verify('a01', 'the old password')).stored!;
  // A supervisor's reset lands between the check and the store.
  const reset = await creds.setPassword('a01', 'reset by the supervisor', 's01');
  await assert.rejects(creds.setPassword('a01', 'my own new one', 'a01', { as: 'self' }, checked), {
    kind: 'conflict',
    field: 'old_password',
  });
  assert.equal(credentialVersion(store.hashes.get('a01')!), reset, 'the reset stands');
  assert.equal(store.entries.length, 2, 'nothing audited for the change that was not stored');
});
