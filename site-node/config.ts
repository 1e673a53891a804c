/**
 * A site node's configuration file (YAML), parsed and validated once at start
 * (docs/architecture.md §3.6). Every error names its field (`site.agents[3].skills.vip: ...`), and a
 * bad file starts nothing. See deploy/examples/site-chongqing.yaml for a full example.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { compileAcdConfig, type CompiledAcdConfig } from './acd/config.js';
import { durationMs } from '../shared/duration.js';
import { AREA_CODE_RE, AREA_CODE_RULE } from '../shared/domain/phone.js';
import { DomainError, invalidArgument } from '../shared/errors.js';
import { assertSiteId } from '../shared/ids.js';
import { NODE_ID_RE } from '../shared/grpc/identity.js';
import { parseOrThrow, throwInvalid } from '../shared/validate.js';
import { DEFAULT_DOWN_AFTER_MS, DEFAULT_SUSPECT_AFTER_MS } from '../shared/federation/liveness.js';
import { HOST_PORT, parseHubAddresses } from '../shared/federation/hub-failover.js';
import { compileSipSection, sipSectionSchema, type SiteSipConfig } from './config-sip.js';
import {
  compileRecordingsSection,
  recordingsSectionSchema,
  type SiteRecordingsConfig,
} from './config-recordings.js';

const code = z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'must be lower-case letters, digits and dashes');

const positiveDuration = durationMs.refine((v) => v > 0, 'must be more than 0');

const agentSchema = z
  .object({
    id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'must be 1-64 letters, digits, _ . -'),
    name: z.string().min(1),
    skills: z.record(z.string(), z.number().int().min(1).max(5)),
  })
  .strict();

const userSchema = z
  .object({
    id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'must be 1-64 letters, digits, _ . -'),
    name: z.string().min(1),
  })
  .strict();

/** Desk sessions and failed sign-ins (site-node/cti/desk-sessions.ts, signin-throttle.ts). */
export interface DeskAuthConfig {
  sessionIdleMs: number;
  sessionMaxAgeMs: number;
  maxFailuresPerUser: number;
  maxFailuresPerAddress: number;
  failureWindowMs: number;
  /** The first lock; each lock that follows doubles it, up to an hour. */
  lockoutMs: number;
  /**
   * Whether a verified `agent` client certificate signs its agent in without a password. Off
   * by default: a certificate names no site and cannot be ended before it expires, so agent
   * ids must be unique in the province before any site turns this on.
   */
  agentCertificates: boolean;
}

export const DEFAULT_DESK_AUTH: DeskAuthConfig = {
  sessionIdleMs: 30 * 60_000,
  sessionMaxAgeMs: 12 * 3_600_000,
  maxFailuresPerUser: 5,
  maxFailuresPerAddress: 20,
  failureWindowMs: 15 * 60_000,
  lockoutMs: 30_000,
  agentCertificates: false,
};

/**
 * The site's store writes (site-node/runtime/durable-writes.ts): how many may wait while the
 * database is away before the site stops taking calls, and how long a caller waits for a
 * fact to commit before being refused (a first row) or told it is not recorded (a ticket).
 */
export interface StoreWritesConfig {
  bufferCapacity: number;
  closeAdmissionWhileDownAt: number;
  firstRowWaitMs: number;
  recordWaitMs: number;
  drainAtStopMs: number;
  /** A query on the site's pool unanswered this long fails and its connection is dropped (site-pool.ts). */
  queryTimeoutMs: number;
  /**
   * Writes of different calls and agents committing at once (durable-writes.ts), each on a
   * connection of the site's pool (SITE_POOL_MAX); the rest of the pool serves reads.
   */
  writeConcurrency: number;
}

/** Connections of the site's own pool (site-node/store/site-pool.ts): the store's writes and reads. */
export const SITE_POOL_MAX = 12;
/**
 * Connections of the pool the site's reference bank host (shared/bank-host/pg-ledger.ts) has to
 * itself: a customer's PIN checks queue on the customer's row lock, each waiter holding its
 * connection, and on the store's pool they starved the store's writes (callers then heard busy:
 * docs/operations.md §8.7). Apart, a stalled bank host slows only what asks it.
 */
