/**
 * The hub's configuration file (YAML), parsed and validated once at start (docs/architecture.md §3.6):
 * every error names its field, and a bad file starts nothing. Relative paths resolve against
 * the file's directory. Example: deploy/examples/hub.yaml.
 *
 * ```yaml
 * hub: { id: hub }                 # the id in the hub's certificate (spiffe://province/hub/hub)
 * database: { url: postgres://... } # or --database / HUB_DATABASE_URL
 * grpc: { host: 0.0.0.0, port: 7443 }
 * advertiseAddress: hub-a.bank:7443 # [grpc host:port; 127.0.0.1 for 0.0.0.0/::] where sites and
 *                                   #   admins reach this hub: a standby names it to them when
 *                                   #   this hub leads (docs/architecture.md §6.6)
 * lease: { ttl: 2s }                # [2s] the leader lease: a standby takes over a crashed or
 *                                   #   hung leader at most this long after its last renewal
 * web: { host: 127.0.0.1, port: 8080 }  # [127.0.0.1, any free port] the province board page
 * tls: { ca: pki/ca.crt, cert: pki/hub-hub.crt, key: pki/hub-hub.key }   # required: mTLS only
 * heartbeatIntervalMs: 100ms       # [100ms] what sites are told: they heartbeat this often
 * suspectAfterMs: 400ms            # [400ms, or 3 intervals if longer] a silent site is suspect
 * downAfterMs: 1.5s                # [1.5s, or 10 intervals if longer] ...and down: its stream ends
 * topology: province.yaml           # [none] applied as version 1 when the hub has no version yet
 * routing:
 *   maxSnapshotAgeMs: 1s            # [1s] overflow and cover are routed only on site snapshots
 *                                   #   the hub received at most this long ago (hub clock)
 * directory:
 *   interestTtl: 8d                 # [8d] a site's interest in another site's customer lapses
 *                                   #   when it has not read them for this long (no more changes)
 * kafka:                            # [none] consume site events from Kafka (production mode)
 *   brokers: 10.0.0.5:9092
 *   topic: pcc.site-events          # [pcc.site-events]
 *   groupId: hub-ingest             # [hub-ingest]
 * ```
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { durationMs } from '../shared/duration.js';
import { DomainError } from '../shared/errors.js';
import { NODE_ID_RE } from '../shared/grpc/identity.js';
import { parseOrThrow, throwInvalid } from '../shared/validate.js';
import { MIN_SUSPECT_INTERVALS } from '../shared/federation/liveness.js';
import { linkTimes } from './federation/link-state.js';
import { HOST_PORT } from '../shared/federation/hub-failover.js';
import { DEFAULT_LEASE_TTL_MS } from './lease/lease.js';
import { DEFAULT_MAX_SNAPSHOT_AGE_MS } from './routing/site-view.js';

/**
 * A site forgets a customer of another site it has not served for 7 days (site-node/runtime);
 * the hub keeps the site's interest a day longer, so a site never holds a profile that no
 * longer receives changes.
 */
export const DEFAULT_INTEREST_TTL_MS = 8 * 86_400_000;

const hostPort = {
  host: z.string().min(1).default('127.0.0.1'),
  port: z.number().int().min(0).max(65535).default(0),
};

const hubFileSchema = z
  .object({
    hub: z.object({ id: z.string().regex(NODE_ID_RE, `must match ${NODE_ID_RE}`) }).strict(),
    database: z
      .object({ url: z.string().min(1).optional() })
      .strict()
      .default({}),
    grpc: z.object(hostPort).strict().default({ host: '127.0.0.1', port: 0 }),
    advertiseAddress: z.string().regex(HOST_PORT, 'must be host:port').optional(),
    lease: z
      .object({ ttl: durationMs.default(DEFAULT_LEASE_TTL_MS) })
      .strict()
      .default({ ttl: DEFAULT_LEASE_TTL_MS }),
    tls: z.object({ ca: z.string().min(1), cert: z.string().min(1), key: z.string().min(1) }).strict(),
    /** The province board (a read-only web page for network admins and supervisors). */
    web: z.object(hostPort).strict().default({ host: '127.0.0.1', port: 0 }),
    heartbeatIntervalMs: durationMs.default(100),
    /** Link liveness (docs/architecture.md §6.3); defaults in shared/federation/liveness.ts. */
    suspectAfterMs: durationMs.optional(),
    downAfterMs: durationMs.optional(),
    topology: z.string().min(1).optional(),
    /** Overflow and cover routing (docs/architecture.md §5.8). */
    routing: z
      .object({ maxSnapshotAgeMs: durationMs.default(DEFAULT_MAX_SNAPSHOT_AGE_MS) })
      .strict()
      .default({ maxSnapshotAgeMs: DEFAULT_MAX_SNAPSHOT_AGE_MS }),
    directory: z
      .object({ interestTtl: durationMs.default(DEFAULT_INTEREST_TTL_MS) })
      .strict()
      .default({ interestTtl: DEFAULT_INTEREST_TTL_MS }),
    kafka: z
      .object({
        brokers: z.string().min(1),
        topic: z.string().min(1).default('pcc.site-events'),
        groupId: z.string().min(1).default('hub-ingest'),
      })
      .strict()
      .optional(),
  })
  .strict();

