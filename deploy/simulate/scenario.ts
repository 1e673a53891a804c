/**
 * A what-if scenario, checked and compiled once (docs/architecture.md §3.6): the schema's
 * shape (scenario-schema.ts) plus the checks across files, with every problem named by its
 * path (`sites.wanzhou.arrivals.byHour[9]: must be >= 0`) and reported at once. Nothing runs
 * on a scenario that does not compile. Pure: files are read through `read`, so the tests give
 * it text and the command line gives it the disk.
 *
 * What compiling settles, so the run never has to: each full site's ACD config (compiled by
 * the ACD's own `compileAcdConfig`, the way a site reads its config file), its agents as
 * login/logout times on the scenario's day (a shift that ends before it starts runs over
 * midnight, as cover windows do), the callers of each city as whole calls per queue and hour
 * (a share splits an hour's count by largest remainder, so the counts add up), and the events
 * applied (a busy hour multiplies that hour's calls; agents short removes that fraction of
 * each roster group, rounded; a link cut becomes an interval).
 */
import { parse as parseYaml } from 'yaml';
import { isDomainError } from '../../shared/errors.js';
import { formatIssuePath, throwInvalid } from '../../shared/validate.js';
import { validateTopology } from '../../shared/topology/validate.js';
import type { Topology } from '../../shared/topology/schema.js';
import { compileAcdConfig, type CompiledAcdConfig } from '../../site-node/acd/index.js';
import { scenarioSchema, type ParsedScenario, type SiteScenario } from './scenario-schema.js';

const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

export interface RosterAgent {
  agentId: string;
  skills: Record<string, number>;
  /** Logged in over these intervals (ms from the day's local midnight); an end of DAY_MS = stays on. */
  shifts: Array<[number, number]>;
}

export interface CompiledSite {
  id: string;
  acd: CompiledAcdConfig;
  agents: RosterAgent[];
}

export interface HandleTime {
  meanMs: number;
  distribution: 'exponential' | 'lognormal' | 'constant';
  sdMs: number;
}

/** Where one city's callers come from and what they are like. */
export interface CallerSource {
  /** The city the callers dial in (a full site, or an access city). */
  cityId: string;
  /** The full site whose ACD takes them (the city itself, or an access city's center). */
  siteId: string;
  /** queueId -> whole calls per hour (24). */
  byQueue: Array<{ queueId: string; perHour: number[]; priority: number }>;
  handleTime: HandleTime;
  patienceMeanMs: number;
}

export interface CompiledScenario {
  topology: Topology;
  day: string;
  /** UTC ms of the day's local midnight (the topology's UTC offset). */
  dayStartMs: number;
  seed: number;
  thresholdMs: number;
  federation: ParsedScenario['federation'];
  /** The full sites, in the topology's order. */
  sites: CompiledSite[];
  callers: CallerSource[];
  /** Intervals (ms from local midnight) in which a site's link is cut. */
  linkCuts: Array<{ siteId: string; fromMs: number; toMs: number }>;
  totalCalls: number;
}

/** Reads a file named relative to the scenario file (the topology, a site config). */
export type ReadRelative = (path: string) => string;

const minutesOf = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/** `[from, to)` on the day; a shift whose end is not after its start runs over midnight. */
function shiftIntervals(from: string, to: string): Array<[number, number]> {
  const f = minutesOf(from) * 60_000;
  const t = minutesOf(to) * 60_000;
  if (t > f) return [[f, t]];
  const out: Array<[number, number]> = [];
  if (t > 0) out.push([0, t]);
  out.push([f, DAY_MS]);
  return out;
}

/** Split `total` by `weights` so the parts are whole and add up (largest remainder). */
export function splitWhole(total: number, weights: readonly number[]): number[] {
  const sum = weights.reduce((a, b) => a + b, 0);
  if (sum <= 0) return weights.map(() => 0);
  const exact = weights.map((w) => (total * w) / sum);
  const parts = exact.map(Math.floor);
  let left = total - parts.reduce((a, b) => a + b, 0);
  const order = exact
    .map((e, i) => [e - Math.floor(e), i] as const)
    .sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (const [, i] of order) {
    if (left <= 0) break;
    parts[i]!++;
    left--;
  }
  return parts;
}

function dayStart(day: string, utcOffsetMinutes: number): number | null {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  const utc = Date.UTC(y, m - 1, d);
  const back = new Date(utc);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== m - 1 || back.getUTCDate() !== d) return null;
  return utc - utcOffsetMinutes * 60_000;
}

