/**
 * `diffTopology(a, b)`: what changes when the hub moves from compiled topology `a` to `b`
 * (both from validateTopology, so canonical), and `formatDiff`, what `fedctl diff` prints
 * and the audit entry of `fedctl apply` stores. Pure.
 *
 * Sites, overflow policies and cover entries are matched by id: a rename is a removal plus
 * an addition. A changed element lists each changed leaf field by dotted path; lists (queues,
 * overflow targets, days) are compared as whole values. `diffTopology(a, b)` is empty exactly
 * when `a` and `b` are deeply equal.
 *
 * Output of formatDiff, one line per change:
 *
 * ```
 * ~ version: 1 -> 2
 * - site kaizhou (access, 开州 Kaizhou): center wanzhou, backup chongqing
 * ~ site wanzhou: capacity.agents 8 -> 12; queues [complaints, retail] -> [complaints, fx, retail]
 * + site yongchuan (access, 永川 Yongchuan): center chongqing, backup (none)
 * - overflow center-vip-busy: chongqing [vip] -> [wanzhou]
 * ~ overflow fuling-busy: when.oldestWaitOverMs 60000 -> 90000
 * ~ cover night-wanzhou-retail: when.from 22:00 -> 21:00
 * ~ cover fuling-helps-wanzhou: rank below-own -> by-wait
 * + cover sunday-help: fuling serves chongqing [vip] on demand, rank below-own
 * ```
 */
import type { CoverSchedule, OverflowPolicy, Site, Topology } from './schema.js';

export interface FieldChange {
  /** Dotted path inside the element, e.g. `capacity.agents`, `when.oldestWaitOverMs`. */
  path: string;
  before: unknown;
  after: unknown;
}

export type HeaderField = 'version' | 'province' | 'hubSite' | 'utcOffsetMinutes';

export type TopologyChange =
  | { kind: 'header-changed'; field: HeaderField; before: unknown; after: unknown }
  | { kind: 'site-added'; site: Site }
  | { kind: 'site-removed'; site: Site }
  | { kind: 'site-changed'; id: string; fields: FieldChange[] }
  | { kind: 'overflow-added'; policy: OverflowPolicy }
  | { kind: 'overflow-removed'; policy: OverflowPolicy }
  | { kind: 'overflow-changed'; id: string; fields: FieldChange[] }
  | { kind: 'cover-added'; cover: CoverSchedule }
  | { kind: 'cover-removed'; cover: CoverSchedule }
  | { kind: 'cover-changed'; id: string; fields: FieldChange[] };

const HEADER: readonly HeaderField[] = ['version', 'province', 'hubSite', 'utcOffsetMinutes'];

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Deep equality for plain JSON data (objects, arrays, primitives, null). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k], b[k]));
  }
  return false;
}

/** Leaf field changes between two plain objects; arrays and primitives are leaves. */
export function fieldChanges(a: unknown, b: unknown, prefix = ''): FieldChange[] {
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
    return keys.flatMap((k) => fieldChanges(a[k], b[k], prefix ? `${prefix}.${k}` : k));
  }
  return jsonEqual(a, b) ? [] : [{ path: prefix || '(value)', before: a, after: b }];
}

function diffById<T extends { id: string }>(
  a: readonly T[],
  b: readonly T[],
  added: (x: T) => TopologyChange,
  removed: (x: T) => TopologyChange,
  changed: (id: string, fields: FieldChange[]) => TopologyChange,
): TopologyChange[] {
  const before = new Map(a.map((x) => [x.id, x]));
  const after = new Map(b.map((x) => [x.id, x]));
  const out: TopologyChange[] = [];
  for (const x of a) if (!after.has(x.id)) out.push(removed(x));
  for (const y of b) {
    const x = before.get(y.id);
    if (!x) out.push(added(y));
    else {
      const fields = fieldChanges(x, y);
      if (fields.length > 0) out.push(changed(y.id, fields));
    }
  }
  return out;
}

