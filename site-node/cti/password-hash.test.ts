import { test } from 'vitest';
import assert from 'node:assert/strict';
import { checkNewPassword, hashPassword, verifyPassword } from './password-hash.js';
import { TEST_SCRYPT } from './testing.js';

test('a stored password names its parameters and salt, and only the right password matches', async () => {
  const stored = await hashPassword('correct horse battery', TEST_SCRYPT);
  assert.match(stored, /^scrypt\$1024\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
  assert.notEqual(stored, await hashPassword('correct horse battery', TEST_SCRYPT), 'a fresh salt each time');
  assert.equal(await verifyPassword('correct horse battery', stored), true);
  assert.equal(await verifyPassword('correct horse batterY', stored), false);
  assert.equal(await verifyPassword('', stored), false);
});

test('no stored hash, or a damaged one, never matches (after the same work)', async () => {
  assert.equal(await verifyPassword('anything at all', undefined), false);
  assert.equal(await verifyPassword('anything at all', 'scrypt$1024$8$1$AAAA$BBBB'), false);
  assert.equal(await verifyPassword('anything at all', 'plain'), false);
  // Parameters that would make a check allocate gigabytes are refused, not run.
  assert.equal(await verifyPassword('x', `scrypt$${2 ** 30}$8$1$AAAA$${'A'.repeat(43)}=`), false);
});

test('a new password is 8 to 128 characters, named in the error', () => {
  assert.throws(() => checkNewPassword('short'), /new_password: must be 8 to 128 characters/);
  assert.throws(() => checkNewPassword('x'.repeat(129)), /new_password/);
  checkNewPassword('eight ch');
});
