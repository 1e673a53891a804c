import { describe, test } from 'vitest';
import assert from 'node:assert/strict';
import type { CustomerProfile } from '../../shared/domain/customer.js';
import { MAX_NOTES } from '../../shared/domain/customer-schema.js';
import { isDomainError } from '../../shared/errors.js';
import { authorOf, decideWrite, type DirectoryWriter } from './write-rule.js';

const T = 1_763_000_000_000;
const wanzhou: DirectoryWriter = { kind: 'site', id: 'wanzhou' };
const chongqing: DirectoryWriter = { kind: 'site', id: 'chongqing' };
const admin: DirectoryWriter = { kind: 'admin', id: 'alice' };

const stored: CustomerProfile = {
  customerId: 'wz-1',
  name: '张伟',
  phones: ['13900001111', '02312345678'],
  cards: ['6222020000001111'],
  homeSiteId: 'wanzhou',
  segment: 'vip',
  language: 'zh',
  flags: { blacklisted: false, lostCard: false },
  accountIds: ['wz-acc-1'],
  version: 3,
  notes: [{ siteId: 'wanzhou', by: 'wanzhou/a01', atMs: T - 1000, text: 'prefers mornings' }],
};

const stamp = (author: string) => ({ author, nowMs: T });

function refused(f: () => unknown, field: string, message: RegExp): void {
  assert.throws(f, (e) => {
    assert.ok(isDomainError(e, 'permission-denied'), String(e));
    assert.equal(e.field, field);
    assert.match(e.message, message);
    return true;
  });
}

describe('decideWrite: identity fields belong to the home site and admins', () => {
  const changes: Array<[string, Partial<CustomerProfile>]> = [
    ['homeSiteId', { homeSiteId: 'chongqing' }],
    ['name', { name: '李四' }],
    ['phones', { phones: ['13900001111', '13800000000'] }],
    ['cards', { cards: [] }],
    ['accountIds', { accountIds: ['cq-acc-9'] }],
    ['segment', { segment: 'retail' }],
    ['language', { language: 'en' }],
    ['flags.blacklisted', { flags: { blacklisted: true, lostCard: false } }],
  ];
  for (const [field, patch] of changes) {
    test(`another site changing ${field} is refused naming it; the home site and an admin may`, () => {
      const proposed = { ...stored, ...patch };
      refused(
        () => decideWrite(chongqing, stored, proposed, stamp('chongqing/a05')),
        `profile.${field}`,
        new RegExp(
          `^profile\\.${field.replace('.', '\\.')}: only the customer's home site \\(wanzhou\\) or an admin may change it$`,
        ),
      );
      for (const [who, author] of [
        [wanzhou, 'wanzhou/a01'],
        [admin, 'admin alice'],
      ] as const) {
        const out = decideWrite(who, stored, proposed, stamp(author));
        assert.deepEqual(out, { ...proposed, notes: stored.notes });
      }
    });
  }

  test('the same phones, cards and accounts in another order are not a change', () => {
    const proposed = { ...stored, phones: [...stored.phones].reverse() };
    assert.deepEqual(decideWrite(chongqing, stored, proposed, stamp('chongqing')).phones, stored.phones);
  });

  test('the home site moving a customer away is its decision; the new home then owns it', () => {
    const moved = decideWrite(wanzhou, stored, { ...stored, homeSiteId: 'chongqing' }, stamp('wanzhou'));
    assert.equal(moved.homeSiteId, 'chongqing');
    refused(
      () => decideWrite(wanzhou, moved, { ...moved, name: 'x' }, stamp('wanzhou')),
      'profile.name',
      /home site \(chongqing\)/,
    );
  });
});

describe('decideWrite: creating a customer', () => {
  const { notes: _notes, ...fresh } = { ...stored, version: 0 };

  test('a site may create a customer homed at itself only; an admin anywhere', () => {
    assert.deepEqual(decideWrite(wanzhou, undefined, fresh, stamp('wanzhou')), fresh);
    refused(
      () => decideWrite(chongqing, undefined, fresh, stamp('chongqing')),
      'profile.homeSiteId',
      /^profile\.homeSiteId: site chongqing may only create customers homed at itself, not at wanzhou/,
    );
    assert.equal(decideWrite(admin, undefined, fresh, stamp('admin alice')).homeSiteId, 'wanzhou');
  });
});