export function diffTopology(a: Topology, b: Topology): TopologyChange[] {
  const out: TopologyChange[] = [];
  for (const field of HEADER) {
    if (!jsonEqual(a[field], b[field]))
      out.push({ kind: 'header-changed', field, before: a[field], after: b[field] });
  }
  out.push(
    ...diffById(
      a.sites,
      b.sites,
      (site) => ({ kind: 'site-added', site }),
      (site) => ({ kind: 'site-removed', site }),
      (id, fields) => ({ kind: 'site-changed', id, fields }),
    ),
    ...diffById(
      a.overflow,
      b.overflow,
      (policy) => ({ kind: 'overflow-added', policy }),
      (policy) => ({ kind: 'overflow-removed', policy }),
      (id, fields) => ({ kind: 'overflow-changed', id, fields }),
    ),
    ...diffById(
      a.cover,
      b.cover,
      (cover) => ({ kind: 'cover-added', cover }),
      (cover) => ({ kind: 'cover-removed', cover }),
      (id, fields) => ({ kind: 'cover-changed', id, fields }),
    ),
  );
  return out;
}

function show(v: unknown): string {
  if (v === undefined) return '(none)';
  if (v === null) return '(none)';
  if (Array.isArray(v)) return `[${v.map(show).join(', ')}]`;
  if (typeof v === 'string') return v;
  if (isPlainObject(v)) return JSON.stringify(v);
  return String(v);
}

function showField(f: FieldChange): string {
  return `${f.path} ${show(f.before)} -> ${show(f.after)}`;
}

function siteSummary(s: Site): string {
  return s.kind === 'full'
    ? `${s.id} (full, ${s.city}): queues ${show(s.queues)}`
    : `${s.id} (access, ${s.city}): center ${s.center}, backup ${show(s.backupCenter)}`;
}

function overflowSummary(p: OverflowPolicy): string {
  return `${p.id}: ${p.from} ${show(p.queues)} -> ${show(p.to)}`;
}

function coverSummary(c: CoverSchedule): string {
  const when =
    c.when.kind === 'on-demand'
      ? 'on demand'
      : `${c.when.days.join(',')} ${c.when.from}-${c.when.to} UTC${c.when.utcOffsetMinutes >= 0 ? '+' : '-'}${Math.abs(c.when.utcOffsetMinutes)}m`;
  return `${c.id}: ${c.agentsOf} serves ${c.serves.site} ${show(c.serves.queues)} ${when}, rank ${c.rank}`;
}

/** One line per change: `+` added, `-` removed, `~` changed. Empty string for no changes. */
export function formatDiff(changes: readonly TopologyChange[]): string {
  return changes
    .map((c) => {
      switch (c.kind) {
        case 'header-changed':
          return `~ ${c.field}: ${show(c.before)} -> ${show(c.after)}`;
        case 'site-added':
          return `+ site ${siteSummary(c.site)}`;
        case 'site-removed':
          return `- site ${siteSummary(c.site)}`;
        case 'site-changed':
          return `~ site ${c.id}: ${c.fields.map(showField).join('; ')}`;
        case 'overflow-added':
          return `+ overflow ${overflowSummary(c.policy)}`;
        case 'overflow-removed':
          return `- overflow ${overflowSummary(c.policy)}`;
        case 'overflow-changed':
          return `~ overflow ${c.id}: ${c.fields.map(showField).join('; ')}`;
        case 'cover-added':
          return `+ cover ${coverSummary(c.cover)}`;
        case 'cover-removed':
          return `- cover ${coverSummary(c.cover)}`;
        case 'cover-changed':
          return `~ cover ${c.id}: ${c.fields.map(showField).join('; ')}`;
      }
    })
    .join('\n');
}

/** No topology at all: what the very first version is compared against. */
export const EMPTY_TOPOLOGY: Topology = {
  version: null,
  province: '',
  hubSite: '',
  utcOffsetMinutes: 0,
  sites: [],
  overflow: [],
  cover: [],
};

/** The `formatDiff` lines from `from` (none yet: everything is added) to `to`. */
export function changeLines(from: Topology | undefined, to: Topology): string[] {
  return formatDiff(diffTopology(from ?? EMPTY_TOPOLOGY, to))
    .split('\n')
    .filter((l) => l.length > 0);
}