export const BANK_POOL_MAX = 4;
/** Two thirds of the pool at most write at once: the IVR's and the desks' reads keep the rest. */
export const MAX_WRITE_CONCURRENCY = 8;

export const DEFAULT_STORE_WRITES: StoreWritesConfig = {
  bufferCapacity: 5_000,
  closeAdmissionWhileDownAt: 200,
  firstRowWaitMs: 2_000,
  recordWaitMs: 5_000,
  drainAtStopMs: 10_000,
  queryTimeoutMs: 5_000,
  writeConcurrency: 6,
};

const siteFileSchema = z
  .object({
    site: z
      .object({
        id: z.string(),
        city: z.string().min(1),
        /**
         * The city's telephone area code with its trunk 0 ('023'): a caller number of 7-8
         * digits with no area code (a local call) is taken to be in this area when it is
         * matched against the customer directory. Absent: such numbers are matched as is.
         */
        areaCode: z.string().regex(AREA_CODE_RE, AREA_CODE_RULE).optional(),
        /**
         * The site's local time is UTC + this offset (no DST; Chongqing = 480): the day's counts
         * (the live line, the snapshot's summary) start at local midnight. Default 0.
         */
        utcOffsetMinutes: z.number().int().min(-720).max(840).default(0),
        /** A full center (this file) vs an access gateway (its own config, later issue). */
        kind: z.literal('full').default('full'),
      })
      .strict(),
    /** Simultaneous calls the trunks carry; a call beyond this gets busy. */
    trunks: z.number().int().min(1).max(10_000),
    /** Simultaneous IVR sessions; a call beyond this is announced busy and released. */
    ivrPorts: z.number().int().min(1).max(10_000),
    database: z
      .object({ url: z.string().min(1).optional() })
      .strict()
      .default({}),
    cti: z
      .object({
        host: z.string().default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(0),
        /**
         * TLS for the agent desk, with the site's certificate (deploy/pki.sh `node site <id>`).
         * A client certificate is asked for but optional: an `agent` certificate acts as that
         * agent; a desk without one signs in with a password. Required unless the site is
         * started with `--insecure-loopback` (site-node/runtime/site.ts).
         */
        tls: z
          .object({ ca: z.string().min(1), cert: z.string().min(1), key: z.string().min(1) })
          .strict()
          .optional(),
        /**
         * Agent leases (site-node/cti/lease.ts): a desk that neither keeps its Events stream
         * nor sends a Heartbeat within `timeout` makes its agent not-ready (`lease-lapsed`,
         * an offer goes back to the queue); `logoutAfter` later the agent is logged out.
         */
        lease: z
          .object({
            timeout: positiveDuration.default(30_000),
            logoutAfter: positiveDuration.default(600_000),
          })
          .strict()
          .default({ timeout: 30_000, logoutAfter: 600_000 }),
        /** Desk sessions and sign-in throttling (docs/architecture.md §4.3 "Desk authentication"). */
        auth: z
          .object({
            sessionIdle: positiveDuration.default(DEFAULT_DESK_AUTH.sessionIdleMs),
            sessionMaxAge: positiveDuration.default(DEFAULT_DESK_AUTH.sessionMaxAgeMs),
            maxFailuresPerUser: z
              .number()
              .int()
              .min(1)
              .max(1000)
              .default(DEFAULT_DESK_AUTH.maxFailuresPerUser),
            maxFailuresPerAddress: z
              .number()
              .int()
              .min(1)
              .max(100_000)
              .default(DEFAULT_DESK_AUTH.maxFailuresPerAddress),
            failureWindow: positiveDuration.default(DEFAULT_DESK_AUTH.failureWindowMs),
            lockout: positiveDuration.default(DEFAULT_DESK_AUTH.lockoutMs),
            agentCertificates: z.boolean().default(DEFAULT_DESK_AUTH.agentCertificates),
          })
          .strict()
          .optional(),
      })
      .strict()
      .default({ host: '127.0.0.1', port: 0, lease: { timeout: 30_000, logoutAfter: 600_000 } }),
    /** Desk users who take no calls (docs/operations.md §3.2); they supervise `teams`. */
    supervisors: z.array(userSchema).default([]),
    /** Who supervises whom: each team's supervisors (agents or supervisors) and agents. */
    teams: z
      .array(
        z
          .object({
            id: code,
            supervisors: z.array(z.string()).min(1, 'a team needs a supervisor'),
            agents: z.array(z.string()),
          })
          .strict(),
      )
      .default([]),
    /** The supervisor's wallboard (HTTP). */
    web: z
      .object({ host: z.string().default('127.0.0.1'), port: z.number().int().min(0).max(65535).default(0) })
      .strict()
      .default({ host: '127.0.0.1', port: 0 }),
    ivr: z
      .object({
        flow: z.string().min(1),
        prompts: z.string().min(1).optional(),
        bankTimeoutMs: durationMs.default(5_000),
      })
      .strict(),
    /** The site's store writes while its database is away (docs/operations.md §store). */
    store: z
      .object({
        bufferCapacity: z.number().int().min(1).max(1_000_000).default(DEFAULT_STORE_WRITES.bufferCapacity),
        closeAdmissionWhileDownAt: z
          .number()
          .int()
          .min(0)
          .max(1_000_000)
          .default(DEFAULT_STORE_WRITES.closeAdmissionWhileDownAt),
        firstRowWait: positiveDuration.default(DEFAULT_STORE_WRITES.firstRowWaitMs),
        recordWait: positiveDuration.default(DEFAULT_STORE_WRITES.recordWaitMs),
        drainAtStop: positiveDuration.default(DEFAULT_STORE_WRITES.drainAtStopMs),
        queryTimeout: positiveDuration.default(DEFAULT_STORE_WRITES.queryTimeoutMs),
        writeConcurrency: z
          .number()
          .int()
          .min(1)
          .max(MAX_WRITE_CONCURRENCY)
          .default(DEFAULT_STORE_WRITES.writeConcurrency),
      })
      .strict()
      .refine((s) => s.closeAdmissionWhileDownAt <= s.bufferCapacity, {
        message: 'must not be more than store.bufferCapacity',
        path: ['closeAdmissionWhileDownAt'],
      })
      .default({
        bufferCapacity: DEFAULT_STORE_WRITES.bufferCapacity,
        closeAdmissionWhileDownAt: DEFAULT_STORE_WRITES.closeAdmissionWhileDownAt,
        firstRowWait: DEFAULT_STORE_WRITES.firstRowWaitMs,
        recordWait: DEFAULT_STORE_WRITES.recordWaitMs,
        drainAtStop: DEFAULT_STORE_WRITES.drainAtStopMs,
        queryTimeout: DEFAULT_STORE_WRITES.queryTimeoutMs,
        writeConcurrency: DEFAULT_STORE_WRITES.writeConcurrency,
      }),
    notReadyReasons: z.array(code).default(['break', 'lunch', 'training', 'meeting', 'ring-no-answer']),
    wrapupCodes: z.array(code).default(['resolved', 'follow-up', 'transferred', 'complaint-logged']),
    agents: z.array(agentSchema).min(1),
    acd: z.unknown(),
    /**
     * Callbacks (docs/architecture.md §4.7): the queue a callback request that names none takes
     * its place in, and the priority of one whose caller's priority is unknown (an IVR request).
     */
    callbacks: z
      .object({ queue: z.string().min(1).optional(), priority: z.number().int().min(0).max(100).default(5) })
      .strict()
      .default({ priority: 5 }),
    /** The link to the provincial hub; absent = a standalone site (no federation). */
    hub: z
      .object({
        /** One hub (older configs): the same as `addresses: [address]`. */
        address: z.string().regex(HOST_PORT, 'must be host:port').optional(),
        /**
         * The hubs in order of preference, a leader and its standby (docs/architecture.md §6.6):
         * the site dials the first, and on a refused dial or "not leader" the leader the hub
         * named (if listed here) or the next one.
         */
        addresses: z.array(z.string()).optional(),
        /**
         * The hub's id in its certificate, or the ids of the hubs (leader and standby); default:
         * any hub certificate of the province.
         */
        id: z
          .union([
            z.string().regex(NODE_ID_RE, `must match ${NODE_ID_RE}`),
            z.array(z.string().regex(NODE_ID_RE, `must match ${NODE_ID_RE}`)).min(1, 'must list a hub id'),
          ])
          .optional(),
        tls: z.object({ ca: z.string().min(1), cert: z.string().min(1), key: z.string().min(1) }).strict(),
        /** How events reach the hub: on the link (embedded mode) or through Kafka (production). */
        events: z.enum(['link', 'kafka']).default('link'),
        kafka: z
          .object({ brokers: z.string().min(1), topic: z.string().min(1).default('pcc.site-events') })
          .strict()
          .optional(),
        snapshotIntervalMs: durationMs.default(1_000),
        /**
         * Silence from the hub after which the link is suspect, then down (closed and
         * redialled). Stretched to 3 and 10 of the heartbeat intervals the hub asks for when
         * those are longer (site-node/link/link-state.ts).
         */
        suspectAfterMs: durationMs.default(DEFAULT_SUSPECT_AFTER_MS),
        downAfterMs: durationMs.default(DEFAULT_DOWN_AFTER_MS),
      })
      .strict()
      .optional(),
    /**
     * Roaming: the bank hosts of other sites' customers, by home site. The reference ledger is
     * a Postgres database; a customer whose home site is listed here is served from its host.
     */
    bankHosts: z.record(z.string(), z.object({ database: z.string().min(1) }).strict()).default({}),
    /** Real voice (config-sip.ts); absent = no SIP (a simulated site). */
    sip: sipSectionSchema.optional(),
    /** Where call recordings go (config-recordings.ts); needed when the flow records calls. */
    recordings: recordingsSectionSchema.optional(),
  })
  .strict();

