import { describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { isDomainError } from '../errors.js';
import type { CustomerProfile } from './customer.js';
import { parseCustomerProfile } from './customer-schema.js';

const good: CustomerProfile = {
  customerId: 'cq-c00001',
  name: '王伟',
  phones: ['13900000001', '02363881234', '+14155550123'],
  cards: ['6222020000000001'],
  homeSiteId: 'chongqing',
  segment: 'vip',
  language: 'zh',
  flags: { blacklisted: false, lostCard: true },
  accountIds: ['cq-a00001-cur'],
  version: 3,
};

/** Parse `good` with one field replaced; return the error's field, or 'ok'. */
function fieldOf(patch: Record<string, unknown>): string {
  try {
    parseCustomerProfile({ ...good, ...patch }, 'profile');
    return 'ok';
  } catch (e) {
    assert.ok(isDomainError(e, 'invalid-argument'), String(e));
    assert.ok(e.message.includes(e.field ?? '?'), `message names the field: ${e.message}`);
    return e.field ?? '';
  }
}

describe('parseCustomerProfile', () => {
  test('accepts a valid profile unchanged', () => {
    assert.deepEqual(parseCustomerProfile(good, 'profile'), good);
    assert.deepEqual(
      parseCustomerProfile({ ...good, language: 'en-US', phones: [], cards: [] }, 'p').language,
      'en-US',
    );
  });

  test('drops unknown keys (a cached profile can be written back as is)', () => {
    const cached = { ...good, cachedAtMs: 1, source: 'served' };
    assert.deepEqual(parseCustomerProfile(cached, 'profile'), good);
  });

  test('customerId: non-empty, at most 64 of [A-Za-z0-9_.-]', () => {
    assert.equal(fieldOf({ customerId: '' }), 'profile.customerId');
    assert.equal(fieldOf({ customerId: 'x'.repeat(65) }), 'profile.customerId');
    assert.equal(fieldOf({ customerId: 'a b' }), 'profile.customerId');
    assert.equal(fieldOf({ customerId: 'A_b.c-1' }), 'ok');
    assert.equal(fieldOf({ customerId: 'x'.repeat(64) }), 'ok');
  });

  test('name: non-empty, at most 200 characters', () => {
    assert.equal(fieldOf({ name: '' }), 'profile.name');
    assert.equal(fieldOf({ name: '   ' }), 'profile.name');
    assert.equal(fieldOf({ name: 'n'.repeat(201) }), 'profile.name');
    assert.equal(fieldOf({ name: 'n'.repeat(200) }), 'ok');
  });

  test('phones: stored canonical; bad numbers, more than 10 or repeats are named', () => {
    assert.deepEqual(
      parseCustomerProfile(
        { ...good, phones: ['+86 139 0000 0001', '023-6388-1234', '001 415 555 0123', '95588'] },
        'profile',
      ).phones,
      ['13900000001', '02363881234', '+14155550123', '95588'],
      'canonical',
    );
    assert.equal(fieldOf({ phones: ['139', '12'] }), 'profile.phones[1]');
    assert.equal(fieldOf({ phones: ['139-0000'] }), 'ok', 'separators are stripped');
    assert.equal(fieldOf({ phones: ['139x0000'] }), 'profile.phones[0]');
    assert.equal(fieldOf({ phones: ['13900000001', ''] }), 'profile.phones[1]');
    assert.equal(fieldOf({ phones: ['anonymous'] }), 'profile.phones[0]');
    // A bare local number means a different line in every city: the directory wants it whole.
    assert.equal(fieldOf({ phones: ['13900000001', '63881234'] }), 'profile.phones[1]');
    assert.equal(fieldOf({ phones: ['023 6388 1234'] }), 'ok');
    assert.equal(fieldOf({ phones: ['1'.repeat(21)] }), 'profile.phones[0]');
    assert.equal(fieldOf({ phones: ['+' + '1'.repeat(20)] }), 'ok');
    assert.equal(fieldOf({ phones: ['+8612'] }), 'profile.phones[0]');
    assert.equal(fieldOf({ phones: ['1390', '1391', '1390'] }), 'profile.phones[2]');
    assert.equal(fieldOf({ phones: Array.from({ length: 11 }, (_, i) => `13900${i}`) }), 'profile.phones');
    assert.equal(fieldOf({ phones: '13900000001' }), 'profile.phones');
  });

  test('phones: two spellings of one number are a repeat, named at the second', () => {
    for (const second of ['+8613900000001', '008613900000001', '013900000001', '139 0000 0001']) {
      assert.equal(fieldOf({ phones: ['13900000001', '13900000002', second] }), 'profile.phones[2]', second);
    }
    assert.equal(fieldOf({ phones: ['+862363881234', '023 6388 1234'] }), 'profile.phones[1]');
    assert.throws(
      () => parseCustomerProfile({ ...good, phones: ['+8613900000001', '13900000001'] }, 'profile'),
      (e) =>
        isDomainError(e, 'invalid-argument') &&
        e.message === 'profile.phones[1]: phone 13900000001 is listed twice (also at [0])',
    );
  });

  test('cards: 12-19 digits, at most 10, no repeats', () => {
    assert.equal(fieldOf({ cards: ['12345678901'] }), 'profile.cards[0]');
    assert.equal(fieldOf({ cards: ['1'.repeat(20)] }), 'profile.cards[0]');
    assert.equal(fieldOf({ cards: ['+123456789012'] }), 'profile.cards[0]');
    assert.equal(fieldOf({ cards: ['123456789012', '1'.repeat(19)] }), 'ok');
    assert.equal(fieldOf({ cards: ['123456789012', '123456789012'] }), 'profile.cards[1]');
    assert.equal(
      fieldOf({ cards: Array.from({ length: 11 }, (_, i) => `1234567890${10 + i}`) }),
      'profile.cards',
    );
  });

  test('homeSiteId, segment, language', () => {
    assert.equal(fieldOf({ homeSiteId: 'Chongqing' }), 'profile.homeSiteId');
    assert.equal(fieldOf({ homeSiteId: 'c' }), 'profile.homeSiteId');
    assert.equal(fieldOf({ segment: 'gold' }), 'profile.segment');
    assert.equal(fieldOf({ language: 'ZH' }), 'profile.language');
    assert.equal(fieldOf({ language: 'zh-cn' }), 'profile.language');
    assert.equal(fieldOf({ language: 'zh-CN' }), 'ok');
  });

  test('flags, accountIds, version', () => {
    assert.equal(fieldOf({ flags: { blacklisted: 'no', lostCard: false } }), 'profile.flags.blacklisted');
    assert.equal(fieldOf({ flags: { blacklisted: false } }), 'profile.flags.lostCard');
    assert.equal(fieldOf({ accountIds: [''] }), 'profile.accountIds[0]');
    assert.equal(
      fieldOf({ accountIds: Array.from({ length: 21 }, (_, i) => `a${i}`) }),
      'profile.accountIds',
    );
    assert.equal(fieldOf({ version: -1 }), 'profile.version');
    assert.equal(fieldOf({ version: 1.5 }), 'profile.version');
    assert.equal(fieldOf({ version: '1' }), 'profile.version');
    assert.equal(fieldOf({ version: 0 }), 'ok');
  });

  test('a missing field and a non-object are named; every problem is listed', () => {
    const { name: _n, ...noName } = good;
    assert.throws(
      () => parseCustomerProfile(noName, 'profile'),
      (e) => isDomainError(e, 'invalid-argument') && e.field === 'profile.name',
    );
    assert.throws(
      () => parseCustomerProfile(null, 'profile'),
      (e) => isDomainError(e, 'invalid-argument') && e.field === 'profile',
    );
    assert.throws(
      () => parseCustomerProfile({ ...good, segment: 'x', language: 'x' }, 'profile'),
      (e) =>
        isDomainError(e, 'invalid-argument') &&
        e.message.includes('profile.segment') &&
        e.message.includes('profile.language'),
    );
  });
});
