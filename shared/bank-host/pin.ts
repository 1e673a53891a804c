/**
 * PIN hashing: salted scrypt, compared in constant time. PINs are never stored, logged or put
 * in an error message in clear; only `scrypt$N$r$p$salt$hash` strings are stored.
 */
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';

const N = 16384;
const R = 8;
const P = 1;
const KEYLEN = 32;

function scrypt(pin: string, salt: Buffer, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scryptCb(pin, salt, KEYLEN, opts, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

export async function hashPin(pin: string, salt: Buffer = randomBytes(16)): Promise<string> {
  if (!/^\d{4,12}$/.test(pin)) throw new RangeError('hashPin: a PIN is 4..12 digits');
  const key = await scrypt(pin, salt, { N, r: R, p: P });
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** False for a wrong PIN or a malformed stored hash; never throws on the PIN's content. */
export async function verifyPinHash(pin: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [, n, r, p, saltB64, keyB64] = parts as [string, string, string, string, string, string];
  const expected = Buffer.from(keyB64, 'base64');
  if (typeof pin !== 'string' || pin.length === 0 || pin.length > 64) {
    // Still spend the time so a wrong-length PIN is not distinguishable by timing.
    await scrypt('0000', Buffer.from(saltB64, 'base64'), { N: Number(n), r: Number(r), p: Number(p) });
    return false;
  }
  const key = await scrypt(pin, Buffer.from(saltB64, 'base64'), { N: Number(n), r: Number(r), p: Number(p) });
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/**
 * A secret value (a PIN) on its way to the host. It serialises and inspects as `[redacted]`,
 * so a command carrying it can be logged, stored in a test's transcript or JSON-encoded
 * without the digits leaking; only `reveal()` gives them back.
 */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  toJSON(): string {
    return '[redacted]';
  }
  toString(): string {
    return '[redacted]';
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return 'Secret([redacted])';
  }
}
