/**
 * Who may write what in the customer directory (docs/architecture.md §5.5): a pure rule, no
 * I/O. The directory runs it inside the write's transaction, on the stored profile it has
 * locked, so the decision and the write see the same row.
 *
 * - The customer's HOME site (the stored home, not the proposed one) and an admin may change
 *   the identity fields: name, home, phones, cards, segment, language, account ids and the
 *   blacklist flag. A new customer may only be created homed at the writing site (an admin:
 *   anywhere). Otherwise any site could take over another city's customer: re-home them,
 *   move their phone to itself, or rename them, and the change would reach the victim's cache.
 * - Any other site may write the customer only if the hub served it the customer (a lookup the
 *   hub answered, or an interest it holds: the same facts read-check.ts corroborates a reported
 *   read with). A site can only hold another city's customer the hub gave it, so an honest
 *   writer always has one; without it any site could name any customer id, add to the
 *   profile and follow it.
 * - Such a site may only add what an agent who served the customer may add: contact notes,
 *   a preferred callback number when none is stored (changing or clearing a stored one would
 *   redirect the customer's callbacks: the home's or an admin's), and the lost-card flag
 *   (set; clearing it is the home's, as is every identity decision).
 * - Notes are append-only and merged, never replaced: every stored note is kept whatever the
 *   proposal lists, and a proposed note that is not already stored is a new one, stamped with
 *   the writer's site, author and time (what the writer put there is ignored). So a write
 *   from a cache that does not keep notes drops none, and when two sites add notes on the
 *   same base the second is refused as stale (the version check), reloads and retries
 *   without losing the first's note. The profile keeps the newest MAX_NOTES: a new note past
 *   that moves the oldest out (droppedNotes: the directory archives it in the same
 *   transaction), so a full list never blocks the home site's next note and none is lost.
 *   Another site adds at most MAX_NOTES_PER_SITE_DAY notes to one customer in 24 hours, so
 *   one site cannot push the home's notes out of the profile in a burst.
 * - The author of a change comes from the caller's certificate; the site's own claim of which
 *   agent made it is recorded only scoped to that site (`wanzhou/a01`), so no request can
 *   name another site or an admin as the author.
 *
 * A refusal is a DomainError('permission-denied') naming the first field at fault; the rule
 * changes nothing, so the caller rolls back and records it.
 */
import type { ContactNote, CustomerProfile } from '../../shared/domain/customer.js';
import { MAX_NOTES } from '../../shared/domain/customer-schema.js';
import { DomainError, invalidArgument } from '../../shared/errors.js';

/** Notes a site other than the home may add to one customer in 24 hours (docs/architecture.md §5.5). */
export const MAX_NOTES_PER_SITE_DAY = 10;
const DAY_MS = 86_400_000;

/** Who writes, from the caller's certificate: a site (its id) or an admin (its id). */
export interface DirectoryWriter {
  kind: 'site' | 'admin';
  id: string;
}

/**
 * The claim a site may make about which of its agents (or 'ivr') made a change. No `@` or
 * `/`: `chongqing/w01@wanzhou` would read as wanzhou's user.
 */
const CLAIM_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/**
 * The author recorded for a change: `<site>` or `<site>/<claim>` for a site, `admin <id>` for
 * an admin (whose claim is ignored: the certificate already names the person). The space
 * keeps an admin apart from a site that happens to be called `admin`. A claim that is not a
 * plain name is refused rather than cleaned, so the record never shows what was not sent.
 */
export function authorOf(writer: DirectoryWriter, claimedBy: string, field = 'changedBy'): string {
  if (writer.kind === 'admin') return `admin ${writer.id}`;
  if (claimedBy === '') return writer.id;
  if (!CLAIM_RE.test(claimedBy)) {
    throw invalidArgument(
      field,
      `must be the agent id (or "ivr") at site ${writer.id}: letters, digits, _ . - only, at most 64 (got ${JSON.stringify(claimedBy.slice(0, 80))})`,
    );
  }
  return `${writer.id}/${claimedBy}`;
}

const sameSet = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && [...a].sort().join('\u0000') === [...b].sort().join('\u0000');

/** The identity fields, in the order a refusal names the first that differs. */
const IDENTITY: ReadonlyArray<readonly [string, (a: CustomerProfile, b: CustomerProfile) => boolean]> = [
  ['homeSiteId', (a, b) => a.homeSiteId === b.homeSiteId],
  ['name', (a, b) => a.name === b.name],
  ['phones', (a, b) => sameSet(a.phones, b.phones)],
  ['cards', (a, b) => sameSet(a.cards, b.cards)],
  ['accountIds', (a, b) => sameSet(a.accountIds, b.accountIds)],
  ['segment', (a, b) => a.segment === b.segment],
  ['language', (a, b) => a.language === b.language],
  ['flags.blacklisted', (a, b) => a.flags.blacklisted === b.flags.blacklisted],
];

