import { test } from 'vitest';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ha1 } from './digest-hash.js';
import { parseDigestCredentials } from './digest-header.js';
import {
  checkDigestRealm,
  digestChallenges,
  emptyNonceCounts,
  verifyDigest,
  type DigestRealm,
  type DigestVerdict,
  type Ha1Lookup,
  type NonceCounts,
} from './digest.js';

const T0 = Date.UTC(2026, 11, 2, 9, 0, 0);
const REALM: DigestRealm = {
  realm: 'chongqing.cc.example',
  secret: Buffer.from('0123456789abcdef0123456789abcdef'),
  nonceLifetimeMs: 300_000,
  algorithms: ['SHA-256', 'MD5'],
  nonceMemory: 100,
};
const PASSWORD = 'purple-Tiger-42';
const URI = 'sip:chongqing.cc.example';
const PHONES: Record<string, Partial<Record<'MD5' | 'SHA-256', string>>> = {
  '1001': {
    MD5: ha1('MD5', '1001', REALM.realm, PASSWORD),
    'SHA-256': ha1('SHA-256', '1001', REALM.realm, PASSWORD),
  },
  '1002': { MD5: ha1('MD5', '1002', REALM.realm, 'another') },
};
const lookup: Ha1Lookup = (u) => PHONES[u];

/** The fields of the first challenge offered for an algorithm (as a phone reads them). */
function challengeOf(nowMs: number, algorithm: 'MD5' | 'SHA-256' = 'MD5', stale = false) {
  const values = digestChallenges(REALM, nowMs, Buffer.alloc(8, nowMs % 251), stale);
  const value = values.find((v) => v.includes(`algorithm=${algorithm}`))!;
  const field = (n: string) => new RegExp(`${n}="([^"]*)"`).exec(value)![1]!;
  return { values, nonce: field('nonce'), opaque: field('opaque'), realm: field('realm') };
}

/**
 * What a phone sends, hashed here with node:crypto directly (not through digest-hash.ts),
 * in the compact style baresip and Zoiper write: no spaces, unquoted algorithm, qop and nc.
 */
function phoneAuthorization(o: {
  user?: string;
  password?: string;
  realm?: string;
  hashRealm?: string;
  nonce: string;
  opaque?: string;
  uri?: string;
  method?: string;
  nc?: number;
  algorithm?: 'MD5' | 'SHA-256';
}): string {
  const alg = o.algorithm ?? 'MD5';
  const h = (s: string) =>
    createHash(alg === 'MD5' ? 'md5' : 'sha256')
      .update(s)
      .digest('hex');
  const user = o.user ?? '1001';
  const realm = o.realm ?? REALM.realm;
  const uri = o.uri ?? URI;
  const nc = (o.nc ?? 1).toString(16).padStart(8, '0');
  const cnonce = '2f1a8c3e5b7d9f01';
  const a1 = h(`${user}:${o.hashRealm ?? realm}:${o.password ?? PASSWORD}`);
  const a2 = h(`${o.method ?? 'REGISTER'}:${uri}`);
  const response = h(`${a1}:${o.nonce}:${nc}:${cnonce}:auth:${a2}`);
  return (
    `Digest username="${user}",realm="${realm}",nonce="${o.nonce}",uri="${uri}",response="${response}",` +
    `algorithm=${alg},cnonce="${cnonce}",qop=auth,nc=${nc}` +
    (o.opaque === undefined ? '' : `,opaque="${o.opaque}"`)
  );
}

const verify = (
  credentials: string[],
  nowMs: number,
  counts: NonceCounts = emptyNonceCounts(),
  requestUri = URI,
  method = 'REGISTER',
): DigestVerdict => verifyDigest(REALM, { method, requestUri, credentials }, lookup, counts, nowMs);

const brief = (v: DigestVerdict) =>
  v.kind === 'ok'
    ? 'ok'
    : v.kind === 'challenge'
      ? `challenge ${v.why}${v.stale ? ' stale' : ''}`
      : `refused ${v.status} ${v.why}`;

test('a request without credentials is challenged with SHA-256 then MD5, qop auth, one nonce', () => {
  assert.equal(brief(verify([], T0)), 'challenge no-credentials');
  const c = challengeOf(T0);
  assert.equal(c.values.length, 2);
  assert.match(
    c.values[0]!,
    /^Digest realm="chongqing\.cc\.example", nonce="[\w-]+", opaque="[\w-]+", algorithm=SHA-256, qop="auth"$/,
  );
  assert.match(c.values[1]!, /algorithm=MD5, qop="auth"$/);
  assert.equal(challengeOf(T0, 'SHA-256').nonce, c.nonce);
});

