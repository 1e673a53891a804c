/**
 * The text of digest headers (RFC 3261 §25.1 and §22.4, RFC 7616 §3.3-3.4): reading an
 * `Authorization` / `Proxy-Authorization` value into its fields, and writing a
 * `WWW-Authenticate` / `Proxy-Authenticate` challenge. Bad input throws an invalid-argument
 * error whose field is `<header>.<param>`, so the one place that answers SIP requests turns it
 * into a `400` naming what is wrong.
 */
import { invalidArgument } from '../errors.js';
import { DIGEST_HEX_LENGTH, type DigestAlgorithm } from './digest-hash.js';

export type CredentialsHeader = 'Authorization' | 'Proxy-Authorization';

/** An `Authorization` value, checked for shape (not yet for truth: digest.ts does that). */
export interface DigestCredentials {
  username: string;
  realm: string;
  nonce: string;
  uri: string;
  response: string;
  algorithm: DigestAlgorithm;
  /** Present when the client used qop (the only one offered is `auth`). */
  qop: { nc: string; ncValue: number; cnonce: string } | undefined;
  opaque: string | undefined;
}

const TOKEN = /^[A-Za-z0-9\-.!%*_+`'~]+/;
const NC = /^[0-9a-fA-F]{8}$/;
const HEX = /^[0-9a-fA-F]+$/;
/** Params a value may carry that we read; others (a client's extensions) are skipped. */
const REQUIRED = ['username', 'realm', 'nonce', 'uri', 'response'] as const;

/**
 * The `name=value` pairs after the scheme: values are tokens or quoted strings with `\`
 * escapes (RFC 3261 §25.1 quoted-pair), names case-insensitive, each at most once.
 */
function parseParams(text: string, header: string): Map<string, string> {
  const params = new Map<string, string>();
  let rest = text;
  const skipSpace = () => (rest = rest.replace(/^[ \t\r\n]+/, ''));
  skipSpace();
  while (rest.length > 0) {
    const name = TOKEN.exec(rest)?.[0];
    if (!name)
      throw invalidArgument(header, `expected a parameter name at ${JSON.stringify(rest.slice(0, 20))}`);
    rest = rest.slice(name.length);
    skipSpace();
    if (!rest.startsWith('=')) throw invalidArgument(`${header}.${name}`, 'has no "=value"');
    rest = rest.slice(1);
    skipSpace();
    let value: string;
    if (rest.startsWith('"')) {
      value = '';
      let i = 1;
      for (; i < rest.length && rest[i] !== '"'; i++) {
        if (rest[i] === '\\') {
          i++;
          if (i >= rest.length) break;
        }
        value += rest[i];
      }
      if (i >= rest.length) throw invalidArgument(`${header}.${name}`, 'has an unterminated quoted string');
      rest = rest.slice(i + 1);
    } else {
      const token = TOKEN.exec(rest)?.[0];
      if (!token) throw invalidArgument(`${header}.${name}`, 'has an empty or malformed value');
      value = token;
      rest = rest.slice(token.length);
    }
    const key = name.toLowerCase();
    if (params.has(key)) throw invalidArgument(`${header}.${key}`, 'appears twice');
    params.set(key, value);
    skipSpace();
    if (rest.length === 0) break;
    if (!rest.startsWith(',')) throw invalidArgument(`${header}.${key}`, 'is not followed by "," or the end');
    rest = rest.slice(1);
    skipSpace();
  }
  return params;
}

/** Reads a `Digest ...` credentials value; throws naming the header and param on bad input. */
export function parseDigestCredentials(
  value: string,
  header: CredentialsHeader = 'Authorization',
): DigestCredentials {
  const scheme = /^[ \t]*([A-Za-z]+)(?:[ \t\r\n]+|$)/.exec(value);
  if (!scheme || scheme[1]!.toLowerCase() !== 'digest')
    throw invalidArgument(header, `the scheme must be Digest, got ${JSON.stringify(value.slice(0, 20))}`);
  const p = parseParams(value.slice(scheme[0].length), header);
  for (const name of REQUIRED) {
    if (!p.get(name)) throw invalidArgument(`${header}.${name}`, 'is missing');
  }
  const algorithmText = p.get('algorithm') ?? 'MD5'; // RFC 2617 §3.2.1: absent means MD5
  const algorithm = (['MD5', 'SHA-256'] as const).find((a) => a === algorithmText.toUpperCase());
  if (!algorithm)
    throw invalidArgument(`${header}.algorithm`, `${JSON.stringify(algorithmText)} is not MD5 or SHA-256`);
  if (p.get('userhash')?.toLowerCase() === 'true')
    throw invalidArgument(`${header}.userhash`, 'hashed usernames are not supported');
  const response = p.get('response')!;
  if (response.length !== DIGEST_HEX_LENGTH[algorithm] || !HEX.test(response))
    throw invalidArgument(
      `${header}.response`,
      `must be ${DIGEST_HEX_LENGTH[algorithm]} hex digits for ${algorithm}`,
    );
  let qop: DigestCredentials['qop'];
  const qopText = p.get('qop');
  if (qopText !== undefined) {
    if (qopText.toLowerCase() !== 'auth') throw invalidArgument(`${header}.qop`, `only "auth" is offered`);
    const nc = p.get('nc');
    if (!nc) throw invalidArgument(`${header}.nc`, 'is missing (required with qop)');
    if (!NC.test(nc)) throw invalidArgument(`${header}.nc`, 'must be 8 hex digits');
    const cnonce = p.get('cnonce');
    if (!cnonce) throw invalidArgument(`${header}.cnonce`, 'is missing (required with qop)');
    qop = { nc, ncValue: parseInt(nc, 16), cnonce };
  }
  return {
    username: p.get('username')!,
    realm: p.get('realm')!,
    nonce: p.get('nonce')!,
    uri: p.get('uri')!,
    response: response.toLowerCase(),
    algorithm,
    qop,
    opaque: p.get('opaque'),
  };
}

export interface DigestChallenge {
  realm: string;
  nonce: string;
  opaque: string;
  algorithm: DigestAlgorithm;
  /** The client's nonce was ours and its password right, only too old: retry without asking. */
  stale: boolean;
}

/** `"..."` with `\` and `"` escaped. */
const quote = (s: string): string => `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;

/** A `WWW-Authenticate` / `Proxy-Authenticate` value (one per algorithm offered). */
export const formatDigestChallenge = (c: DigestChallenge): string =>
  `Digest realm=${quote(c.realm)}, nonce=${quote(c.nonce)}, opaque=${quote(c.opaque)}, ` +
  `algorithm=${c.algorithm}, qop="auth"${c.stale ? ', stale=true' : ''}`;
