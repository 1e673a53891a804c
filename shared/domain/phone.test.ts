import { describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { isDomainError } from '../errors.js';
import { assertAreaCode, normalizePhone, parsePhone, parseStoredPhone, tryNormalizePhone } from './phone.js';

const CQ = { areaCode: '023' };

/** [raw, canonical without an area code, canonical at a site with area code 023] */
const GOOD: ReadonlyArray<readonly [string, string, string]> = [
  // Mobiles, in every shape carriers and people write them.
  ['13912345678', '13912345678', '13912345678'],
  ['+8613912345678', '13912345678', '13912345678'],
  ['008613912345678', '13912345678', '13912345678'],
  ['8613912345678', '13912345678', '13912345678'],
  ['013912345678', '13912345678', '13912345678'],
  ['139 1234 5678', '13912345678', '13912345678'],
  ['139-1234-5678', '13912345678', '13912345678'],
  ['139.1234.5678', '13912345678', '13912345678'],
  ['+86 (139) 1234-5678', '13912345678', '13912345678'],
  ['(+86) 139 1234 5678', '13912345678', '13912345678'],
  ['  +86 139 1234 5678\t', '13912345678', '13912345678'],
  ['19912345678', '19912345678', '19912345678'],
  // Landlines: trunk 0 + area code + subscriber.
  ['02363881234', '02363881234', '02363881234'],
  ['023-6388-1234', '02363881234', '02363881234'],
  ['(023) 6388 1234', '02363881234', '02363881234'],
  ['+862363881234', '02363881234', '02363881234'],
  ['+862312345678', '02312345678', '02312345678'],
  ['+86 23 6388 1234', '02363881234', '02363881234'],
  ['+86 (0)23 6388 1234', '02363881234', '02363881234'],
  ['00862363881234', '02363881234', '02363881234'],
  ['862363881234', '02363881234', '02363881234'],
  ['01062345678', '01062345678', '01062345678'],
  ['+861062345678', '01062345678', '01062345678'],
  ['075512345678', '075512345678', '075512345678'],
  ['08512345678', '08512345678', '08512345678'],
  ['+8608512345678', '08512345678', '08512345678'],
  // Local subscriber numbers: qualified only when the caller's area code is known.
  ['63881234', '63881234', '02363881234'],
  ['6388-1234', '63881234', '02363881234'],
  ['6388123', '6388123', '0236388123'],
  // A local number starting 86 is not a country code.
  ['86123456', '86123456', '02386123456'],
  ['8612345', '8612345', '0238612345'],
  // Service and toll-free numbers stay as their digits, at a site too.
  ['95588', '95588', '95588'],
  ['10086', '10086', '10086'],
  ['110', '110', '110'],
  ['12345', '12345', '12345'],
  ['96123', '96123', '96123'],
  ['95105105', '95105105', '95105105'],
  ['4008205555', '4008205555', '4008205555'],
  ['400-820-5555', '4008205555', '4008205555'],
  ['800 820 5555', '8008205555', '8008205555'],
  ['+864008205555', '4008205555', '4008205555'],
  ['864008205555', '4008205555', '4008205555'],
  ['+8695588', '95588', '95588'],
  // Other countries: E.164.
  ['+14155550123', '+14155550123', '+14155550123'],
  ['001 415 555 0123', '+14155550123', '+14155550123'],
  ['+44 20 7946 0958', '+442079460958', '+442079460958'],
  ['+852 2123 4567', '+85221234567', '+85221234567'],
  ['00886212345678', '+886212345678', '+886212345678'],
  ['+' + '1'.repeat(20), '+' + '1'.repeat(20), '+' + '1'.repeat(20)],
  // Shapes none of the rules know are kept as their digits.
  ['1064812345678', '1064812345678', '1064812345678'],
  ['1'.repeat(20), '1'.repeat(20), '1'.repeat(20)],
];

/** [raw, a fragment the problem must contain] */
const BAD: ReadonlyArray<readonly [string, RegExp]> = [
  ['', /must not be empty/],
  ['   ', /must not be empty/],
  ['anonymous', /"anonymous" is not a phone number: "a"/],
  ['unknown', /not a phone number/],
  ['Restricted', /not a phone number/],
  ['139x1234', /"x" is not a digit/],
  ['sip:+8613912345678@gw', /"s" is not a digit/],
  ['１３９１２３４５６７８', /not a digit/],
  ['139/1234/5678', /"\/" is not a digit/],
  ['139+1234', /"\+" may only come before the country code/],
  ['++8613912345678', /"\+" may only come before/],
  ['+', /has no digits/],
  ['---', /has no digits/],
  ['1'.repeat(21), /has 21 digits; at most 20/],
  ['+' + '1'.repeat(21), /has 21 digits/],
  ['12', /too short/],
  ['+1', /too short for an international number/],
  ['00', /country code cannot start with 0/],
  ['+0123456789', /country code cannot start with 0/],
  ['000123456789', /country code cannot start with 0/],
  ['+8612', /after \+86 expected/],
  ['+8663881234', /after \+86 expected/],
  ['+86139123456789', /after \+86 expected/],
];

describe('normalizePhone', () => {
  for (const [raw, plain, atSite] of GOOD) {
    test(`${JSON.stringify(raw)} -> ${plain} (at 023: ${atSite})`, () => {
      assert.equal(normalizePhone(raw), plain);
      assert.equal(normalizePhone(raw, CQ), atSite);
      // Canonical is a fixed point: normalising twice changes nothing.
      assert.equal(normalizePhone(plain), plain);
      assert.equal(normalizePhone(atSite, CQ), atSite);
    });
  }

  for (const [raw, problem] of BAD) {
    test(`${JSON.stringify(raw)} is refused`, () => {
      assert.throws(
        () => normalizePhone(raw, CQ, 'profile.phones[2]'),
        (e) => {
          assert.ok(isDomainError(e, 'invalid-argument'), String(e));
          assert.equal(e.field, 'profile.phones[2]');
          assert.match(e.message, /^profile\.phones\[2\]: /);
          assert.match(e.message, problem);
          return true;
        },
      );
      assert.equal(tryNormalizePhone(raw, CQ), undefined);
      const r = parsePhone(raw);
      assert.equal(r.ok, false);
    });
  }

  test('the field defaults to "phone"', () => {
    assert.throws(
      () => normalizePhone('nope'),
      (e) => isDomainError(e, 'invalid-argument') && e.field === 'phone',
    );
  });

  test('a non-string is a problem, not a crash', () => {
    assert.deepEqual(parsePhone(undefined), { ok: false, problem: 'must be a string' });
    assert.deepEqual(parsePhone(13912345678), { ok: false, problem: 'must be a string' });
  });

  test('the non-throwing variants return the canonical form', () => {
    assert.equal(tryNormalizePhone('+86 139 1234 5678'), '13912345678');
    assert.equal(tryNormalizePhone('63881234', { areaCode: '010' }), '01063881234');
    assert.deepEqual(parsePhone('013912345678'), { ok: true, phone: '13912345678' });
  });

  test('ctx.areaCode must be 0 followed by 2 or 3 digits; a bad one throws even in tryNormalizePhone', () => {
    for (const ok of ['010', '023', '0755', '0851', undefined]) {
      assert.doesNotThrow(() => assertAreaCode(ok));
      assert.doesNotThrow(() => normalizePhone('63881234', { areaCode: ok }));
    }
    for (const bad of ['23', '0', '02', '00023', '023a', '+8623', '0023', '', ' 023']) {
      const refused = (e: unknown) =>
        isDomainError(e, 'invalid-argument') &&
        e.field === 'areaCode' &&
        /0 followed by 2 or 3 digits/.test(e.message);
      assert.throws(() => normalizePhone('63881234', { areaCode: bad }), refused, bad);
      assert.throws(() => tryNormalizePhone('63881234', { areaCode: bad }), refused, bad);
    }
    assert.throws(
      () => assertAreaCode('23', 'site.areaCode'),
      (e) =>
        isDomainError(e, 'invalid-argument') && e.message.startsWith('site.areaCode: must be 0 followed'),
    );
  });
});

test('a stored number must not be a bare local number; everything else parses as parsePhone does', () => {
  const r = parseStoredPhone('6388 1234');
  assert.deepEqual(r, {
    ok: false,
    problem: '"6388 1234" is a local number: store it with its area code (e.g. 02363881234)',
  });
  for (const ok of ['023 6388 1234', '+86 139 1234 5678', '95588', '4008205555', '+14155550123']) {
    assert.deepEqual(parseStoredPhone(ok), parsePhone(ok), ok);
  }
  assert.equal(parseStoredPhone('anonymous').ok, false);
});