/** The problems a DomainError carries, each already naming its field, or its message. */
function problemsOf(e: unknown, prefix: string): string[] {
  if (!isDomainError(e)) throw e;
  const ps = e.problems ?? [e.message];
  return ps.map((p) => (prefix ? `${prefix}: ${p}` : p));
}

function loadAcd(
  id: string,
  acd: NonNullable<SiteScenario['acd']>,
  read: ReadRelative,
  problems: string[],
): CompiledAcdConfig | null {
  const field = `sites.${id}.acd`;
  let input: unknown = acd;
  if (typeof acd.from === 'string' && Object.keys(acd).length === 1) {
    try {
      const doc = parseYaml(read(acd.from)) as { acd?: unknown } | null;
      if (!doc || typeof doc !== 'object' || doc.acd === undefined) {
        problems.push(`${field}.from: ${acd.from} has no acd section`);
        return null;
      }
      input = doc.acd;
    } catch (e) {
      problems.push(`${field}.from: cannot read ${acd.from}: ${(e as Error).message.split('\n')[0]}`);
      return null;
    }
  }
  try {
    return compileAcdConfig(input, field);
  } catch (e) {
    problems.push(...problemsOf(e, ''));
    return null;
  }
}

/**
 * Check and compile a parsed scenario document. Throws one invalid-argument error listing
 * every problem, each naming its path; returns nothing half-made.
 */
