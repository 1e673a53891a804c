/**
 * Validation of a {@link CustomerProfile} arriving from outside the process (a site's write
 * through the hub, a seed file). The hub's directory is the system of record, so it checks
 * every profile before storing it: a malformed phone stored there would be pushed to every
 * interested site and could never be matched against an ANI again.
 *
 * Unknown keys are dropped rather than refused, so a site may hand back the object it holds
 * in its cache (which carries bookkeeping such as `cachedAtMs`) without copying it first.
 * Duplicate phones or cards inside one profile are refused: each one identifies exactly one
 * customer (the directory enforces that across customers too). Phones come out canonical
 * (shared/domain/phone.ts), and are compared in that form: "+8613900000001" and
 * "13900000001" are the same number.
 */
import { z } from 'zod';
import { isSiteId } from '../ids.js';
import { parseOrThrow } from '../validate.js';
import type { CustomerProfile } from './customer.js';
import { parseStoredPhone } from './phone.js';

export const MAX_PHONES = 10;
export const MAX_CARDS = 10;
export const MAX_ACCOUNTS = 20;
/** Notes one profile keeps (it travels whole in every feed message), and one note's length. */
export const MAX_NOTES = 100;
export const MAX_NOTE_TEXT = 500;

export const customerIdSchema = z
  .string()
  .min(1, 'must not be empty')
  .max(64, 'must be at most 64 characters')
  .regex(/^[A-Za-z0-9_.-]+$/, 'must be letters, digits, _ . - only');

/**
 * A phone, stored in its canonical form (shared/domain/phone.ts) so the ANI of a roaming
 * caller matches however the carrier writes it. Context-free: a profile belongs to no
 * city's dialling plan, so a bare local number is refused (it must carry its area code).
 */
export const phoneSchema = z.string().transform((raw, ctx) => {
  const r = parseStoredPhone(raw);
  if (r.ok) return r.phone;
  ctx.addIssue({ code: 'custom', message: r.problem });
  return z.NEVER;
});

export const cardSchema = z.string().regex(/^[0-9]{12,19}$/, 'must be a card number of 12-19 digits');

const siteId = z.string().refine(isSiteId, { message: 'must be a site id matching ^[a-z][a-z0-9-]{1,31}$' });

/**
 * An array whose elements must be distinct; the issue points at the repeated element. The
 * comparison is on parsed values, so two spellings of one phone number are a repeat.
 */
function distinct<T extends z.ZodType<string, string>>(item: T, max: number, noun: string) {
  return z
    .array(item)
    .max(max, `at most ${max} ${noun}s`)
    .superRefine((values, ctx) => {
      const seen = new Map<string, number>();
      values.forEach((v, i) => {
        const first = seen.get(v);
        if (first !== undefined) {
          ctx.addIssue({
            code: 'custom',
            message: `${noun} ${v} is listed twice (also at [${first}])`,
            path: [i],
          });
        } else seen.set(v, i);
      });
    });
}

export const customerProfileSchema = z.object({
  customerId: customerIdSchema,
  name: z
    .string()
    .max(200, 'must be at most 200 characters')
    .refine((s) => s.trim() !== '', { message: 'must not be empty' }),
  phones: distinct(phoneSchema, MAX_PHONES, 'phone'),
  cards: distinct(cardSchema, MAX_CARDS, 'card'),
  homeSiteId: siteId,
  segment: z.enum(['retail', 'vip', 'corporate']),
  language: z.string().regex(/^[a-z]{2}(-[A-Z]{2})?$/, "must look like 'zh' or 'en-US'"),
  flags: z.object({ blacklisted: z.boolean(), lostCard: z.boolean() }),
  accountIds: z
    .array(z.string().min(1, 'must not be empty').max(64, 'must be at most 64 characters'))
    .max(MAX_ACCOUNTS, `at most ${MAX_ACCOUNTS} accounts`),
  version: z.number().int('must be an integer').min(0, 'must be >= 0'),
  // A new note's siteId, by and atMs are stamped by the hub; only its text is the writer's.
  notes: z
    .array(
      z.object({
        siteId: z.string().max(32, 'must be at most 32 characters'),
        by: z.string().max(100, 'must be at most 100 characters'),
        atMs: z.number().int('must be an integer').min(0, 'must be >= 0'),
        text: z
          .string()
          .max(MAX_NOTE_TEXT, `must be at most ${MAX_NOTE_TEXT} characters`)
          .refine((t) => t.trim() !== '', { message: 'must not be empty' }),
      }),
    )
    .max(MAX_NOTES, `at most ${MAX_NOTES} notes`)
    .optional(),
  preferredCallback: z.union([z.literal(''), phoneSchema]).optional(),
});

// Compile-time guard: the schema's output is exactly the domain type, so a field added to
// CustomerProfile without a rule here fails the typecheck instead of being silently dropped.
type Parsed = z.infer<typeof customerProfileSchema>;
const _sameShape: [Parsed, CustomerProfile] extends [CustomerProfile, Parsed] ? true : false = true;
void _sameShape;

/**
 * Parse an untrusted profile. Throws DomainError('invalid-argument') listing every problem,
 * each named by its path under `what` (e.g. `profile.phones[1]`); `field` is the first one.
 */
export function parseCustomerProfile(input: unknown, what: string): CustomerProfile {
  return parseOrThrow(customerProfileSchema, input, what);
}