const noteKey = (n: ContactNote): string => JSON.stringify([n.siteId, n.by, n.atMs, n.text]);

function refuse(field: string, message: string): never {
  throw new DomainError('permission-denied', `profile.${field}: ${message}`, { field: `profile.${field}` });
}

export interface WriteStamp {
  /** `authorOf(...)`. */
  author: string;
  nowMs: number;
  /**
   * The hub served this customer to the writing site before (an audit row `served_from = hub`
   * or an interest it holds). Only asked of a site that is not the stored home.
   */
  servedToWriter: boolean;
}

/**
 * What to store for `proposed` (already schema-checked) written by `writer` over `stored`
 * (none: a new customer), or a permission-denied refusal. The result keeps `proposed`'s
 * version (the store sets the new one); it has no `notes` / `preferredCallback` key when
 * there are none, like a profile read back from the store.
 */
export function decideWrite(
  writer: DirectoryWriter,
  stored: CustomerProfile | undefined,
  proposed: CustomerProfile,
  stamp: WriteStamp,
): CustomerProfile {
  const admin = writer.kind === 'admin';
  if (!stored && !admin && proposed.homeSiteId !== writer.id) {
    refuse(
      'homeSiteId',
      `site ${writer.id} may only create customers homed at itself, not at ${proposed.homeSiteId} (an admin may create one anywhere)`,
    );
  }
  const home = stored?.homeSiteId ?? proposed.homeSiteId;
  const ownsIdentity = admin || home === writer.id;
  if (stored && !ownsIdentity) {
    if (!stamp.servedToWriter) {
      refuse(
        'customerId',
        `the hub never served customer ${stored.customerId} to site ${writer.id}; only its home site (${home}), an admin or a site that served it may write it`,
      );
    }
    for (const [field, same] of IDENTITY) {
      if (!same(stored, proposed)) {
        refuse(field, `only the customer's home site (${home}) or an admin may change it`);
      }
    }
    if (stored.flags.lostCard && !proposed.flags.lostCard) {
      refuse('flags.lostCard', `only the customer's home site (${home}) or an admin may clear it`);
    }
    const storedCallback = stored.preferredCallback ?? '';
    const proposedCallback = proposed.preferredCallback;
    if (storedCallback !== '' && proposedCallback !== undefined && proposedCallback !== storedCallback) {
      refuse(
        'preferredCallback',
        `only the customer's home site (${home}) or an admin may change or clear it; another site may only add one when none is stored`,
      );
    }
  }
  const base = stored && !ownsIdentity ? stored : proposed;

  const kept = stored?.notes ?? [];
  const known = new Set(kept.map(noteKey));
  const added = (proposed.notes ?? [])
    .filter((n) => !known.has(noteKey(n)))
    .map((n) => ({
      siteId: admin ? '' : writer.id,
      by: stamp.author,
      atMs: stamp.nowMs,
      text: n.text,
    }));
  if (stored && !ownsIdentity && added.length > 0) {
    const today = kept.filter((n) => n.siteId === writer.id && n.atMs > stamp.nowMs - DAY_MS).length;
    if (today + added.length > MAX_NOTES_PER_SITE_DAY) {
      refuse(
        'notes',
        `site ${writer.id} may add at most ${MAX_NOTES_PER_SITE_DAY} notes a day to customer ${stored.customerId} (home ${home}); it added ${today} in the last 24 hours and sent ${added.length} more`,
      );
    }
  }
  // The newest MAX_NOTES stay on the profile; older ones go to the archive (droppedNotes).
  const notes = [...kept, ...added].slice(-MAX_NOTES);
  // Absent = unchanged (a cache or an older peer that does not keep it); '' = cleared.
  const callback = proposed.preferredCallback ?? stored?.preferredCallback ?? '';

  const out: CustomerProfile = {
    customerId: proposed.customerId,
    name: base.name,
    phones: [...base.phones],
    cards: [...base.cards],
    homeSiteId: base.homeSiteId,
    segment: base.segment,
    language: base.language,
    flags: { blacklisted: base.flags.blacklisted, lostCard: proposed.flags.lostCard },
    accountIds: [...base.accountIds],
    version: proposed.version,
  };
  if (notes.length > 0) out.notes = notes;
  if (callback !== '') out.preferredCallback = callback;
  return out;
}

/**
 * The stored notes `decided` (decideWrite's result over `stored`) no longer holds: the oldest,
 * moved out by newer ones past MAX_NOTES. The directory archives them with the write.
 */
export function droppedNotes(stored: CustomerProfile | undefined, decided: CustomerProfile): ContactNote[] {
  const keptNow = new Set((decided.notes ?? []).map(noteKey));
  return (stored?.notes ?? []).filter((n) => !keptNow.has(noteKey(n)));
}
