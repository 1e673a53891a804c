import { describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { checkReportedRead } from './read-check.js';

describe('checkReportedRead: the audit records what the hub knows', () => {
  test('an honest cache read of a customer the hub served to the site is kept and grants interest', () => {
    assert.deepEqual(
      checkReportedRead('chongqing', 'wz-1', 'wanzhou', { homeSiteId: 'wanzhou', servedToReader: true }),
      {
        homeSiteId: 'wanzhou',
        flag: null,
        grantsInterest: true,
      },
    );
  });

  test("a claimed home that is not the directory's is flagged, recorded with the directory's home", () => {
    const v = checkReportedRead('chongqing', 'wz-1', 'chongqing', {
      homeSiteId: 'wanzhou',
      servedToReader: true,
    });
    assert.equal(v.homeSiteId, 'wanzhou');
    assert.equal(v.flag, "home-mismatch: the event claims home chongqing; the directory's is wanzhou");
    assert.equal(v.grantsInterest, false);
  });

  test('an unknown customer is flagged, with no home, and grants nothing', () => {
    assert.deepEqual(
      checkReportedRead('chongqing', 'nobody', 'wanzhou', { homeSiteId: undefined, servedToReader: false }),
      {
        homeSiteId: '',
        flag: 'unknown-customer: the directory has no customer nobody',
        grantsInterest: false,
      },
    );
  });

  test('a read of a customer the hub never served to the site is flagged and grants nothing', () => {
    const v = checkReportedRead('chongqing', 'wz-1', 'wanzhou', {
      homeSiteId: 'wanzhou',
      servedToReader: false,
    });
    assert.equal(v.flag, 'uncorroborated: the hub never served customer wz-1 to chongqing');
    assert.equal(v.grantsInterest, false);
  });

  test("a site's read of its own customer needs no corroboration and grants no interest", () => {
    assert.deepEqual(
      checkReportedRead('wanzhou', 'wz-1', 'wanzhou', { homeSiteId: 'wanzhou', servedToReader: false }),
      {
        homeSiteId: 'wanzhou',
        flag: null,
        grantsInterest: false,
      },
    );
  });

  test('an event without a claimed home is judged on the facts alone', () => {
    const v = checkReportedRead('chongqing', 'wz-1', '', { homeSiteId: 'wanzhou', servedToReader: true });
    assert.deepEqual(v, { homeSiteId: 'wanzhou', flag: null, grantsInterest: true });
  });
});
