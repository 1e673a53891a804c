/**
 * A compiled topology as it travels. The hub stores each version as the {@link Topology}
 * `validateTopology` compiled and pushes it to the sites as JSON. A site does not trust that
 * JSON (a hub bug, another hub version, a hand-edited row): `validateCompiledTopology` checks
 * it with the very rules the file was checked with, so a site and the hub cannot disagree on
 * what a valid topology is.
 *
 * How: the compiled form is written back in the file's own terms (`null` -> absent,
 * `{ kind: 'on-demand' }` -> `'on-demand'`, a weekly window without its `kind`), keeping
 * every array in place, and that is validated. So every problem is reported, each named by
 * its path in the pushed JSON (`sites[2].capacity.trunks: ...`), and anything the file
 * format does not know (an unknown field, a `when` of another kind) is refused by the file's
 * strict schemas. Compiling a compiled topology again gives it back unchanged (tested), so a
 * valid push is adopted exactly as sent. Pure.
 */
import type { Topology } from './schema.js';
import { validateTopology } from './validate.js';

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** A copy of `o` without the keys whose value is `null` (the compiled form's "absent"). */
function withoutNulls(o: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  const out = { ...o };
  for (const k of keys) if (out[k] === null) delete out[k];
  return out;
}

const mapArray = (v: unknown, f: (x: unknown) => unknown): unknown => (Array.isArray(v) ? v.map(f) : v);

function siteToFile(s: unknown): unknown {
  return isRecord(s) && s.kind === 'access' ? withoutNulls(s, ['backupCenter']) : s;
}

function overflowToFile(p: unknown): unknown {
  if (!isRecord(p) || !isRecord(p.when)) return p;
  return { ...p, when: withoutNulls(p.when, ['waitingOver', 'oldestWaitOverMs', 'serviceLevelBelow']) };
}

function coverToFile(c: unknown): unknown {
  if (!isRecord(c) || !isRecord(c.when)) return c;
  const { kind, ...rest } = c.when;
  if (kind === 'on-demand' && Object.keys(rest).length === 0) return { ...c, when: 'on-demand' };
  if (kind === 'weekly') return { ...c, when: rest };
  return c; // not a compiled `when`: the file's schema says what is wrong with it
}

/** The compiled form in the file's terms; anything unexpected is left for validation to name. */
function compiledToFile(input: unknown): unknown {
  if (!isRecord(input)) return input;
  const out = withoutNulls(input, ['version']);
  if ('sites' in out) out.sites = mapArray(out.sites, siteToFile);
  if ('overflow' in out) out.overflow = mapArray(out.overflow, overflowToFile);
  if ('cover' in out) out.cover = mapArray(out.cover, coverToFile);
  return out;
}

/**
 * Check a compiled topology (parsed JSON) as the hub pushed it and return it in canonical
 * form. Throws DomainError('invalid-argument') listing every problem with its path, exactly
 * as `validateTopology` does for a file.
 */
export function validateCompiledTopology(input: unknown): Topology {
  return validateTopology(compiledToFile(input));
}
