/**
 * Desk passwords as stored strings (docs/architecture.md §4.3 "Desk authentication"): scrypt
 * from node:crypto, with its parameters and salt in the string itself
 * (`scrypt$<N>$<r>$<p>$<salt, base64>$<hash, base64>`), so stronger parameters can come later
 * without touching the rows already stored: each row is checked with its own.
 *
 * `verifyPassword` costs the same whether or not the user has a password: with no stored hash
 * (an unknown user, one never given a password) it still derives a key, against a dummy hash
 * made once with the default parameters, and answers false. Comparison is constant-time.
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { invalidArgument } from '../../shared/errors.js';

export interface ScryptParams {
  /** CPU/memory cost, a power of two. */
  N: number;
  r: number;
  p: number;
}

/** 2^15 x 8 x 128 bytes = 32 MiB and some tens of ms a check: slow to guess, fine at a sign-in. */
export const DEFAULT_SCRYPT: ScryptParams = { N: 32_768, r: 8, p: 1 };
const KEY_BYTES = 32;
const SALT_BYTES = 16;

/** Passwords are 8 to 128 characters; nothing else is imposed (a pass phrase is welcome). */
export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 128;

/** Refuse a new password that breaks the rule, naming `field`. */
export function checkNewPassword(password: string, field = 'new_password'): void {
  if (typeof password !== 'string' || password.length < PASSWORD_MIN || password.length > PASSWORD_MAX) {
    throw invalidArgument(field, `must be ${PASSWORD_MIN} to ${PASSWORD_MAX} characters`);
  }
}

function derive(password: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  const options: ScryptOptions = {
    N: params.N,
    r: params.r,
    p: params.p,
    // Node's default ceiling (32 MiB) is just under what N=2^15, r=8 needs.
    maxmem: 256 * params.N * params.r + 1024 * 1024,
  };
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFC'), salt, KEY_BYTES, options, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

export async function hashPassword(password: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, params);
  return ['scrypt', params.N, params.r, params.p, salt.toString('base64'), key.toString('base64')].join('$');
}

interface Parsed {
  params: ScryptParams;
  salt: Buffer;
  key: Buffer;
}

const STORED_RE = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/;

function parseStored(stored: string): Parsed | undefined {
  const m = STORED_RE.exec(stored);
  if (!m) return undefined;
  const [N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  // A row with absurd parameters must not make a sign-in allocate gigabytes.
  if (!(N >= 2 && N <= 1 << 20 && (N & (N - 1)) === 0 && r >= 1 && r <= 32 && p >= 1 && p <= 16)) {
    return undefined;
  }
  const key = Buffer.from(m[5]!, 'base64');
  if (key.length !== KEY_BYTES) return undefined;
  return { params: { N, r, p }, salt: Buffer.from(m[4]!, 'base64'), key };
}

let dummy: Promise<Parsed> | undefined;
/** A hash nobody's password matches, for users without one (made once per process). */
function dummyHash(): Promise<Parsed> {
  dummy ??= hashPassword(randomBytes(24).toString('base64')).then((s) => parseStored(s)!);
  return dummy;
}

/** True when `password` matches `stored`; false for no stored hash, after the same work. */
export async function verifyPassword(password: string, stored: string | undefined): Promise<boolean> {
  const parsed = stored === undefined ? undefined : parseStored(stored);
  const against = parsed ?? (await dummyHash());
  const key = await derive(typeof password === 'string' ? password : '', against.salt, against.params);
  const same = timingSafeEqual(key, against.key);
  return same && parsed !== undefined;
}
