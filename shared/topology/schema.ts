/**
 * The declarative province topology (docs/architecture.md §5): the file network admins write, validate
 * with `fedctl validate`, compare with `fedctl diff` and push with `fedctl apply`. This module
 * holds the file format (zod schemas for each part) and the compiled types; `validate.ts`
 * parses a file into a {@link Topology} and checks every cross-reference, `diff.ts` compares
 * two compiled topologies, `compiled.ts` checks a compiled topology as a site receives it.
 * All are pure: no I/O, no clock. The format is the contract between the hub (which
 * validates, stores and pushes it) and the sites (which validate each pushed version again
 * and run it), so it lives in shared/, where both read it.
 *
 * ## File format (YAML; defaults in brackets)
 *
 * ```yaml
 * version: 4                  # [absent] integer >= 1 the admin bumps on each change
 * province: 重庆分行            # the province (or branch) name, free text
 * hubSite: chongqing          # the FULL site that runs next to the hub (the provincial center)
 * utcOffsetMinutes: 480       # [0] default offset for cover schedules (Asia/Shanghai = 480)
 * sites:
 *   - id: chongqing           # ^[a-z][a-z0-9-]{1,31}$ (shared/ids.ts), unique
 *     kind: full              # full = a contact center (site node): trunks, IVR, ACD, agents
 *     city: 重庆 Chongqing
 *     endpoints: { cti: 'cq.bank.internal:7443', sip: '10.10.0.10:5060' }   # host:port each
 *                             # also sipTransport: tcp [udp], how other sites reach `sip` (hand-overs)
 *     capacity: { trunks: 120, agents: 40, ivrPorts: 60 }
 *     queues: [retail, credit-card, vip, complaints, corporate, fx]        # queues it offers
 *   - id: qianjiang
 *     kind: access            # access = an access gateway: no agents, carries voice to a center
 *     city: 黔江 Qianjiang
 *     endpoints: { sip: '10.30.0.2:5060' }
 *     capacity: { trunks: 30, ivrPorts: 8 }   # ivrPorts [0]: announcements, urgent card-loss
 *     center: wanzhou         # the FULL site that carries its voice
 *     backupCenter: chongqing # [none] the FULL site it fails over to (must differ from center)
 * overflow:                   # [] traffic sharing (话务量分担), acted on by the overflow router
 *   - id: wanzhou-retail      # unique policy id (diffs and audit name it)
 *     from: wanzhou           # a full site ...
 *     queues: [retail]        # ... and queues it offers
 *     to: [chongqing, fuling] # full sites in preference order, each offering those queues
 *     when: { waitingOver: 5, oldestWaitOverMs: 60s, serviceLevelBelow: 0.8 }   # any one triggers; at least one
 *                             # also noAgentsLoggedIn: true, afterHours: true (queue closed)
 *     excludePriorities: [10] # [[10]] priorities that never overflow (VIP stays home); [] = none
 *     maxHops: 1              # [1] and must be 1: a call overflows at most once
 * cover:                      # [] agent cover (代值班), acted on by the cover scheduler
 *   - id: night-wanzhou-retail
 *     agentsOf: chongqing     # the full site whose agents serve ...
 *     serves: { site: wanzhou, queues: [retail] }   # ... these queues of another full site
 *     when: { days: [mon, tue, wed, thu, fri, sat, sun], from: '22:00', to: '08:00', utcOffsetMinutes: 480 }
 *   - id: fuling-helps-wanzhou
 *     agentsOf: fuling
 *     serves: { site: wanzhou, queues: [credit-card] }
 *     when: on-demand         # started and stopped by an admin (`fedctl`), not by the clock
 *     rank: by-wait           # [below-own] how its calls rank at the covering site: below-own =
 *                             # after every caller of the covering site's own (any priority, later
 *                             # arrivals too); by-wait = as an overflow call, by priority and the
 *                             # time waited since the call joined at home
 * ```
 *
 * Durations (fields ending in `Ms`) take milliseconds or `'500ms'`, `'20s'`, `'15m'`, `'1h'`
 * (shared/duration.ts). Cover windows are local `HH:MM`, half-open `[from, to)`; `to` may
 * be `24:00`; a window whose `to` is earlier than its `from` crosses midnight and runs into the
 * next day (`days` names the day it starts on). `from` equal to `to` is refused (use
 * `00:00`-`24:00` for a whole day). Two scheduled cover entries may not serve the same
 * site+queue at overlapping times (compared in UTC, so differing offsets are handled).
 *
 * ## How the seeds' three networking modes are written (seed 000)
 *
 * - **Centralised with access platforms** (集中式, 各地市设接入平台): one full site — the
 *   provincial center, also `hubSite` — and every city is `kind: access` with
 *   `center: <provincial center>` (no backup is possible with a single center).
 * - **City centers linked through the province** (各地市分中心联网): every city is
 *   `kind: full`, one of them is `hubSite`; sharing happens through `overflow` and `cover`.
 * - **Hybrid** (混合式): large cities run full sites, small ones are access gateways whose
 *   `center` is a nearby city site and `backupCenter` the provincial center (or vice versa).
 *   `deploy/examples/province.yaml` is a hybrid province.
 *
 * ## The compiled form
 *
 * {@link Topology} is plain JSON data (it is stored as a version and pushed to sites), and it
 * is canonical: sites, overflow policies and cover entries are sorted by id, queue lists and
 * days are sorted, durations are milliseconds, optional fields are filled (`null` when
 * absent). Two files that mean the same thing compile to deeply equal values, which is what
 * `diffTopology` relies on. Only an overflow policy's `to` keeps its order (preference).
 */
