import { describe, test } from 'vitest';
import assert from 'node:assert/strict';
import type { CustomerProfile } from '../../shared/domain/customer.js';
import { MAX_NOTES } from '../../shared/domain/customer-schema.js';
import { isDomainError } from '../../shared/errors.js';
import {
  authorOf,
  decideWrite,
  droppedNotes,
  MAX_NOTES_PER_SITE_DAY,
  type DirectoryWriter,
} from './write-rule.js';

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

/** The writer's stamp; `served`: the hub served this customer to the writer before. */
const stamp = (author: string, served = true) => ({ author, nowMs: T, servedToWriter: served });

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

  test('the preferred callback number: another site may add one; only the home or an admin changes or clears it', () => {
    const set = decideWrite(chongqing, stored, { ...stored, preferredCallback: '13700000001' }, stamp('c'));
    assert.equal(set.preferredCallback, '13700000001');
    assert.equal(
      decideWrite(chongqing, set, { ...set, preferredCallback: '13700000001' }, stamp('c')).preferredCallback,
      '13700000001',
      'sending the stored number again is no change',
    );
    for (const [what, value] of [
      ['overwrite', '13799999999'],
      ['clear', ''],
    ] as const) {
      refused(
        () => decideWrite(chongqing, set, { ...set, preferredCallback: value }, stamp('c')),
        'profile.preferredCallback',
        /^profile\.preferredCallback: only the customer's home site \(wanzhou\) or an admin may change or clear it/,
      );
      for (const [who, author] of [
        [wanzhou, 'w'],
        [admin, 'admin alice'],
      ] as const) {
        const out = decideWrite(who, set, { ...set, preferredCallback: value }, stamp(author));
        assert.equal(out.preferredCallback, value || undefined, `${who.id} may ${what} it`);
      }
    }
    assert.equal(
      decideWrite(wanzhou, set, { ...set, preferredCallback: undefined }, stamp('w')).preferredCallback,
      '13700000001',
      'absent keeps it',
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

  test('the newest notes are kept: at the limit a new note drops the oldest, which droppedNotes names for the archive', () => {
    const full = {
      ...stored,
      notes: Array.from({ length: MAX_NOTES }, (_, i) => ({
        siteId: 'wanzhou',
        by: 'w',
        atMs: i,
        text: `n${i}`,
      })),
    };
    // Even the home site can add to a full list (before, every write was refused for good).
    const out = decideWrite(
      wanzhou,
      full,
      { ...full, notes: [{ siteId: '', by: '', atMs: 0, text: 'one more' }] },
      stamp('wanzhou/a01'),
    );
    assert.equal(out.notes?.length, MAX_NOTES);
    assert.equal(out.notes?.[0]?.text, 'n1');
    assert.equal(out.notes?.at(-1)?.text, 'one more');
    assert.deepEqual(droppedNotes(full, out), [full.notes[0]]);
    assert.deepEqual(droppedNotes(stored, { ...stored }), []);
    assert.deepEqual(droppedNotes(undefined, out), []);
  });

  test(`another site adds at most ${MAX_NOTES_PER_SITE_DAY} notes to one customer in 24 hours; the home site has no such cap`, () => {
    const DAY = 86_400_000;
    const mine = (atMs: number, i: number) => ({ siteId: 'chongqing', by: 'c', atMs, text: `c${i}` });
    const busy = {
      ...stored,
      notes: [
        mine(T - DAY, 0), // a day old: no longer counted
        ...Array.from({ length: MAX_NOTES_PER_SITE_DAY - 1 }, (_, i) => mine(T - 1000, i + 1)),
      ],
    };
    const add = (n: number) => ({
      ...busy,
      notes: Array.from({ length: n }, (_, i) => ({ siteId: '', by: '', atMs: 0, text: `new ${i}` })),
    });
    assert.equal(decideWrite(chongqing, busy, add(1), stamp('c')).notes?.length, MAX_NOTES_PER_SITE_DAY + 1);
    refused(
      () => decideWrite(chongqing, busy, add(2), stamp('c')),
      'profile.notes',
      new RegExp(
        `^profile\\.notes: site chongqing may add at most ${MAX_NOTES_PER_SITE_DAY} notes a day to customer wz-1 \\(home wanzhou\\)`,
      ),
    );
    assert.equal(decideWrite(wanzhou, busy, add(5), stamp('w')).notes?.length, MAX_NOTES_PER_SITE_DAY + 5);
  });
});

describe('decideWrite: a site that was never served the customer adds nothing', () => {
  test('notes, a callback number, the lost-card flag or an unchanged profile are refused naming the customer', () => {
    const attempts: CustomerProfile[] = [
      { ...stored, notes: [{ siteId: '', by: '', atMs: 0, text: 'hello' }] },
      { ...stored, preferredCallback: '13700000001' },
      { ...stored, flags: { blacklisted: false, lostCard: true } },
      stored,
    ];
    for (const proposed of attempts) {
      refused(
        () => decideWrite(chongqing, stored, proposed, stamp('c', false)),
        'profile.customerId',
        /^profile\.customerId: the hub never served customer wz-1 to site chongqing; only its home site \(wanzhou\), an admin or a site that served it may write it$/,
      );
    }
    // The home site and an admin need no service.
    assert.equal(decideWrite(wanzhou, stored, attempts[0]!, stamp('w', false)).notes?.length, 2);
    assert.equal(
      decideWrite(admin, stored, attempts[1]!, stamp('a', false)).preferredCallback,
      '13700000001',
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
    for (const bad of ['admin alice', 'chongqing/a01', 'a01@chongqing', '../x', ' a01', 'x'.repeat(65)]) {
      assert.throws(
        () => authorOf(wanzhou, bad, 'changed_by'),
        (e) => isDomainError(e, 'invalid-argument') && e.field === 'changed_by',
        bad,
      );
    }
  });
});