export function compileScenario(doc: unknown, read: ReadRelative): CompiledScenario {
  const parsed = scenarioSchema.safeParse(doc);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${formatIssuePath('', i.path)}: ${i.message}`);
    return throwInvalid(problems, formatIssuePath('', parsed.error.issues[0]!.path));
  }
  const s = parsed.data;
  const problems: string[] = [];

  let topology: Topology | null = null;
  try {
    topology = validateTopology(parseYaml(read(s.topology)));
  } catch (e) {
    if (isDomainError(e)) problems.push(...problemsOf(e, `topology (${s.topology})`));
    else problems.push(`topology: cannot read ${s.topology}: ${(e as Error).message.split('\n')[0]}`);
  }
  if (!topology) return throwInvalid(problems, 'topology');

  const start = dayStart(s.day, topology.utcOffsetMinutes);
  if (start === null) problems.push(`day: ${s.day} is not a date`);

  const siteOf = new Map(topology.sites.map((x) => [x.id, x]));
  for (const id of Object.keys(s.sites)) {
    if (!siteOf.has(id))
      problems.push(`sites.${id}: not a site of the topology (${[...siteOf.keys()].join(', ')})`);
  }

  // Full sites: each needs its ACD and roster (an overflow target with no ACD could not answer).
  const sites: CompiledSite[] = [];
  const acdOf = new Map<string, CompiledAcdConfig>();
  const short = new Map<string, number[]>();
  for (const e of s.events)
    if (e.kind === 'agents-short') short.set(e.site, [...(short.get(e.site) ?? []), e.fraction]);
  for (const site of topology.sites) {
    const sc = s.sites[site.id];
    const f = `sites.${site.id}`;
    if (site.kind === 'access') {
      if (sc?.acd !== undefined)
        problems.push(`${f}.acd: ${site.id} is an access city: its calls go to ${site.center}'s ACD`);
      if (sc?.roster !== undefined)
        problems.push(`${f}.roster: ${site.id} is an access city: it has no agents`);
      continue;
    }
    if (!sc) {
      problems.push(`${f}: required: ${site.id} is a full site of the topology (its acd and roster)`);
      continue;
    }
    if (sc.acd === undefined) problems.push(`${f}.acd: required for a full site`);
    if (sc.roster === undefined) problems.push(`${f}.roster: required for a full site`);
    const acd = sc.acd === undefined ? null : loadAcd(site.id, sc.acd, read, problems);
    if (!acd) continue;
    acdOf.set(site.id, acd);
    const agents: RosterAgent[] = [];
    const names = new Set<string>();
    (sc.roster ?? []).forEach((g, i) => {
      if (names.has(g.name)) problems.push(`${f}.roster[${i}].name: duplicate group "${g.name}"`);
      names.add(g.name);
      let count = g.count;
      for (const fraction of short.get(site.id) ?? []) count -= Math.round(count * fraction);
      const shifts = shiftIntervals(g.from, g.to);
      for (let n = 1; n <= count; n++)
        agents.push({ agentId: `${site.id}.${g.name}.${n}`, skills: g.skills, shifts });
    });
    sites.push({ id: site.id, acd, agents });
  }

  const busy = s.events.filter((e) => e.kind === 'busy-hour');
  const callers: CallerSource[] = [];
  for (const [id, sc] of Object.entries(s.sites)) {
    const site = siteOf.get(id);
    if (!site || sc.arrivals === undefined) continue;
    const f = `sites.${id}`;
    const centerId = site.kind === 'full' ? id : site.center;
    const acd = acdOf.get(centerId);
    if (sc.handleTime === undefined) problems.push(`${f}.handleTime: required for a site with arrivals`);
    if (sc.patience === undefined) problems.push(`${f}.patience: required for a site with arrivals`);
    if (!acd) continue;
    const queues: Array<[string, number[], string]> =
      'byQueue' in sc.arrivals
        ? Object.entries(sc.arrivals.byQueue).map(([q, h]) => [q, h, `${f}.arrivals.byQueue.${q}`])
        : (() => {
            const { byHour, share } = sc.arrivals as { byHour: number[]; share: Record<string, number> };
            const ids = Object.keys(share);
            if (ids.length === 0 || ids.every((q) => share[q] === 0)) {
              problems.push(`${f}.arrivals.share: must give at least one queue a share above 0`);
            }
            const split = byHour.map((n) =>
              splitWhole(
                n,
                ids.map((q) => share[q]!),
              ),
            );
            return ids.map((q, j): [string, number[], string] => [
              q,
              split.map((h) => h[j]!),
              `${f}.arrivals.share.${q}`,
            ]);
          })();
    for (const [q, , path] of queues) {
      if (!acd.queueById.has(q)) {
        problems.push(
          `${path}: ${centerId}'s ACD has no queue "${q}" (it has ${[...acd.queueById.keys()].join(', ')})`,
        );
      }
    }
    for (const q of Object.keys(sc.priorities)) {
      if (!acd.queueById.has(q))
        problems.push(`sites.${id}.priorities.${q}: ${centerId}'s ACD has no queue "${q}"`);
    }
    const ht = sc.handleTime;
    callers.push({
      cityId: id,
      siteId: centerId,
      byQueue: queues.map(([queueId, perHour]) => ({
        queueId,
        perHour: perHour.map((n, h) => {
          let x = n;
          for (const b of busy) if (b.site === id && b.hour === h) x = Math.round(x * b.multiplier);
          return x;
        }),
        priority: sc.priorities[queueId] ?? 0,
      })),
      handleTime: {
        meanMs: ht?.meanMs ?? 0,
        distribution: ht?.distribution ?? 'lognormal',
        sdMs: ht?.sdMs ?? Math.round((ht?.meanMs ?? 0) / 2),
      },
      patienceMeanMs: sc.patience?.meanMs ?? 0,
    });
  }

  const linkCuts: CompiledScenario['linkCuts'] = [];
  s.events.forEach((e, i) => {
    const site = siteOf.get(e.site);
    if (!site) {
      problems.push(`events[${i}].site: not a site of the topology: "${e.site}"`);
      return;
    }
    if (e.kind === 'link-cut') {
      if (site.kind !== 'full')
        problems.push(`events[${i}].site: ${e.site} is an access city; only a full site has a hub link`);
      const fromMs = minutesOf(e.from) * 60_000;
      const toMs = minutesOf(e.to) * 60_000;
      if (toMs <= fromMs) problems.push(`events[${i}].to: must be after from (${e.from})`);
      linkCuts.push({ siteId: e.site, fromMs, toMs });
    }
    if (e.kind === 'busy-hour' && s.sites[e.site]?.arrivals === undefined) {
      problems.push(`events[${i}].site: ${e.site} has no arrivals to make busier`);
    }
    if (e.kind === 'agents-short' && (site.kind !== 'full' || !s.sites[e.site])) {
      problems.push(`events[${i}].site: ${e.site} has no agents of its own`);
    }
  });

  if (problems.length > 0) return throwInvalid(problems, problems[0]!.slice(0, problems[0]!.indexOf(':')));
  const totalCalls = callers.reduce(
    (a, c) => a + c.byQueue.reduce((b, q) => b + q.perHour.reduce((x, y) => x + y, 0), 0),
    0,
  );
  return {
    topology,
    day: s.day,
    dayStartMs: start!,
    seed: s.seed,
    thresholdMs: s.serviceLevelThresholdMs,
    federation: s.federation,
    sites,
    callers,
    linkCuts,
    totalCalls,
  };
}

/** Parse the scenario's YAML text, then compile it (YAML errors are invalid-argument too). */
export function loadScenario(yamlText: string, read: ReadRelative): CompiledScenario {
  let doc: unknown;
  try {
    doc = parseYaml(yamlText);
  } catch (e) {
    return throwInvalid([`(root): not valid YAML: ${(e as Error).message.split('\n')[0]}`], '(root)');
  }
  return compileScenario(doc, read);
}

export { HOUR_MS };