import { z } from 'zod';
import { durationMs } from '../duration.js';
import { isSiteId } from '../ids.js';

// ---------------------------------------------------------------------------------------------
// Compiled types

export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/**
 * How the other sites reach a full site's `endpoints.sip` when they hand it a caller (overflow,
 * cover: docs/sip.md "Handing a caller to another site"): `udp`, the default, or `tcp` for a
 * site whose SIP listens only on TCP, or when the network between the cities drops large UDP
 * datagrams. The site's own SIP must listen on it, and so must the origin's (it sends from its
 * own socket of that transport).
 */
export const SITE_SIP_TRANSPORTS = ['udp', 'tcp'] as const;
export type SiteSipTransport = (typeof SITE_SIP_TRANSPORTS)[number];
export const DEFAULT_SITE_SIP_TRANSPORT: SiteSipTransport = 'udp';

export interface FullSite {
  id: string;
  kind: 'full';
  city: string;
  endpoints: { cti: string; sip: string; sipTransport: SiteSipTransport };
  capacity: { trunks: number; agents: number; ivrPorts: number };
  /** Sorted queue ids. */
  queues: string[];
}

export interface AccessSite {
  id: string;
  kind: 'access';
  city: string;
  endpoints: { sip: string };
  capacity: { trunks: number; ivrPorts: number };
  center: string;
  backupCenter: string | null;
}

export type Site = FullSite | AccessSite;

export interface OverflowPolicy {
  id: string;
  from: string;
  /** Sorted queue ids. */
  queues: string[];
  /** Target sites, in preference order. */
  to: string[];
  /** Any set condition triggers; `null` / `false` = not used. */
  when: {
    waitingOver: number | null;
    oldestWaitOverMs: number | null;
    serviceLevelBelow: number | null;
    /** The queue has no agent logged in (all went home at night). */
    noAgentsLoggedIn: boolean;
    /** The queue is outside its calendar's hours. */
    afterHours: boolean;
  };
  /** Sorted call priorities that never overflow under this policy. */
  excludePriorities: number[];
  maxHops: 1;
}

export type CoverWhen =
  | { kind: 'on-demand' }
  | { kind: 'weekly'; days: Weekday[]; from: string; to: string; utcOffsetMinutes: number };

/**
 * How a cover entry's calls rank in the covering site's queue (docs/architecture.md §5.9): issue 11
 * puts them "below the covering site's own callers unless the entry says otherwise", so
 * `below-own` is the default; `by-wait` ranks them as overflow calls (priority, then the
 * original enqueue time at home).
 */
