import { test } from 'vitest';
import assert from 'node:assert/strict';
import { digestResponse, ha1 } from './digest-hash.js';

test("RFC 2617 §3.5's worked example (MD5, qop auth)", () => {
  const h = ha1('MD5', 'Mufasa', 'testrealm@host.com', 'Circle Of Life');
  const response = digestResponse({
    algorithm: 'MD5',
    ha1: h,
    method: 'GET',
    uri: '/dir/index.html',
    nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093',
    qop: { nc: '00000001', cnonce: '0a4f113b' },
  });
  assert.equal(response, '6629fae49393a05397450978507c4ef1');
});

test("RFC 7616 §3.9.1's example, with SHA-256 and with MD5", () => {
  const common = {
    method: 'GET',
    uri: '/dir/index.html',
    nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v',
    qop: { nc: '00000001', cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ' },
  };
  const realm = 'http-auth@example.org';
  assert.equal(
    digestResponse({
      ...common,
      algorithm: 'SHA-256',
      ha1: ha1('SHA-256', 'Mufasa', realm, 'Circle of Life'),
    }),
    '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1',
  );
  assert.equal(
    digestResponse({ ...common, algorithm: 'MD5', ha1: ha1('MD5', 'Mufasa', realm, 'Circle of Life') }),
    '8ca523f5e9506fed4657c9700eebdbec',
  );
});

test('an HA1 stored in upper case gives the same response', () => {
  const h = ha1('MD5', 'Mufasa', 'testrealm@host.com', 'Circle Of Life');
  const input = { algorithm: 'MD5' as const, method: 'REGISTER', uri: 'sip:x', nonce: 'n' };
  assert.equal(digestResponse({ ...input, ha1: h.toUpperCase() }), digestResponse({ ...input, ha1: h }));
});
