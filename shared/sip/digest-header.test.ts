import { test } from 'vitest';
import assert from 'node:assert/strict';
import { isDomainError } from '../errors.js';
import { formatDigestChallenge, parseDigestCredentials } from './digest-header.js';

const MD5 = '6629fae49393a05397450978507c4ef1';

/** The error's field and message, or fails if nothing is thrown. */
function refusal(
  value: string,
  header?: 'Proxy-Authorization',
): { field: string | undefined; message: string } {
  try {
    parseDigestCredentials(value, header);
  } catch (e) {
    assert.ok(isDomainError(e, 'invalid-argument'), String(e));
    return { field: e.field, message: e.message };
  }
  assert.fail(`accepted ${value}`);
}

test("reads RFC 2617 §3.5's Authorization, spaces and line folds included", () => {
  const c = parseDigestCredentials(
    `Digest username="Mufasa",\r\n realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",` +
      ` uri="/dir/index.html", qop=auth, nc=00000001, cnonce="0a4f113b",` +
      ` response="${MD5.toUpperCase()}", opaque="5ccc069c403ebaf9f0171e9517f40e41"`,
  );
  assert.deepEqual(c, {
    username: 'Mufasa',
    realm: 'testrealm@host.com',
    nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093',
    uri: '/dir/index.html',
    response: MD5,
    algorithm: 'MD5',
    qop: { nc: '00000001', ncValue: 1, cnonce: '0a4f113b' },
    opaque: '5ccc069c403ebaf9f0171e9517f40e41',
  });
});

test('reads a compact phone header: no spaces, unquoted algorithm, scheme and names in any case', () => {
  const c = parseDigestCredentials(
    `digest USERNAME="1001",realm="cq",nonce="n",uri="sip:10.0.0.1;transport=udp",` +
      `response="${'a'.repeat(64)}",Algorithm=sha-256,cnonce="x",qop=auth,nc=0000000A`,
  );
  assert.equal(c.username, '1001');
  assert.equal(c.algorithm, 'SHA-256');
  assert.equal(c.qop?.ncValue, 10);
  assert.equal(c.opaque, undefined);
});

test('quoted strings keep escaped quotes and backslashes, and commas inside them', () => {
  const c = parseDigestCredentials(
    `Digest username="a\\"b\\\\c, d", realm="r", nonce="n", uri="sip:x", response="${MD5}"`,
  );
  assert.equal(c.username, 'a"b\\c, d');
  assert.equal(c.qop, undefined);
});

test('each missing or bad field is refused by name', () => {
  const ok = { username: '"u"', realm: '"r"', nonce: '"n"', uri: '"sip:x"', response: `"${MD5}"` };
  const value = (fields: Record<string, string | undefined>) =>
    'Digest ' +
    Object.entries(fields)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ');
  for (const name of ['username', 'realm', 'nonce', 'uri', 'response']) {
    const r = refusal(value({ ...ok, [name]: undefined }));
    assert.equal(r.field, `Authorization.${name}`);
    assert.match(r.message, /is missing/);
  }
  assert.equal(refusal(value({ ...ok, username: '""' })).field, 'Authorization.username');
  assert.equal(refusal(value({ ...ok, response: '"abc"' })).field, 'Authorization.response');
  assert.equal(refusal(value({ ...ok, algorithm: 'MD5-sess' })).field, 'Authorization.algorithm');
  assert.equal(refusal(value({ ...ok, algorithm: 'SHA-256' })).field, 'Authorization.response');
  assert.equal(
    refusal(value({ ...ok, qop: 'auth-int', nc: '00000001', cnonce: '"c"' })).field,
    'Authorization.qop',
  );
  assert.equal(refusal(value({ ...ok, qop: 'auth', cnonce: '"c"' })).field, 'Authorization.nc');
  assert.equal(refusal(value({ ...ok, qop: 'auth', nc: '1', cnonce: '"c"' })).field, 'Authorization.nc');
  assert.equal(refusal(value({ ...ok, qop: 'auth', nc: '00000001' })).field, 'Authorization.cnonce');
  assert.equal(refusal(value({ ...ok, userhash: 'true' })).field, 'Authorization.userhash');
  assert.equal(refusal(`${value(ok)}, realm="again"`).field, 'Authorization.realm');
  assert.equal(refusal(`Digest username="u`).field, 'Authorization.username');
  assert.equal(refusal(`Digest username`).field, 'Authorization.username');
  assert.equal(refusal(`Digest username="u" realm="r"`).field, 'Authorization.username');
  assert.equal(refusal(`Basic dXNlcjpwYXNz`).field, 'Authorization');
  assert.equal(refusal(`Digest =x`, 'Proxy-Authorization').field, 'Proxy-Authorization');
});

test('a challenge quotes what must be quoted and says stale only when it is', () => {
  const c = { realm: 'cq "site"', nonce: 'abc', opaque: 'op', algorithm: 'SHA-256' as const, stale: false };
  assert.equal(
    formatDigestChallenge(c),
    'Digest realm="cq \\"site\\"", nonce="abc", opaque="op", algorithm=SHA-256, qop="auth"',
  );
  assert.match(formatDigestChallenge({ ...c, stale: true }), /, stale=true$/);
});