export const COVER_RANKS = ['below-own', 'by-wait'] as const;
export type CoverRank = (typeof COVER_RANKS)[number];
export const DEFAULT_COVER_RANK: CoverRank = 'below-own';

export interface CoverSchedule {
  id: string;
  agentsOf: string;
  serves: { site: string; queues: string[] };
  when: CoverWhen;
  rank: CoverRank;
}

export interface Topology {
  version: number | null;
  province: string;
  hubSite: string;
  utcOffsetMinutes: number;
  sites: Site[];
  overflow: OverflowPolicy[];
  cover: CoverSchedule[];
}

// ---------------------------------------------------------------------------------------------
// Input schemas (one per part, so validate.ts can check each element on its own and report
// every problem in the file, not just the first broken element's).

export const siteIdSchema = z.string().refine(isSiteId, {
  message: 'must match ^[a-z][a-z0-9-]{1,31}$ (lower-case letters, digits, dashes)',
});

export const queueIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'must be 1-64 letters, digits, _ . -');

export const policyIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'must be 1-64 letters, digits, _ . -');

const HOST_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** `host:port`: a DNS name, an IPv4 address or `[IPv6]`, and a port 1-65535. */
export function isHostPort(s: string): boolean {
  let host: string;
  let port: string;
  if (s.startsWith('[')) {
    const end = s.indexOf(']:');
    if (end < 0) return false;
    host = s.slice(1, end);
    port = s.slice(end + 2);
    if (!/^[0-9A-Fa-f:.]+$/.test(host) || !host.includes(':')) return false;
  } else {
    const i = s.lastIndexOf(':');
    if (i <= 0) return false;
    host = s.slice(0, i);
    port = s.slice(i + 1);
    const v4 = IPV4.exec(host);
    if (v4) {
      if (v4.slice(1).some((o) => Number(o) > 255)) return false;
    } else if (
      host.length > 253 ||
      !host.split('.').every((l) => HOST_LABEL.test(l)) ||
      /^[\d.]+$/.test(host)
    ) {
      return false;
    }
  }
  if (!/^\d{1,5}$/.test(port)) return false;
  const p = Number(port);
  return p >= 1 && p <= 65535;
}

/**
 * A call's priority as the IVR's transfer sets it (site-node/ivr/flow.ts: an integer 0-100,
 * higher served first, docs/architecture.md §4.2).
 */
const callPriority = z.number().int().min(0).max(100);

/**
 * What an overflow policy keeps home when it says nothing: priority 10, the VIP class (the
 * highest the example flow gives, docs/architecture.md §4.2). A bank's best customers are
 * answered by their own city unless the admin says otherwise (`excludePriorities: []`).
 */
export const DEFAULT_EXCLUDED_PRIORITIES: readonly number[] = [10];

const hostPort = z.string().refine(isHostPort, { message: 'must be host:port (e.g. 10.0.0.5:5060)' });
const count = z.number().int().min(0);
const city = z.string().trim().min(1, 'must not be empty');

export const fullSiteSchema = z
  .object({
    id: siteIdSchema,
    kind: z.literal('full'),
    city,
    endpoints: z
      .object({
        cti: hostPort,
        sip: hostPort,
        sipTransport: z
          .enum(SITE_SIP_TRANSPORTS, { message: `must be one of ${SITE_SIP_TRANSPORTS.join(', ')}` })
          .default(DEFAULT_SITE_SIP_TRANSPORT),
      })
      .strict(),
    capacity: z.object({ trunks: count, agents: count, ivrPorts: count }).strict(),
    queues: z.array(queueIdSchema).min(1, 'a full site offers at least one queue'),
  })
  .strict();

export const accessSiteSchema = z
  .object({
    id: siteIdSchema,
    kind: z.literal('access'),
    city,
    endpoints: z.object({ sip: hostPort }).strict(),
    capacity: z.object({ trunks: count, ivrPorts: count.default(0) }).strict(),
    // Optional here so that a missing center is reported as "no reachable center" together
    // with the other cross-reference problems.
    center: siteIdSchema.optional(),
    backupCenter: siteIdSchema.optional(),
  })
  .strict();

