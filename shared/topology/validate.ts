/**
 * `validateTopology(input) -> Topology`: parse a topology file (format in schema.ts), check
 * every cross-reference and compile it to its canonical form. It collects EVERY problem in
 * the file, each naming its path (`sites[3].backupCenter: ...`), and throws one
 * DomainError('invalid-argument') listing all of them; nothing is half validated, so the hub
 * applies a file only when this returns.
 *
 * Each site, overflow policy and cover entry is parsed on its own: a broken element is
 * reported and the rest of the file is still checked. An element that failed its schema but
 * has a string id still counts as "known" so that references to it are not reported twice.
 *
 * Problems detected beyond the schema: duplicate ids (sites, queues of a site, policies);
 * dangling references (hub site, centers, overflow from/to, cover sites and queues); an access
 * gateway whose center or backup is not a full site, whose center equals its backup, or with
 * no reachable center at all; overflow from an access gateway, to itself, to a site that does
 * not offer the queue, or two policies for one queue; a site covering itself; cover windows
 * that are empty; and two scheduled cover entries serving the same site+queue at overlapping
 * times (compared in UTC minutes of the week, midnight-crossing windows included).
 */
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { formatIssuePath, throwInvalid } from '../validate.js';
import {
  WEEKDAYS,
  coverSchema,
  headerSchemas,
  hhmmToMinutes,
  overflowSchema,
  siteSchema,
  type AccessSite,
  type CoverSchedule,
  type FullSite,
  type OverflowPolicy,
  type Site,
  type Topology,
  type Weekday,
} from './schema.js';

type Problems = string[];