export interface HubConfig {
  hubId: string;
  databaseUrl: string | undefined;
  grpc: { host: string; port: number };
  /** Where sites and admins reach this hub; default: the gRPC host and the port it listens on. */
  advertiseAddress?: string | undefined;
  /** The leader lease's TTL (hub/lease/lease.ts); default DEFAULT_LEASE_TTL_MS. */
  leaseTtlMs?: number;
  /** The province board; undefined = none (a file always has one, on loopback by default). */
  web?: { host: string; port: number } | undefined;
  tls: { caPath: string; certPath: string; keyPath: string };
  heartbeatIntervalMs: number;
  /** Silence after which a site's link is suspect, then down; default `linkTimes(...)`. */
  suspectAfterMs?: number;
  downAfterMs?: number;
  topologyPath: string | undefined;
  kafka: { brokers: string; topic: string; groupId: string } | undefined;
  /** Default DEFAULT_INTEREST_TTL_MS. */
  interestTtlMs?: number;
  /** Routing uses snapshots at most this old (hub clock); default DEFAULT_MAX_SNAPSHOT_AGE_MS. */
  maxSnapshotAgeMs?: number;
}

export function compileHubConfig(input: unknown, baseDir: string, what = 'hub'): HubConfig {
  const raw = parseOrThrow(hubFileSchema, input, what);
  if (raw.heartbeatIntervalMs < 100 || raw.heartbeatIntervalMs > 60_000) {
    throw new DomainError(
      'invalid-argument',
      `${what}.heartbeatIntervalMs: must be between 100 ms and 60 s`,
      {
        field: `${what}.heartbeatIntervalMs`,
      },
    );
  }
  if (raw.directory.interestTtl < 3_600_000) {
    throw new DomainError('invalid-argument', `${what}.directory.interestTtl: must be at least 1 h`, {
      field: `${what}.directory.interestTtl`,
    });
  }
  const times = linkTimes(raw.heartbeatIntervalMs, {
    ...(raw.suspectAfterMs === undefined ? {} : { suspectAfterMs: raw.suspectAfterMs }),
    ...(raw.downAfterMs === undefined ? {} : { downAfterMs: raw.downAfterMs }),
  });
  const problems: string[] = [];
  const minSuspectMs = MIN_SUSPECT_INTERVALS * raw.heartbeatIntervalMs;
  if (times.suspectAfterMs < minSuspectMs) {
    problems.push(
      `${what}.suspectAfterMs: must be at least ${MIN_SUSPECT_INTERVALS} heartbeat intervals (${minSuspectMs} ms), so one late heartbeat never makes a site suspect`,
    );
  }
  if (times.downAfterMs <= times.suspectAfterMs) {
    problems.push(`${what}.downAfterMs: must be longer than suspectAfterMs (${times.suspectAfterMs} ms)`);
  }
  if (raw.lease.ttl < 500 || raw.lease.ttl > 60_000) {
    problems.push(`${what}.lease.ttl: must be between 500 ms and 60 s`);
  }
  if (raw.routing.maxSnapshotAgeMs < 100 || raw.routing.maxSnapshotAgeMs > 60_000) {
    problems.push(`${what}.routing.maxSnapshotAgeMs: must be between 100 ms and 60 s`);
  }
  if (problems.length > 0) throwInvalid(problems, problems[0]!.split(':')[0]!);
  const path = (p: string) => resolve(baseDir, p);
  return {
    hubId: raw.hub.id,
    databaseUrl: raw.database.url,
    grpc: raw.grpc,
    advertiseAddress: raw.advertiseAddress,
    leaseTtlMs: raw.lease.ttl,
    web: raw.web,
    tls: { caPath: path(raw.tls.ca), certPath: path(raw.tls.cert), keyPath: path(raw.tls.key) },
    heartbeatIntervalMs: raw.heartbeatIntervalMs,
    ...times,
    topologyPath: raw.topology === undefined ? undefined : path(raw.topology),
    kafka: raw.kafka,
    interestTtlMs: raw.directory.interestTtl,
    maxSnapshotAgeMs: raw.routing.maxSnapshotAgeMs,
  };
}

export function loadHubConfig(file: string): HubConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new DomainError('failed-precondition', `hub config: cannot read ${file}`, { cause: e });
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (e) {
    throw new DomainError('invalid-argument', `hub config ${file}: not YAML (${(e as Error).message})`, {
      cause: e,
    });
  }
  return compileHubConfig(parsed, dirname(resolve(file)));
}