export const siteSchema = z.discriminatedUnion('kind', [fullSiteSchema, accessSiteSchema]);
export type SiteInput = z.input<typeof siteSchema>;

export const overflowSchema = z
  .object({
    id: policyIdSchema,
    from: siteIdSchema,
    queues: z.array(queueIdSchema).min(1),
    to: z.array(siteIdSchema).min(1),
    when: z
      .object({
        waitingOver: count.optional(),
        oldestWaitOverMs: durationMs.optional(),
        serviceLevelBelow: z.number().gt(0).max(1).optional(),
        noAgentsLoggedIn: z.boolean().optional(),
        afterHours: z.boolean().optional(),
      })
      .strict()
      .refine(
        (w) =>
          w.waitingOver !== undefined ||
          w.oldestWaitOverMs !== undefined ||
          w.serviceLevelBelow !== undefined ||
          w.noAgentsLoggedIn === true ||
          w.afterHours === true,
        {
          message:
            'set at least one of waitingOver, oldestWaitOverMs, serviceLevelBelow, noAgentsLoggedIn: true, afterHours: true',
        },
      ),
    excludePriorities: z
      .array(callPriority)
      .refine((ps) => new Set(ps).size === ps.length, { message: 'lists a priority twice' })
      .default([...DEFAULT_EXCLUDED_PRIORITIES]),
    maxHops: z.literal(1, { message: 'must be 1: a call overflows at most once' }).default(1),
  })
  .strict();
export type OverflowInput = z.input<typeof overflowSchema>;

const HHMM = /^([01]\d|2[0-4]):([0-5]\d)$/;
/** Minutes since local midnight for `HH:MM` (`24:00` = 1440), or undefined. */
export function hhmmToMinutes(s: string): number | undefined {
  const m = HHMM.exec(s);
  if (!m) return undefined;
  const v = Number(m[1]) * 60 + Number(m[2]);
  return v > 1440 ? undefined : v;
}
const hhmm = z
  .string()
  .refine((s) => hhmmToMinutes(s) !== undefined, { message: 'must be HH:MM (00:00-24:00)' });
export const utcOffsetSchema = z.number().int().min(-720).max(840);

export const weeklyCoverSchema = z
  .object({
    days: z.array(z.enum(WEEKDAYS)).min(1),
    from: hhmm.refine((s) => s !== '24:00', { message: 'a window cannot start at 24:00' }),
    to: hhmm,
    utcOffsetMinutes: utcOffsetSchema.optional(),
  })
  .strict();

export const coverSchema = z
  .object({
    id: policyIdSchema,
    agentsOf: siteIdSchema,
    serves: z.object({ site: siteIdSchema, queues: z.array(queueIdSchema).min(1) }).strict(),
    when: z.union([z.literal('on-demand'), weeklyCoverSchema], {
      message: "must be 'on-demand' or { days, from, to, utcOffsetMinutes? }",
    }),
    rank: z
      .enum(COVER_RANKS, { message: `must be one of ${COVER_RANKS.join(', ')}` })
      .default(DEFAULT_COVER_RANK),
  })
  .strict();
export type CoverInput = z.input<typeof coverSchema>;

/** Top-level fields, each parsed on its own (see validate.ts). */
export const headerSchemas = {
  version: z.number().int().min(1).optional(),
  province: z.string().trim().min(1, 'must not be empty'),
  hubSite: siteIdSchema,
  utcOffsetMinutes: utcOffsetSchema.default(0),
  sites: z.array(z.unknown()).min(1, 'a province has at least one site'),
  overflow: z.array(z.unknown()).default([]),
  cover: z.array(z.unknown()).default([]),
} as const;

export interface TopologyInput {
  version?: number;
  province: string;
  hubSite: string;
  utcOffsetMinutes?: number;
  sites: SiteInput[];
  overflow?: OverflowInput[];
  cover?: CoverInput[];
}