describe('decideWrite: what any site that served the customer may add', () => {
  test('a note is appended, stamped with the writer, never what the request says', () => {
    const forged = { siteId: 'wanzhou', by: 'admin root', atMs: 1, text: 'called about a lost card' };
    const out = decideWrite(
      chongqing,
      stored,
      { ...stored, notes: [...stored.notes!, forged] },
      stamp('chongqing/a05'),
    );
    assert.deepEqual(out.notes, [
      stored.notes![0],
      { siteId: 'chongqing', by: 'chongqing/a05', atMs: T, text: 'called about a lost card' },
    ]);
  });

  test('stored notes are kept whatever the proposal lists (a cache that keeps none drops none)', () => {
    const out = decideWrite(
      chongqing,
      stored,
      { ...stored, notes: undefined, flags: { blacklisted: false, lostCard: true } },
      stamp('chongqing'),
    );
    assert.deepEqual(out.notes, stored.notes);
    assert.equal(out.flags.lostCard, true);
    const edited = { ...stored.notes![0]!, text: 'prefers evenings' };
    const again = decideWrite(admin, stored, { ...stored, notes: [edited] }, stamp('admin alice'));
    assert.deepEqual(
      again.notes?.map((n) => [n.by, n.text]),
      [
        ['wanzhou/a01', 'prefers mornings'],
        ['admin alice', 'prefers evenings'],
      ],
      'an edit is a new note; the old one stays',
    );
    assert.equal(again.notes?.[1]?.siteId, '', 'an admin writes for no site');
  });

  test('the preferred callback number: set by any site; absent keeps it; empty clears it', () => {
    const set = decideWrite(chongqing, stored, { ...stored, preferredCallback: '13700000001' }, stamp('c'));
    assert.equal(set.preferredCallback, '13700000001');
    assert.equal(
      decideWrite(wanzhou, set, { ...set, preferredCallback: undefined }, stamp('w')).preferredCallback,
      '13700000001',
    );
    assert.equal(
      'preferredCallback' in decideWrite(chongqing, set, { ...set, preferredCallback: '' }, stamp('c')),
      false,
    );
  });

  test('another site may set lostCard but not clear it', () => {
    const lost = { ...stored, flags: { blacklisted: false, lostCard: true } };
    refused(
      () => decideWrite(chongqing, lost, stored, stamp('c')),
      'profile.flags.lostCard',
      /only the customer's home site \(wanzhou\) or an admin may clear it/,
    );
    assert.equal(decideWrite(wanzhou, lost, stored, stamp('w')).flags.lostCard, false);
  });

  test('notes beyond the limit are refused, naming the field', () => {
    const full = {
      ...stored,
      notes: Array.from({ length: MAX_NOTES }, (_, i) => ({
        siteId: 'wanzhou',
        by: 'w',
        atMs: i,
        text: `n${i}`,
      })),
    };
    assert.throws(
      () =>
        decideWrite(
          chongqing,
          full,
          { ...full, notes: [{ siteId: '', by: '', atMs: 0, text: 'one more' }] },
          stamp('c'),
        ),
      (e) => isDomainError(e, 'resource-exhausted') && e.field === 'profile.notes',
    );
  });
});

describe('authorOf: the certificate names the author; the request only names an agent of it', () => {
  test('a site claim is scoped to the site; an admin is its certificate', () => {
    assert.equal(authorOf(wanzhou, 'a01'), 'wanzhou/a01');
    assert.equal(authorOf(wanzhou, ''), 'wanzhou');
    assert.equal(authorOf(admin, 'anyone'), 'admin alice');
  });

  test('a claim that is not a plain name is refused naming the field', () => {
    for (const bad of ['admin alice', 'chongqing/a01', '../x', ' a01', 'x'.repeat(65)]) {
      assert.throws(
        () => authorOf(wanzhou, bad, 'changed_by'),
        (e) => isDomainError(e, 'invalid-argument') && e.field === 'changed_by',
        bad,
      );
    }
  });
});
