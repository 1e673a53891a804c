/**
 * Digest authentication of SIP requests at the site (RFC 3261 §22, RFC 2617, RFC 7616), as a
 * pure function: headers, the stored HA1s, the replay memory and the time in; a verdict and
 * the next replay memory out. Nothing here keeps the password: a phone's credentials are
 * stored as HA1 = H(extension:realm:password) (digest-hash.ts, `npm run sip-ha1`).
 *
 * What a request gets (the adapter sends it and logs the `why` once, with the username):
 *   ok         the response is right for a nonce of ours, fresh, with a new nc
 *   challenge  401/407 with a new nonce: no credentials, credentials for another realm, a
 *              nonce not ours (forged, or from before a new secret); `stale` when the password
 *              was right and only the nonce too old, so the phone retries without asking
 *   refused    400 for malformed credentials or a `uri` not the request-URI (RFC 2617 §3.2.2);
 *              403 for an unknown user, a wrong password or a replayed nc
 * Response hashes are compared in constant time; a wrong password and an unknown user give
 * the phone the same 403, only the log tells them apart.
 */
import { timingSafeEqual } from 'node:crypto';
import { invalidArgument, isDomainError } from '../errors.js';
import { DIGEST_REALM_RE, digestResponse, type DigestAlgorithm } from './digest-hash.js';
import {
  formatDigestChallenge,
  parseDigestCredentials,
  type CredentialsHeader,
  type DigestCredentials,
} from './digest-header.js';
import { emptyNonceCounts, recordNonceCount, type NonceCounts } from './digest-nonce-counts.js';
import { checkNonce, issueNonce, realmOpaque } from './digest-nonce.js';

export { emptyNonceCounts, type NonceCounts };

/** One realm's settings, compiled once from the site config. */
export interface DigestRealm {
  realm: string;
  /** The HMAC key of nonces (at least 16 bytes); kept across restarts keeps phones' nonces good. */
  secret: Uint8Array;
  nonceLifetimeMs: number;
  /** Offered in this order (RFC 8760: the preferred first); each user needs an HA1 for each. */
  algorithms: readonly DigestAlgorithm[];
  /** How many nonces' highest nc are remembered (digest-nonce-counts.ts). */
  nonceMemory: number;
}

/**
 * Checks a realm's settings once, when the site config is compiled, naming the field under
 * `at` (`sip.digest.secret`); returns them unchanged.
 */
export function checkDigestRealm(r: DigestRealm, at: string): DigestRealm {
  if (!DIGEST_REALM_RE.test(r.realm))
    throw invalidArgument(`${at}.realm`, 'letters, digits and . - _ @ only, at most 255');
  // Shorter keys make nonces guessable; 16 bytes is the HMAC output kept (digest-nonce.ts).
  if (r.secret.length < 16) throw invalidArgument(`${at}.secret`, 'must be at least 16 bytes');
  if (!Number.isInteger(r.nonceLifetimeMs) || r.nonceLifetimeMs < 1000)
    throw invalidArgument(`${at}.nonceLifetimeMs`, 'must be at least 1 s');
  if (r.algorithms.length === 0 || new Set(r.algorithms).size !== r.algorithms.length)
    throw invalidArgument(`${at}.algorithms`, 'must name MD5 and/or SHA-256, each once');
  if (!Number.isInteger(r.nonceMemory) || r.nonceMemory < 1)
    throw invalidArgument(`${at}.nonceMemory`, 'must be a whole number of at least 1');
  return r;
}

export interface DigestRequest {
  method: string;
  requestUri: string;
  /** Every `Authorization` (or `Proxy-Authorization`) value of the request, in order. */
  credentials: readonly string[];
  header?: CredentialsHeader;
}

/** A user's stored HA1 per algorithm (lower-case hex); undefined for a user not configured. */
export type Ha1Lookup = (username: string) => Partial<Record<DigestAlgorithm, string>> | undefined;

export type ChallengeWhy =
  'no-credentials' | 'other-realm' | 'unknown-nonce' | 'stale-nonce' | 'forgotten-nonce';
export type RefusedWhy =
  'malformed' | 'uri-mismatch' | 'unknown-user' | 'no-ha1-for-algorithm' | 'wrong-password' | 'replayed-nc';

export type DigestVerdict =
  | { kind: 'ok'; username: string; counts: NonceCounts }
  | { kind: 'challenge'; why: ChallengeWhy; stale: boolean; username: string | undefined }
  | { kind: 'refused'; why: RefusedWhy; status: 400 | 403; detail: string; username: string | undefined };

