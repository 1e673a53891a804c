/**
 * The duration grammar every config and contract file shares (the ACD and site configs, the
 * hub config, the province topology, fedctl's flags): a number of milliseconds, or a string
 * with a unit, `'500ms'`, `'20s'`, `'15m'`, `'1h'`, `'7d'` (decimals allowed: `'1.5s'`).
 * The parsed value is integer milliseconds, >= 0. It lives in shared/ because the hub and
 * the sites must read the same text the same way.
 */
import { z } from 'zod';

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration: milliseconds, or a string like '20s'. Output is integer milliseconds. */
export const durationMs = z.union([z.number(), z.string()]).transform((v, ctx): number => {
  let ms: number;
  if (typeof v === 'number') ms = v;
  else {
    const m = DURATION.exec(v.trim());
    if (!m) {
      ctx.addIssue({
        code: 'custom',
        message: `"${v}" is not a duration (use ms or e.g. '20s', '15m', '1h', '7d')`,
      });
      return z.NEVER;
    }
    ms = Number(m[1]) * UNIT_MS[m[2]!]!;
  }
  if (!Number.isFinite(ms) || ms < 0) {
    ctx.addIssue({ code: 'custom', message: 'duration must be a finite number >= 0' });
    return z.NEVER;
  }
  return Math.round(ms);
});