export interface AgentRosterEntry {
  id: string;
  name: string;
  skills: Record<string, number>;
}

export interface HubLinkConfig {
  /** The hubs in order of preference (one for a province with one hub). */
  addresses: string[];
  /** The id, or ids, a hub's certificate may carry; undefined = any hub of the province. */
  hubId: string | readonly string[] | undefined;
  tls: { caPath: string; certPath: string; keyPath: string };
  events: 'link' | 'kafka';
  kafka: { brokers: string; topic: string } | undefined;
  snapshotIntervalMs: number;
  /** Compiled files always have them; a config built in code may leave the link's defaults. */
  suspectAfterMs?: number;
  downAfterMs?: number;
}

export interface SiteConfig {
  siteId: string;
  city: string;
  /** Qualifies local caller numbers for directory matching (shared/domain/phone.ts). */
  areaCode: string | undefined;
  /** Local time = UTC + this (ms); the site's day starts at local midnight. */
  utcOffsetMs: number;
  trunks: number;
  ivrPorts: number;
  databaseUrl: string | undefined;
  cti: {
    host: string;
    port: number;
    tls?: { caPath: string; certPath: string; keyPath: string } | undefined;
    /** Agent leases: silent longer than `leaseMs` -> not-ready; `logoutAfterMs` later -> logged out. */
    lease: { leaseMs: number; logoutAfterMs: number };
    /** Absent in a config built in code: DEFAULT_DESK_AUTH. */
    auth?: DeskAuthConfig;
  };
  /** Desk users who are not agents; they supervise teams. */
  supervisors: Array<{ id: string; name: string }>;
  /** Who supervises which agents (site-node/cti/desk-access.ts). */
  teams: Array<{ id: string; supervisors: string[]; agents: string[] }>;
  web: { host: string; port: number };
  ivr: { flowPath: string; promptsPath: string | undefined; bankTimeoutMs: number };
  /** Absent in a config built in code: DEFAULT_STORE_WRITES. */
  store?: StoreWritesConfig;
  notReadyReasons: string[];
  wrapupCodes: string[];
  agents: AgentRosterEntry[];
  acd: CompiledAcdConfig;
  /** Default queue (an existing one; default: the first queue) and priority of callbacks. */
  callbacks: { queueId: string; priority: number };
  hub: HubLinkConfig | undefined;
  /** Home site id -> the database of that site's bank host (reference ledger). */
  bankHosts: Record<string, { databaseUrl: string }>;
  /** SIP, trunks and agents' phones (config-sip.ts); undefined without a `sip:` section. */
  sip?: SiteSipConfig | undefined;
  /** The call recordings' folder (config-recordings.ts); undefined without a `recordings:` section. */
  recordings?: SiteRecordingsConfig | undefined;
}

