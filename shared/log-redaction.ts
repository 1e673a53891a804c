/**
 * What never reaches a log line: pino's `redact` paths and the censor that fills them in.
 * Keys are matched by exact name, never by substring (a pattern on "pin" also hid `mapping`
 * and `eventsShipping`). The names are the ones the code uses for these values: `pin`,
 * `newPin` and `pinHash` (IVR, bank host), `password`, the desk's `newPassword`, `oldPassword`,
 * `passwordHash`, `sessionToken`, `token` and `authorization` (a session's bearer token, bare
 * or as the gRPC metadata carrying it: site-node/cti/), `cardNumber`/`card`/`pan` and the
 * `cards` of a customer profile; each is caught at the top of a line or nested up to three
 * objects down, e.g. `req.pin`, `params.password`, `cmd.args.subject.cardNumber`.
 */

/** Replaced by `[redacted]` whatever their value. */
const SECRET_KEYS = [
  'pin',
  'newPin',
  'pinHash',
  'password',
  'newPassword',
  'oldPassword',
  'passwordHash',
  'sessionToken',
  'token',
  'authorization',
  'cvv',
];
/** A card number: masked, keeping at most its first 6 and last 4 digits. */
const CARD_KEYS = ['cardNumber', 'card', 'pan'];
/** A list of card numbers: each one masked. */
const CARD_LIST_KEYS = ['cards'];

const DEPTHS = ['', '*.', '*.*.', '*.*.*.'];

export const REDACT_PATHS: readonly string[] = DEPTHS.flatMap((at) => [
  ...SECRET_KEYS.map((k) => at + k),
  ...CARD_KEYS.map((k) => at + k),
  ...CARD_LIST_KEYS.map((k) => `${at}${k}.*`),
]);

const REDACTED = '[redacted]';

const cardKeys = new Set(CARD_KEYS);
const cardListKeys = new Set(CARD_LIST_KEYS);

/**
 * pino calls this for every value found at one of REDACT_PATHS; `path` ends with the key
 * (its first element may be pino's wildcard symbol, hence String()).
 */
export function censor(value: unknown, path: readonly (string | symbol)[]): string {
  const key = String(path.at(-1));
  const parent = path.length > 1 ? String(path.at(-2)) : undefined;
  if (cardKeys.has(key) || (parent !== undefined && cardListKeys.has(parent))) return maskCardNumber(value);
  return REDACTED;
}

/**
 * `6228480000001234` -> `622848******1234`. At least six digits always stay hidden, so a
 * shorter number shows less of its front (the IVR accepts card numbers of 12 to 19 digits);
 * anything that is not such a number is `[redacted]` whole.
 */
function maskCardNumber(value: unknown): string {
  if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'bigint') return REDACTED;
  const digits = String(value).replace(/[\s-]/g, '');
  if (!/^\d{12,19}$/.test(digits)) return REDACTED;
  const head = Math.min(6, digits.length - 10);
  return digits.slice(0, head) + '*'.repeat(digits.length - head - 4) + digits.slice(-4);
}