test("a real phone's answer (MD5 and SHA-256) is accepted, with its nc counted on", () => {
  const c = challengeOf(T0);
  const first = verify([phoneAuthorization({ nonce: c.nonce, opaque: c.opaque })], T0 + 50);
  assert.equal(brief(first), 'ok');
  assert.equal(first.kind === 'ok' && first.username, '1001');
  const counts = first.kind === 'ok' ? first.counts : emptyNonceCounts();
  // The phone's refresh a minute later reuses the nonce with the next nc.
  const again = verify(
    [phoneAuthorization({ nonce: c.nonce, opaque: c.opaque, nc: 2 })],
    T0 + 60_000,
    counts,
  );
  assert.equal(brief(again), 'ok');
  const sha = verify(
    [phoneAuthorization({ nonce: c.nonce, opaque: c.opaque, algorithm: 'SHA-256' })],
    T0 + 50,
  );
  assert.equal(brief(sha), 'ok');
});

test('credentials for another realm alongside ours: ours are used; only others: challenged', () => {
  const c = challengeOf(T0);
  const other = phoneAuthorization({ nonce: 'x', opaque: 'y', realm: 'other.example' });
  const ours = phoneAuthorization({ nonce: c.nonce, opaque: c.opaque });
  assert.equal(brief(verify([other, ours], T0)), 'ok');
  assert.equal(brief(verify([other], T0)), 'challenge other-realm');
});

test('a wrong password, or an HA1 made for the wrong realm, is refused 403', () => {
  const c = challengeOf(T0);
  const wrong = verify(
    [phoneAuthorization({ nonce: c.nonce, opaque: c.opaque, password: 'purple-tiger-42' })],
    T0,
  );
  assert.equal(brief(wrong), 'refused 403 wrong-password');
  assert.equal(wrong.kind === 'refused' && wrong.username, '1001');
  const realm = verify([phoneAuthorization({ nonce: c.nonce, opaque: c.opaque, hashRealm: 'asterisk' })], T0);
  assert.equal(brief(realm), 'refused 403 wrong-password');
  // Another phone's right password is still the wrong one for 1001.
  const swapped = verify([phoneAuthorization({ nonce: c.nonce, opaque: c.opaque, password: 'another' })], T0);
  assert.equal(brief(swapped), 'refused 403 wrong-password');
});

test('an unknown extension, and an algorithm with no HA1 stored, are refused 403', () => {
  const c = challengeOf(T0);
  assert.equal(
    brief(verify([phoneAuthorization({ nonce: c.nonce, opaque: c.opaque, user: '9999' })], T0)),
    'refused 403 unknown-user',
  );
  const v = verify(
    [
      phoneAuthorization({
        nonce: c.nonce,
        opaque: c.opaque,
        user: '1002',
        password: 'another',
        algorithm: 'SHA-256',
      }),
    ],
    T0,
  );
  assert.equal(brief(v), 'refused 403 no-ha1-for-algorithm');
});

test('a nonce past its lifetime is challenged stale when the password was right, refused when not', () => {
  const c = challengeOf(T0);
  const late = T0 + REALM.nonceLifetimeMs + 1;
  assert.equal(
    brief(verify([phoneAuthorization({ nonce: c.nonce, opaque: c.opaque })], late)),
    'challenge stale-nonce stale',
  );
  assert.equal(
    brief(verify([phoneAuthorization({ nonce: c.nonce, opaque: c.opaque, password: 'guess' })], late)),
    'refused 403 wrong-password',
  );
  // Just inside the lifetime it is still good.
  assert.equal(brief(verify([phoneAuthorization({ nonce: c.nonce, opaque: c.opaque })], late - 1)), 'ok');
  // The new challenge says stale=true, so the phone retries without asking its user.
  assert.match(challengeOf(late, 'MD5', true).values[1]!, /, stale=true$/);
});

test('a replayed nc is refused 403, and the memory is unchanged by it', () => {
  const c = challengeOf(T0);
  const header = phoneAuthorization({ nonce: c.nonce, opaque: c.opaque, nc: 5 });
  const first = verify([header], T0);
  assert.ok(first.kind === 'ok');
  const replay = verify([header], T0 + 10, first.counts);
  assert.equal(brief(replay), 'refused 403 replayed-nc');
  assert.match(replay.kind === 'refused' ? replay.detail : '', /nc 00000005 is not above 00000005/);
  const lower = verify(
    [phoneAuthorization({ nonce: c.nonce, opaque: c.opaque, nc: 3 })],
    T0 + 10,
    first.counts,
  );
  assert.equal(brief(lower), 'refused 403 replayed-nc');
  assert.equal(
    brief(verify([phoneAuthorization({ nonce: c.nonce, opaque: c.opaque, nc: 6 })], T0 + 10, first.counts)),
    'ok',
  );
});

test('a full nonce memory forgets the oldest nonce, which is then answered stale, never trusted', () => {
  const small: DigestRealm = { ...REALM, nonceMemory: 2 };
  let counts = emptyNonceCounts();
  const nonces = [0, 1, 2].map((i) => challengeOf(T0 + i * 1000));
  for (const c of nonces) {
    const v = verifyDigest(
      small,
      {
        method: 'REGISTER',
        requestUri: URI,
        credentials: [phoneAuthorization({ nonce: c.nonce, opaque: c.opaque })],
      },
      lookup,
      counts,
      T0 + 5000,
    );
    assert.ok(v.kind === 'ok', brief(v));
    counts = v.counts;
  }
  assert.equal(counts.entries.size, 2);
  const replay = phoneAuthorization({ nonce: nonces[0]!.nonce, opaque: nonces[0]!.opaque });
  const v = verifyDigest(
    small,
    { method: 'REGISTER', requestUri: URI, credentials: [replay] },
    lookup,
    counts,
    T0 + 6000,
  );
  assert.equal(brief(v), 'challenge forgotten-nonce stale');
});

