import { describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { Secret, hashPin, verifyPinHash } from './pin.js';

describe('PIN hashing', () => {
  test('salted scrypt: the hash never contains the PIN, two hashes differ, verify works', async () => {
    const a = await hashPin('135790');
    const b = await hashPin('135790');
    assert.ok(a.startsWith('scrypt$') && !a.includes('135790'));
    assert.notEqual(a, b);
    assert.equal(await verifyPinHash('135790', a), true);
    assert.equal(await verifyPinHash('135791', a), false);
    assert.equal(await verifyPinHash('', a), false);
    assert.equal(await verifyPinHash('135790', 'garbage'), false);
  });
  test('hashPin refuses non-digit input without echoing it', async () => {
    await assert.rejects(hashPin('12ab'), (e: Error) => !e.message.includes('12ab'));
  });
  test('a Secret never serialises or inspects its value', () => {
    const s = new Secret('424242');
    assert.equal(s.reveal(), '424242');
    assert.equal(JSON.stringify({ pin: s }), '{"pin":"[redacted]"}');
    assert.ok(!inspect({ s }).includes('424242'));
    assert.ok(!`${s}`.includes('424242'));
  });
});