/** Validate a parsed config object. Relative file paths resolve against `baseDir`. */
export function compileSiteConfig(input: unknown, baseDir: string, what = 'site'): SiteConfig {
  const raw = parseOrThrow(siteFileSchema, input, what);
  try {
    assertSiteId(raw.site.id);
  } catch (e) {
    throw invalidArgument(`${what}.site.id`, (e as Error).message);
  }
  const acd = compileAcdConfig(raw.acd, `${what}.acd`);

  const problems: string[] = [];
  const seen = new Set<string>();
  const queueSkills = new Set(acd.queues.map((q) => q.skill));
  raw.agents.forEach((a, i) => {
    if (seen.has(a.id)) problems.push(`${what}.agents[${i}].id: duplicate agent id "${a.id}"`);
    seen.add(a.id);
    if (!Object.keys(a.skills).some((s) => queueSkills.has(s))) {
      problems.push(`${what}.agents[${i}].skills: agent "${a.id}" has no skill that any queue requires`);
    }
  });
  const supervisorIds = new Set<string>();
  raw.supervisors.forEach((s, i) => {
    if (seen.has(s.id))
      problems.push(`${what}.supervisors[${i}].id: "${s.id}" is already an agent or supervisor id`);
    seen.add(s.id);
    supervisorIds.add(s.id);
  });
  const teamIds = new Set<string>();
  raw.teams.forEach((t, i) => {
    if (teamIds.has(t.id)) problems.push(`${what}.teams[${i}].id: duplicate team id "${t.id}"`);
    teamIds.add(t.id);
    t.supervisors.forEach((id, j) => {
      if (!seen.has(id)) {
        problems.push(
          `${what}.teams[${i}].supervisors[${j}]: unknown user "${id}" (not in agents or supervisors)`,
        );
      }
    });
    t.agents.forEach((id, j) => {
      if (supervisorIds.has(id) || !seen.has(id)) {
        problems.push(`${what}.teams[${i}].agents[${j}]: unknown agent "${id}" (not in agents)`);
      }
    });
  });
  if (raw.hub && raw.hub.suspectAfterMs < 100) {
    problems.push(`${what}.hub.suspectAfterMs: must be at least 100 ms`);
  }
  if (raw.hub && raw.hub.downAfterMs <= raw.hub.suspectAfterMs) {
    problems.push(
      `${what}.hub.downAfterMs: must be longer than hub.suspectAfterMs (${raw.hub.suspectAfterMs} ms)`,
    );
  }
  let hubAddresses: string[] = [];
  if (raw.hub) {
    if ((raw.hub.address === undefined) === (raw.hub.addresses === undefined)) {
      problems.push(`${what}.hub.addresses: give the hub addresses (or, for one hub, hub.address), not both`);
    } else {
      try {
        hubAddresses = raw.hub.addresses
          ? parseHubAddresses(raw.hub.addresses, `${what}.hub.addresses`)
          : [raw.hub.address!];
      } catch (e) {
        problems.push(...((e as DomainError).problems ?? [(e as Error).message]));
      }
    }
  }
  if (raw.hub?.events === 'kafka' && !raw.hub.kafka) {
    problems.push(`${what}.hub.kafka: required when hub.events is kafka (brokers, topic)`);
  }
  for (const id of Object.keys(raw.bankHosts)) {
    if (!NODE_ID_RE.test(id)) problems.push(`${what}.bankHosts.${id}: not a site id (${NODE_ID_RE})`);
    if (id === raw.site.id)
      problems.push(`${what}.bankHosts.${id}: this site's own host is the local ledger`);
  }
  if (raw.callbacks.queue !== undefined && !acd.queueById.has(raw.callbacks.queue)) {
    problems.push(
      `${what}.callbacks.queue: "${raw.callbacks.queue}" is not a queue of this site (${acd.queues.map((q) => q.id).join(', ')})`,
    );
  }
  if (raw.ivrPorts > raw.trunks) {
    problems.push(`${what}.ivrPorts: ${raw.ivrPorts} IVR ports is more than the ${raw.trunks} trunks`);
  }
  const sip =
    raw.sip &&
    compileSipSection(
      raw.sip,
      {
        at: `${what}.sip`,
        baseDir,
        agentIds: new Set(raw.agents.map((a) => a.id)),
        siteChannels: raw.trunks,
      },
      problems,
    );
  const recordings =
    raw.recordings &&
    compileRecordingsSection(raw.recordings, { at: `${what}.recordings`, baseDir }, problems);
  if (problems.length > 0) throwInvalid(problems, problems[0]!.split(':')[0]!);

  return {
    siteId: raw.site.id,
    city: raw.site.city,
    areaCode: raw.site.areaCode,
    utcOffsetMs: raw.site.utcOffsetMinutes * 60_000,
    trunks: raw.trunks,
    ivrPorts: raw.ivrPorts,
    databaseUrl: raw.database.url,
    cti: {
      host: raw.cti.host,
      port: raw.cti.port,
      lease: { leaseMs: raw.cti.lease.timeout, logoutAfterMs: raw.cti.lease.logoutAfter },
      auth: raw.cti.auth
        ? {
            sessionIdleMs: raw.cti.auth.sessionIdle,
            sessionMaxAgeMs: raw.cti.auth.sessionMaxAge,
            maxFailuresPerUser: raw.cti.auth.maxFailuresPerUser,
            maxFailuresPerAddress: raw.cti.auth.maxFailuresPerAddress,
            failureWindowMs: raw.cti.auth.failureWindow,
            lockoutMs: raw.cti.auth.lockout,
            agentCertificates: raw.cti.auth.agentCertificates,
          }
        : { ...DEFAULT_DESK_AUTH },
      ...(raw.cti.tls
        ? {
            tls: {
              caPath: resolve(baseDir, raw.cti.tls.ca),
              certPath: resolve(baseDir, raw.cti.tls.cert),
              keyPath: resolve(baseDir, raw.cti.tls.key),
            },
          }
        : {}),
    },
    web: raw.web,
    ivr: {
      flowPath: resolve(baseDir, raw.ivr.flow),
      promptsPath: raw.ivr.prompts === undefined ? undefined : resolve(baseDir, raw.ivr.prompts),
      bankTimeoutMs: raw.ivr.bankTimeoutMs,
    },
    store: {
      bufferCapacity: raw.store.bufferCapacity,
      closeAdmissionWhileDownAt: raw.store.closeAdmissionWhileDownAt,
      firstRowWaitMs: raw.store.firstRowWait,
      recordWaitMs: raw.store.recordWait,
      drainAtStopMs: raw.store.drainAtStop,
      queryTimeoutMs: raw.store.queryTimeout,
      writeConcurrency: raw.store.writeConcurrency,
    },
    notReadyReasons: raw.notReadyReasons,
    wrapupCodes: raw.wrapupCodes,
    agents: raw.agents,
    supervisors: raw.supervisors,
    teams: raw.teams,
    acd,
    callbacks: { queueId: raw.callbacks.queue ?? acd.queues[0]!.id, priority: raw.callbacks.priority },
    hub: raw.hub && {
      addresses: hubAddresses,
      hubId: raw.hub.id,
      tls: {
        caPath: resolve(baseDir, raw.hub.tls.ca),
        certPath: resolve(baseDir, raw.hub.tls.cert),
        keyPath: resolve(baseDir, raw.hub.tls.key),
      },
      events: raw.hub.events,
      kafka: raw.hub.kafka,
      snapshotIntervalMs: raw.hub.snapshotIntervalMs,
      suspectAfterMs: raw.hub.suspectAfterMs,
      downAfterMs: raw.hub.downAfterMs,
    },
    bankHosts: Object.fromEntries(
      Object.entries(raw.bankHosts).map(([id, h]) => [id, { databaseUrl: h.database }]),
    ),
    sip,
    recordings,
  };
}

export function loadSiteConfig(path: string): SiteConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new DomainError('invalid-argument', `cannot read site config ${path}: ${(e as Error).message}`, {
      field: path,
      cause: e,
    });
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new DomainError('invalid-argument', `${path}: not valid YAML: ${(e as Error).message}`, {
      field: path,
      cause: e,
    });
  }
  return compileSiteConfig(doc, dirname(path), path);
}