const refused = (
  why: RefusedWhy,
  detail: string,
  username: string | undefined,
): Extract<DigestVerdict, { kind: 'refused' }> => ({
  kind: 'refused',
  why,
  status: why === 'malformed' || why === 'uri-mismatch' ? 400 : 403,
  detail,
  username,
});

const challenge = (
  why: ChallengeWhy,
  username: string | undefined,
): Extract<DigestVerdict, { kind: 'challenge' }> => ({
  kind: 'challenge',
  why,
  stale: why === 'stale-nonce' || why === 'forgotten-nonce',
  username,
});

/** Equal strings, in time that does not depend on where they differ. */
function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Judges a request's digest credentials; `counts` is the replay memory (emptyNonceCounts()). */
export function verifyDigest(
  realm: DigestRealm,
  request: DigestRequest,
  lookup: Ha1Lookup,
  counts: NonceCounts,
  nowMs: number,
): DigestVerdict {
  const header = request.header ?? 'Authorization';
  if (request.credentials.length === 0) return challenge('no-credentials', undefined);
  let c: DigestCredentials | undefined;
  for (const value of request.credentials) {
    let parsed: DigestCredentials;
    try {
      parsed = parseDigestCredentials(value, header);
    } catch (e) {
      if (isDomainError(e, 'invalid-argument')) return refused('malformed', e.message, undefined);
      throw e;
    }
    if (parsed.realm === realm.realm) {
      c = parsed;
      break;
    }
  }
  if (!c) return challenge('other-realm', undefined);
  const user = c.username;
  // Without qop there is no nc, so nothing stops a replay within the nonce's lifetime.
  if (!c.qop) return refused('malformed', `${header}.qop: is missing (qop "auth" is required)`, user);
  if (c.uri !== request.requestUri)
    return refused(
      'uri-mismatch',
      `${header}.uri: ${c.uri} is not the request-URI ${request.requestUri}`,
      user,
    );
  if (c.opaque === undefined) return refused('malformed', `${header}.opaque: is missing`, user);
  const nonce = checkNonce(realm.secret, realm.realm, c.nonce, nowMs, realm.nonceLifetimeMs);
  // An opaque of another secret is a nonce from before it, as good as unknown.
  if (nonce.kind === 'unknown' || !sameText(c.opaque, realmOpaque(realm.secret, realm.realm)))
    return challenge('unknown-nonce', user);
  const stored = lookup(user);
  if (!stored)
    return refused('unknown-user', `no phone ${JSON.stringify(user)} in realm ${realm.realm}`, user);
  const ha1 = stored[c.algorithm];
  if (!ha1 || !realm.algorithms.includes(c.algorithm))
    return refused(
      'no-ha1-for-algorithm',
      `no ${c.algorithm} HA1 is stored for ${JSON.stringify(user)}`,
      user,
    );
  const expected = digestResponse({
    algorithm: c.algorithm,
    ha1,
    method: request.method,
    uri: c.uri,
    nonce: c.nonce,
    qop: { nc: c.qop.nc, cnonce: c.qop.cnonce },
  });
  // Both lower-case hex: the parser lower-cases the response.
  if (!sameText(expected, c.response))
    return refused('wrong-password', `the ${c.algorithm} response does not match the stored HA1`, user);
  // Only now is `stale` honest: RFC 7616 §3.3 sends it when the response was right.
  if (nonce.kind === 'stale') return challenge('stale-nonce', user);
  const nc = recordNonceCount(counts, c.nonce, nonce.issuedMs, c.qop.ncValue, nowMs, {
    capacity: realm.nonceMemory,
    lifetimeMs: realm.nonceLifetimeMs,
  });
  if (nc.kind === 'replayed')
    return refused(
      'replayed-nc',
      `nc ${c.qop.nc} is not above ${nc.highestNc.toString(16).padStart(8, '0')}`,
      user,
    );
  if (nc.kind === 'forgotten') return challenge('forgotten-nonce', user);
  return { kind: 'ok', username: user, counts: nc.counts };
}

/**
 * The `WWW-Authenticate` (or `Proxy-Authenticate`) values of a challenge, one per algorithm
 * offered, sharing one new nonce; `random` is 8 fresh bytes from the adapter.
 */
export function digestChallenges(
  realm: DigestRealm,
  nowMs: number,
  random: Uint8Array,
  stale: boolean,
): string[] {
  const nonce = issueNonce(realm.secret, realm.realm, nowMs, random);
  const opaque = realmOpaque(realm.secret, realm.realm);
  return realm.algorithms.map((algorithm) =>
    formatDigestChallenge({ realm: realm.realm, nonce, opaque, algorithm, stale }),
  );
}