function parsePart<S extends z.ZodType>(
  schema: S,
  value: unknown,
  path: string,
  problems: Problems,
): z.output<S> | undefined {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  for (const i of r.error.issues) problems.push(`${formatIssuePath(path, i.path)}: ${i.message}`);
  return undefined;
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const byId = <T extends { id: string }>(a: T, b: T): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
const sorted = (xs: readonly string[]): string[] => [...new Set(xs)].sort();

/** Parse a YAML document and validate it. YAML syntax errors are invalid-argument too. */
export function loadTopology(yamlText: string): Topology {
  let doc: unknown;
  try {
    doc = parseYaml(yamlText);
  } catch (e) {
    return throwInvalid([`(root): not valid YAML: ${(e as Error).message.split('\n')[0]}`], '(root)');
  }
  return validateTopology(doc);
}

export function validateTopology(input: unknown): Topology {
  const problems: Problems = [];
  if (!isRecord(input)) {
    return throwInvalid(['(root): a topology is a mapping with province, hubSite and sites'], '(root)');
  }
  for (const key of Object.keys(input)) {
    if (!(key in headerSchemas)) problems.push(`${key}: unknown field`);
  }
  const version = parsePart(headerSchemas.version, input.version, 'version', problems);
  const province = parsePart(headerSchemas.province, input.province, 'province', problems);
  const hubSite = parsePart(headerSchemas.hubSite, input.hubSite, 'hubSite', problems);
  const utcOffsetMinutes =
    parsePart(headerSchemas.utcOffsetMinutes, input.utcOffsetMinutes, 'utcOffsetMinutes', problems) ?? 0;
  const rawSites = parsePart(headerSchemas.sites, input.sites, 'sites', problems) ?? [];
  const rawOverflow = parsePart(headerSchemas.overflow, input.overflow, 'overflow', problems) ?? [];
  const rawCover = parsePart(headerSchemas.cover, input.cover, 'cover', problems) ?? [];

  // --- sites -------------------------------------------------------------------------------
  const known = new Set<string>(); // every string id, parsed or not
  const firstIndex = new Map<string, number>();
  const sites = new Map<string, { site: z.output<typeof siteSchema>; index: number }>();
  rawSites.forEach((raw, i) => {
    const path = `sites[${i}]`;
    const rawId = isRecord(raw) && typeof raw.id === 'string' ? raw.id : undefined;
    const site = parsePart(siteSchema, raw, path, problems);
    if (rawId !== undefined) {
      const first = firstIndex.get(rawId);
      if (first !== undefined) {
        problems.push(`${path}.id: duplicate site id "${rawId}" (first at sites[${first}])`);
        return;
      }
      firstIndex.set(rawId, i);
      known.add(rawId);
    }
    if (!site) return;
    sites.set(site.id, { site, index: i });
    if (site.kind === 'full') {
      const seen = new Set<string>();
      site.queues.forEach((q, k) => {
        if (seen.has(q)) problems.push(`${path}.queues[${k}]: duplicate queue "${q}"`);
        seen.add(q);
      });
    }
  });

  /** Check a reference to a full site; returns the site when it is a valid full site. */
  const refFull = (ref: string, path: string, role: string) => {
    if (!known.has(ref)) {
      problems.push(`${path}: unknown site "${ref}"`);
      return undefined;
    }
    const s = sites.get(ref)?.site;
    if (s && s.kind !== 'full') {
      problems.push(`${path}: "${ref}" is an access gateway; ${role} must be a full site`);
      return undefined;
    }
    return s;
  };
  const offers = (s: { kind: 'full'; queues: string[] }, q: string) => s.queues.includes(q);

  if (hubSite !== undefined) refFull(hubSite, 'hubSite', 'the hub site');

  for (const { site, index } of sites.values()) {
    if (site.kind !== 'access') continue;
    const path = `sites[${index}]`;
    let reachable = false;
    if (site.center === undefined) {
      problems.push(`${path}.center: required: the full site that carries this gateway's voice`);
    } else if (
      refFull(site.center, `${path}.center`, 'a center') ||
      (known.has(site.center) && !sites.has(site.center))
    ) {
      reachable = true;
    }
    if (site.backupCenter !== undefined) {
      if (site.backupCenter === site.center) {
        problems.push(`${path}.backupCenter: same as center "${site.center}"; a backup must be another site`);
      } else if (
        refFull(site.backupCenter, `${path}.backupCenter`, 'a backup center') ||
        (known.has(site.backupCenter) && !sites.has(site.backupCenter))
      ) {
        reachable = true;
      }
    }
    if (!reachable) problems.push(`${path}: access gateway "${site.id}" has no reachable center`);
  }

  // --- overflow ----------------------------------------------------------------------------
  const overflow: OverflowPolicy[] = [];
  const policyIds = new Map<string, number>();
  const queueHasPolicy = new Map<string, string>(); // `${site}/${queue}` -> policy id
  rawOverflow.forEach((raw, j) => {
    const path = `overflow[${j}]`;
    const p = parsePart(overflowSchema, raw, path, problems);
    if (!p) return;
    const dup = policyIds.get(p.id);
    if (dup !== undefined)
      problems.push(`${path}.id: duplicate overflow policy id "${p.id}" (first at overflow[${dup}])`);
    else policyIds.set(p.id, j);
    const from = refFull(p.from, `${path}.from`, 'an overflow origin');
    p.queues.forEach((q, k) => {
      if (from && !offers(from, q))
        problems.push(`${path}.queues[${k}]: site "${p.from}" does not offer queue "${q}"`);
      const key = `${p.from}/${q}`;
      const other = queueHasPolicy.get(key);
      if (other !== undefined) {
        problems.push(
          `${path}.queues[${k}]: queue "${q}" of "${p.from}" already has overflow policy "${other}"`,
        );
      } else queueHasPolicy.set(key, p.id);
    });
    const seenTo = new Set<string>();
    p.to.forEach((t, k) => {
      const tp = `${path}.to[${k}]`;
      if (t === p.from) {
        problems.push(`${tp}: overflow from "${p.from}" to itself`);
        return;
      }
      if (seenTo.has(t)) {
        problems.push(`${tp}: "${t}" is listed twice`);
        return;
      }
      seenTo.add(t);
      const target = refFull(t, tp, 'an overflow target');
      if (!target) return;
      for (const q of p.queues) {
        if (!offers(target, q)) problems.push(`${tp}: target "${t}" does not offer queue "${q}"`);
      }
    });
    overflow.push({
      id: p.id,
      from: p.from,
      queues: sorted(p.queues),
      to: [...p.to],
      when: {
        waitingOver: p.when.waitingOver ?? null,
        oldestWaitOverMs: p.when.oldestWaitOverMs ?? null,
        serviceLevelBelow: p.when.serviceLevelBelow ?? null,
        noAgentsLoggedIn: p.when.noAgentsLoggedIn ?? false,
        afterHours: p.when.afterHours ?? false,
      },
      excludePriorities: [...p.excludePriorities].sort((x, y) => x - y),
      maxHops: 1,
    });
  });

  // --- cover -------------------------------------------------------------------------------
  const cover: { c: CoverSchedule; index: number }[] = [];
  const coverIds = new Map<string, number>();
  rawCover.forEach((raw, j) => {
    const path = `cover[${j}]`;
    const c = parsePart(coverSchema, raw, path, problems);
    if (!c) return;
    const dup = coverIds.get(c.id);
    if (dup !== undefined) problems.push(`${path}.id: duplicate cover id "${c.id}" (first at cover[${dup}])`);
    else coverIds.set(c.id, j);
    refFull(c.agentsOf, `${path}.agentsOf`, 'a covering site');
    if (c.agentsOf === c.serves.site) {
      problems.push(`${path}.serves.site: "${c.agentsOf}" cannot cover its own queues`);
    }
    const served = refFull(c.serves.site, `${path}.serves.site`, 'a covered site');
    c.serves.queues.forEach((q, k) => {
      if (served && !offers(served, q)) {
        problems.push(`${path}.serves.queues[${k}]: site "${c.serves.site}" does not offer queue "${q}"`);
      }
    });
    let when: CoverSchedule['when'];
    if (c.when === 'on-demand') when = { kind: 'on-demand' };
    else {
      const w = c.when;
      const seenDays = new Set<string>();
      w.days.forEach((d, k) => {
        if (seenDays.has(d)) problems.push(`${path}.when.days[${k}]: "${d}" is listed twice`);
        seenDays.add(d);
      });
      if (w.from === w.to) {
        problems.push(`${path}.when: empty window ${w.from}-${w.to} (for a whole day use 00:00-24:00)`);
      }
      when = {
        kind: 'weekly',
        days: WEEKDAYS.filter((d) => seenDays.has(d)),
        from: w.from,
        to: w.to,
        utcOffsetMinutes: w.utcOffsetMinutes ?? utcOffsetMinutes,
      };
    }
    cover.push({
      c: {
        id: c.id,
        agentsOf: c.agentsOf,
        serves: { site: c.serves.site, queues: sorted(c.serves.queues) },
        when,
        rank: c.rank,
      },
      index: j,
    });
  });
  for (let b = 0; b < cover.length; b++) {
    for (let a = 0; a < b; a++) {
      const A = cover[a]!;
      const B = cover[b]!;
      if (A.c.serves.site !== B.c.serves.site) continue;
      const shared = A.c.serves.queues.filter((q) => B.c.serves.queues.includes(q));
      if (shared.length === 0 || A.c.when.kind !== 'weekly' || B.c.when.kind !== 'weekly') continue;
      const day = coverOverlap(B.c.when, A.c.when);
      if (day !== null) {
        problems.push(
          `cover[${B.index}].when: overlaps cover[${A.index}] ("${A.c.id}") on ${day}: both serve ` +
            `${A.c.serves.site} ${shared.join(', ')}`,
        );
      }
    }
  }

  if (problems.length > 0) {
    const field = problems[0]!.slice(0, problems[0]!.indexOf(': '));
    return throwInvalid(problems, field);
  }

  const compiled: Site[] = [...sites.values()].map(({ site }) =>
    site.kind === 'full'
      ? ({
          id: site.id,
          kind: 'full',
          city: site.city,
          endpoints: {
            cti: site.endpoints.cti,
            sip: site.endpoints.sip,
            sipTransport: site.endpoints.sipTransport,
          },
          capacity: { ...site.capacity },
          queues: sorted(site.queues),
        } satisfies FullSite)
      : ({
          id: site.id,
          kind: 'access',
          city: site.city,
          endpoints: { sip: site.endpoints.sip },
          capacity: { trunks: site.capacity.trunks, ivrPorts: site.capacity.ivrPorts },
          center: site.center!,
          backupCenter: site.backupCenter ?? null,
        } satisfies AccessSite),
  );
  return {
    version: version ?? null,
    province: province!,
    hubSite: hubSite!,
    utcOffsetMinutes,
    sites: compiled.sort(byId),
    overflow: overflow.sort(byId),
    cover: cover.map((x) => x.c).sort(byId),
  };
}

// ---------------------------------------------------------------------------------------------
// Cover windows on the UTC week

const WEEK_MIN = 7 * 1440;
type WeeklyWhen = Extract<CoverSchedule['when'], { kind: 'weekly' }>;

/** Half-open [start, end) segments in UTC minutes of the week (0 = Sunday 00:00 UTC) for one start day. */
function segments(
  w: Pick<WeeklyWhen, 'from' | 'to' | 'utcOffsetMinutes'>,
  day: Weekday,
): Array<[number, number]> {
  const from = hhmmToMinutes(w.from)!;
  const to = hhmmToMinutes(w.to)!;
  const len = to > from ? to - from : to + 1440 - from; // to <= from: crosses midnight
  const start =
    (((WEEKDAYS.indexOf(day) * 1440 + from - w.utcOffsetMinutes) % WEEK_MIN) + WEEK_MIN) % WEEK_MIN;
  const end = start + len;
  return end <= WEEK_MIN
    ? [[start, end]]
    : [
        [start, WEEK_MIN],
        [0, end - WEEK_MIN],
      ];
}

/**
 * Whether two weekly windows share any minute. Returns the first day (of `a`'s `days`) whose
 * window overlaps `b`, or null. A window that crosses midnight runs into the next day (and
 * Saturday's into Sunday); windows that only touch (`[22:00, 06:00)` then `[06:00, 08:00)`)
 * do not overlap. Empty windows (`from === to`) are treated as crossing a full day and are
 * refused by validation before this is used.
 */
export function coverOverlap(a: WeeklyWhen, b: WeeklyWhen): Weekday | null {
  const bSegs = b.days.flatMap((d) => segments(b, d));
  for (const d of a.days) {
    for (const [s1, e1] of segments(a, d)) {
      if (bSegs.some(([s2, e2]) => s1 < e2 && s2 < e1)) return d;
    }
  }
  return null;
}
