/**
 * What `fedctl cover start --until TIME` accepts, parsed before anything connects (pure):
 *
 * - an ISO 8601 instant WITH its offset: `2026-12-02T18:00+08:00`, `2026-12-02T18:00:30+08:00`,
 *   `2026-12-02T10:00:00.000Z`. An instant without an offset is refused: whose local time it
 *   means (the admin's laptop, the hub, the entry's city) would be a guess.
 * - a duration from now, `+` and the duration grammar (shared/duration.ts): `+90m`, `+2h`,
 *   `+1d`. It is sent as a duration and added to the hub's clock, not fedctl's, so a
 *   laptop's clock being off does not move the end.
 *
 * Whether the instant is in the future is the hub's to say (its clock; checkCoverStart).
 */
import { durationMs } from '../../shared/duration.js';

const ISO = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?(Z|[+-]\d{2}:\d{2})$/;

export type CoverUntil = { untilMs: number } | { forMs: number };

export const UNTIL_FORMATS =
  'an ISO 8601 instant with its offset (2026-12-02T18:00+08:00, 2026-12-02T10:00:00Z) or +DURATION from now (+90m, +2h, +1d)';

/** Parse `--until`; throws an Error naming what is wrong (the caller makes it a usage error). */
export function parseCoverUntil(text: string): CoverUntil {
  const bad = (why: string) => new Error(`--until: "${text}" ${why}; give ${UNTIL_FORMATS}`);
  if (text.startsWith('+')) {
    const r = durationMs.safeParse(text.slice(1));
    if (!r.success || r.data <= 0) throw bad('is not a duration');
    return { forMs: r.data };
  }
  const m = ISO.exec(text);
  if (!m) {
    throw bad(
      /^\d{4}-\d{2}-\d{2}T[\d:.]+$/.test(text) ? 'has no UTC offset (add Z or +08:00)' : 'is not a time',
    );
  }
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const ms = Date.parse(text);
  // Date.parse rolls some impossible dates over (Feb 30): check the fields it read back.
  const offsetMin =
    zone === 'Z'
      ? 0
      : (zone![0] === '-' ? -1 : 1) * (Number(zone!.slice(1, 3)) * 60 + Number(zone!.slice(4)));
  const local = new Date(ms + offsetMin * 60_000);
  const same =
    Number.isFinite(ms) &&
    local.getUTCFullYear() === Number(y) &&
    local.getUTCMonth() + 1 === Number(mo) &&
    local.getUTCDate() === Number(d) &&
    local.getUTCHours() === Number(h) &&
    local.getUTCMinutes() === Number(mi) &&
    local.getUTCSeconds() === Number(s ?? 0) &&
    local.getUTCMilliseconds() === Number((frac ?? '').padEnd(3, '0'));
  if (!same) throw bad('is not a real time');
  return { untilMs: ms };
}