test('a forged nonce, or one of another secret or realm, is challenged anew as unknown', () => {
  const c = challengeOf(T0);
  const bytes = Buffer.from(c.nonce, 'base64url');
  bytes[0] = bytes[0]! ^ 1; // another issue time under the same HMAC
  const forged = bytes.toString('base64url');
  assert.equal(
    brief(verify([phoneAuthorization({ nonce: forged, opaque: c.opaque })], T0)),
    'challenge unknown-nonce',
  );
  assert.equal(
    brief(
      verify([phoneAuthorization({ nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093', opaque: c.opaque })], T0),
    ),
    'challenge unknown-nonce',
  );
  const otherSecret = { ...REALM, secret: Buffer.from('another secret of sixteen+ bytes') };
  const theirs = digestChallenges(otherSecret, T0, Buffer.alloc(8), false)[0]!;
  const nonce = /nonce="([^"]*)"/.exec(theirs)![1]!;
  assert.equal(
    brief(verify([phoneAuthorization({ nonce, opaque: c.opaque })], T0)),
    'challenge unknown-nonce',
  );
  const otherRealm = { ...REALM, realm: 'wanzhou.cc.example' };
  const wz = /nonce="([^"]*)"/.exec(digestChallenges(otherRealm, T0, Buffer.alloc(8), false)[0]!)![1]!;
  assert.equal(
    brief(verify([phoneAuthorization({ nonce: wz, opaque: c.opaque })], T0)),
    'challenge unknown-nonce',
  );
  assert.equal(
    brief(verify([phoneAuthorization({ nonce: c.nonce, opaque: 'not-ours' })], T0)),
    'challenge unknown-nonce',
  );
});

test('a uri that is not the request-URI is refused 400, even with a right response', () => {
  const c = challengeOf(T0);
  const v = verify(
    [phoneAuthorization({ nonce: c.nonce, opaque: c.opaque, uri: 'sip:elsewhere.example' })],
    T0,
  );
  assert.equal(brief(v), 'refused 400 uri-mismatch');
  assert.match(
    v.kind === 'refused' ? v.detail : '',
    /^Authorization\.uri: sip:elsewhere\.example is not the request-URI/,
  );
  // The method is in the hash: a REGISTER's answer is no good for an INVITE.
  const asInvite = verify(
    [phoneAuthorization({ nonce: c.nonce, opaque: c.opaque })],
    T0,
    emptyNonceCounts(),
    URI,
    'INVITE',
  );
  assert.equal(brief(asInvite), 'refused 403 wrong-password');
});

test('malformed credentials, no qop or no opaque are refused 400 naming the field', () => {
  const c = challengeOf(T0);
  const good = phoneAuthorization({ nonce: c.nonce, opaque: c.opaque });
  const detail = (v: DigestVerdict) => (v.kind === 'refused' ? `${v.status} ${v.detail}` : brief(v));
  assert.match(detail(verify([good.replace(/,nc=\w+/, '')], T0)), /^400 Authorization\.nc: is missing/);
  assert.match(
    detail(verify([good.replace(/,cnonce="\w+",qop=auth,nc=\w+/, '')], T0)),
    /^400 Authorization\.qop: is missing/,
  );
  assert.match(
    detail(verify([phoneAuthorization({ nonce: c.nonce })], T0)),
    /^400 Authorization\.opaque: is missing/,
  );
  const proxy = verifyDigest(
    REALM,
    { method: 'INVITE', requestUri: URI, credentials: ['Digest realm="x"'], header: 'Proxy-Authorization' },
    lookup,
    emptyNonceCounts(),
    T0,
  );
  assert.match(detail(proxy), /^400 Proxy-Authorization\.username: is missing/);
  // What the parser reads is what the verifier judged.
  assert.equal(parseDigestCredentials(good).username, '1001');
});

test("a realm's settings are checked once, each bad one named", () => {
  assert.equal(checkDigestRealm(REALM, 'sip.digest'), REALM);
  const field = (over: Partial<DigestRealm>) => {
    try {
      checkDigestRealm({ ...REALM, ...over }, 'sip.digest');
    } catch (e) {
      return (e as { field?: string }).field;
    }
    return undefined;
  };
  assert.equal(field({ realm: 'a "b"' }), 'sip.digest.realm');
  assert.equal(field({ secret: Buffer.alloc(15) }), 'sip.digest.secret');
  assert.equal(field({ nonceLifetimeMs: 999 }), 'sip.digest.nonceLifetimeMs');
  assert.equal(field({ algorithms: [] }), 'sip.digest.algorithms');
  assert.equal(field({ algorithms: ['MD5', 'MD5'] }), 'sip.digest.algorithms');
  assert.equal(field({ nonceMemory: 0 }), 'sip.digest.nonceMemory');
});
