/**
 * The hashes of HTTP digest as SIP uses it (RFC 3261 §22.4 with RFC 2617 §3.2.2 and RFC 7616
 * §3.4.1): HA1 = H(user:realm:password), HA2 = H(method:uri), and the response
 * KD(HA1, nonce:nc:cnonce:qop:HA2). Only the plain algorithms (no `-sess`) and qop `auth`:
 * phones use nothing else, and the site stores HA1, never the password, so a `-sess` HA1
 * (which mixes in the client's nonce) could not be made from what is stored anyway.
 */
import { createHash } from 'node:crypto';

export type DigestAlgorithm = 'MD5' | 'SHA-256';
export const DIGEST_ALGORITHMS: readonly DigestAlgorithm[] = ['SHA-256', 'MD5'];

/**
 * What a realm may be, for the site's config and the HA1 tool alike: no `:` (it would make
 * `user:realm:password` ambiguous) and no quote (it goes into a quoted challenge as is).
 */
export const DIGEST_REALM_RE = /^[A-Za-z0-9.\-_@]{1,255}$/;

const NODE_HASH: Record<DigestAlgorithm, string> = { MD5: 'md5', 'SHA-256': 'sha256' };
/** Hex digits of each algorithm's digest: a response of another length is malformed. */
export const DIGEST_HEX_LENGTH: Record<DigestAlgorithm, number> = { MD5: 32, 'SHA-256': 64 };

/** Lower-case hex of H(text), the text in UTF-8 (RFC 7616 §4: charset UTF-8). */
export const digestHash = (algorithm: DigestAlgorithm, text: string): string =>
  createHash(NODE_HASH[algorithm]).update(text, 'utf8').digest('hex');

/** What the site stores for a phone: H(username:realm:password). */
export const ha1 = (algorithm: DigestAlgorithm, username: string, realm: string, password: string): string =>
  digestHash(algorithm, `${username}:${realm}:${password}`);

export interface DigestResponseInput {
  algorithm: DigestAlgorithm;
  ha1: string;
  method: string;
  uri: string;
  nonce: string;
  /** With qop `auth`; absent for an RFC 2069 response (which we never accept, but can compute). */
  qop?: { nc: string; cnonce: string };
}

/** The `response` a client holding the right HA1 sends. */
export function digestResponse(i: DigestResponseInput): string {
  const ha2 = digestHash(i.algorithm, `${i.method}:${i.uri}`);
  const middle = i.qop ? `${i.nonce}:${i.qop.nc}:${i.qop.cnonce}:auth` : i.nonce;
  return digestHash(i.algorithm, `${i.ha1.toLowerCase()}:${middle}:${ha2}`);
}
