/**
 * The hub's admin API (proto/admin.proto) for `fedctl`: a THIN gRPC adapter. Every call needs
 * an admin certificate (`requireKind(identity, 'admin')`); the certificate's id is the "who"
 * of every audit entry. Topology files are validated in full before anything is stored
 * (validate.ts lists every problem); versions are assigned by the hub, and an apply planned
 * against an older version than the current one is refused (ABORTED) so two admins cannot
 * overwrite each other. A file that states its own `version` must state the next one.
 */
import {
  AdminService,
  type AdminServer,
  type ApplyTopologyRequest,
  type ApplyTopologyResponse,
  type CustomerReadsRequest,
  type CustomerReadsResponse,
  type CoverChangeResponse,
  type ListCoverRequest,
  type ListCoverResponse,
  type StartCoverRequest,
  type StopCoverRequest,
  type PlanTopologyRequest,
  type PlanTopologyResponse,
  type RollbackTopologyRequest,
  type RouteDecisionsRequest,
  type RouteDecisionsResponse,
  type SetDrainRequest,
  type SetDrainResponse,
  type StatsRequest,
  type StatsResponse,
  type StatusRequest,
  type StatusResponse,
  type TopologyHistoryRequest,
  type TopologyHistoryResponse,
} from '../../proto/gen/admin.js';
import { DomainError, invalidArgument, isDomainError } from '../../shared/errors.js';
import { checkCaller, logRefused, type CheckedCall } from '../../shared/grpc/caller-check.js';
import { requireKind, NODE_ID_RE, type Identity } from '../../shared/grpc/identity.js';
import type { ServiceRegistration } from '../../shared/grpc/server.js';
import { unary } from '../../shared/grpc/status.js';
import { MAX_AUDIT_PAGE, MAX_DECISIONS_PAGE, type StoredTopology } from '../ports.js';
import { provinceStats } from './province-view.js';
import { changeLines } from '../../shared/topology/diff.js';
import { policyIdSchema, type Topology } from '../../shared/topology/schema.js';
import { loadTopology } from '../../shared/topology/validate.js';
import type { HubState } from '../federation/hub-state.js';
import { decisionToProto, readToProto, siteStatuses, statsToProto } from './admin-mapping.js';

/** Largest topology file accepted (the gRPC limit is 1 MiB; a province is a few KiB). */
const MAX_YAML_BYTES = 256 * 1024;
const DEFAULT_WINDOW_MS = 3_600_000;
const DEFAULT_THRESHOLD_MS = 20_000;
/** The read-audit store's field names, as CustomerReadsRequest calls them. */
const WIRE_FIELD: Record<string, string> = { customerId: 'customer_id', readerSiteId: 'reader_site_id' };

function yamlText(yaml: string): string {
  if (yaml.trim().length === 0) throw invalidArgument('yaml', 'is empty: send the topology file');
  if (Buffer.byteLength(yaml, 'utf8') > MAX_YAML_BYTES) {
    throw invalidArgument('yaml', `is larger than ${MAX_YAML_BYTES} bytes`);
  }
  return yaml;
}

/** A file's own `version`, if it states one, must be the next version. */
function checkStatedVersion(t: Topology, current: number): void {
  if (t.version !== null && t.version !== current + 1) {
    throw new DomainError(
      t.version <= current ? 'conflict' : 'invalid-argument',
      `version: the file says version ${t.version}, but the hub is at version ${current}; ` +
        (t.version <= current ? 'the file is stale: start from the current topology' : `say ${current + 1}`),
      { field: 'version' },
    );
  }
}

function versionToProto(v: StoredTopology) {
  return {
    version: v.version,
    appliedAtMs: v.appliedAtMs,
    appliedBy: v.appliedBy,
    comment: v.comment,
    changes: v.changes,
    rollbackOf: v.rollbackOf ?? 0,
  };
}

/** A cover entry id as the topology writes them (shared/topology/schema.ts), or the field's error. */
function checkEntryId(entryId: string): void {
  const r = policyIdSchema.safeParse(entryId);
  if (!r.success) {
    throw invalidArgument(
      'entry_id',
      `${r.error.issues[0]?.message ?? 'malformed'} (got ${JSON.stringify(entryId)})`,
    );
  }
}

/** The cover request's fields, checked before anything is looked at; what `cover start` runs. */
function coverStartFields(req: StartCoverRequest): { untilMs: number | null; forMs: number | null } {
  checkEntryId(req.entryId);
  if (!Number.isSafeInteger(req.untilMs) || req.untilMs < 0) {
    throw invalidArgument('until_ms', 'must be a time in ms since the epoch, or 0 for none');
  }
  if (!Number.isSafeInteger(req.forMs) || req.forMs < 0) {
    throw invalidArgument('for_ms', 'must be a duration in ms, or 0 for none');
  }
  if (req.untilMs > 0 && req.forMs > 0) throw invalidArgument('for_ms', 'give until_ms or for_ms, not both');
  return { untilMs: req.untilMs > 0 ? req.untilMs : null, forMs: req.forMs > 0 ? req.forMs : null };
}

export function createAdminService(hub: HubState): ServiceRegistration {
  const { clock, log } = hub.d;
  const admin = (call: CheckedCall) => {
    const who = checkCaller(call, hub.refusals, (id) => requireKind(id, 'admin'));
    hub.requireLeader(`admin ${who.id}`);
    return who;
  };
  const coverOf = () => {
    if (!hub.cover) throw new DomainError('unavailable', 'this hub runs no cover component');
    return hub.cover;
  };
  /** A cover change refused after the caller was known: logged once, who and why, then thrown. */
  async function refusedLogged<T>(call: CheckedCall, who: Identity, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (e) {
      if (e instanceof DomainError && e.kind !== 'internal' && e.kind !== 'unavailable') {
        logRefused(call, hub.refusals, who, e);
      }
      throw e;
    }
  }

  /** Store, audit, adopt and push one new version. */
  async function store(
    topology: Topology,
    sourceYaml: string,
    who: string,
    expected: number,
    comment: string,
    rollbackOf: number | null,
  ): Promise<ApplyTopologyResponse> {
    const changes = changeLines(hub.current?.topology, topology);
    const stored = await hub.d.topology.append({
      topology,
      sourceYaml,
      appliedBy: who,
      comment: comment.slice(0, 500),
      changes,
      rollbackOf,
      expectedCurrentVersion: expected,
      nowMs: clock.now(),
    });
    const pushedTo = hub.adopt(stored);
    log.info('topology applied', { version: stored.version, by: who, changes: changes.length, pushedTo });
    return { version: stored.version, changes, pushedTo };
  }

  const impl: AdminServer = {
    planTopology: unary<PlanTopologyRequest, PlanTopologyResponse>(
      (req, call) => {
        admin(call);
        const t = loadTopology(yamlText(req.yaml));
        checkStatedVersion(t, hub.currentVersion);
        return {
          currentVersion: hub.currentVersion,
          changes: changeLines(hub.current?.topology, t),
          nextVersion: hub.currentVersion + 1,
        };
      },
      { log, method: 'Admin.PlanTopology' },
    ),
    applyTopology: unary<ApplyTopologyRequest, ApplyTopologyResponse>(
      async (req, call) => {
        const who = admin(call);
        const yaml = yamlText(req.yaml);
        const t = loadTopology(yaml);
        checkStatedVersion(t, hub.currentVersion);
        return store(t, yaml, who.id, req.expectedCurrentVersion, req.comment, null);
      },
      { log, method: 'Admin.ApplyTopology' },
    ),
    rollbackTopology: unary<RollbackTopologyRequest, ApplyTopologyResponse>(
      async (req, call) => {
        const who = admin(call);
        if (!Number.isInteger(req.toVersion) || req.toVersion < 1) {
          throw invalidArgument('to_version', 'must be a stored version (>= 1)');
        }
        if (req.toVersion === hub.currentVersion) {
          throw new DomainError('failed-precondition', `version ${req.toVersion} is already current`, {
            field: 'to_version',
          });
        }
        const old = await hub.d.topology.get(req.toVersion);
        if (!old) throw new DomainError('not-found', `topology version ${req.toVersion} is not stored`);
        // The restored content gets a new version number, so every site sees a forward move.
        const restored: Topology = { ...old.topology, version: null };
        return store(restored, old.sourceYaml, who.id, req.expectedCurrentVersion, req.comment, old.version);
      },
      { log, method: 'Admin.RollbackTopology' },
    ),
    topologyHistory: unary<TopologyHistoryRequest, TopologyHistoryResponse>(
      async (req, call) => {
        admin(call);
        const limit = req.limit === 0 ? 20 : Math.min(req.limit, 500);
        return { versions: (await hub.d.topology.history(limit)).map(versionToProto) };
      },
      { log, method: 'Admin.TopologyHistory' },
    ),
    status: unary<StatusRequest, StatusResponse>(
      async (_req, call) => {
        admin(call);
        const counts = await hub.d.ingest.countsBySite();
        return {
          currentVersion: hub.currentVersion,
          sites: siteStatuses(hub, counts),
          hubTimeMs: clock.now(),
          activeCover: hub.cover?.activeStatus() ?? [],
        };
      },
      { log, method: 'Admin.Status' },
    ),
    setDrain: unary<SetDrainRequest, SetDrainResponse>(
      async (req, call) => {
        const who = admin(call);
        if (!NODE_ID_RE.test(req.siteId)) throw invalidArgument('site_id', `must match ${NODE_ID_RE}`);
        if (!hub.site(req.siteId)) {
          throw new DomainError(
            'not-found',
            `site ${JSON.stringify(req.siteId)} is not in topology version ${hub.currentVersion}`,
            { field: 'site_id' },
          );
        }
        await hub.d.siteAdmin.setDrained(
          req.siteId,
          req.drained,
          who.id,
          req.comment.slice(0, 500),
          clock.now(),
        );
        const pushed = hub.setDrained(req.siteId, req.drained, req.comment);
        log.info(req.drained ? 'site drained' : 'site undrained', { siteId: req.siteId, by: who.id });
        return { drained: req.drained, pushed };
      },
      { log, method: 'Admin.SetDrain' },
    ),
    stats: unary<StatsRequest, StatsResponse>(
      async (req, call) => {
        admin(call);
        const windowMs = req.windowMs === 0 ? DEFAULT_WINDOW_MS : req.windowMs;
        const thresholdMs = req.thresholdMs === 0 ? DEFAULT_THRESHOLD_MS : req.thresholdMs;
        if (windowMs < 1000 || windowMs > 7 * 86_400_000) {
          throw invalidArgument('window_ms', 'must be between 1 s and 7 days');
        }
        if (thresholdMs < 1000 || thresholdMs > 3_600_000) {
          throw invalidArgument('threshold_ms', 'must be between 1 s and 1 hour');
        }
        const stats = await provinceStats(hub, windowMs, thresholdMs);
        return statsToProto(stats);
      },
      { log, method: 'Admin.Stats' },
    ),
    customerReads: unary<CustomerReadsRequest, CustomerReadsResponse>(
      async (req, call) => {
        const who = admin(call);
        if (!Number.isSafeInteger(req.sinceMs) || req.sinceMs < 0) {
          throw invalidArgument('since_ms', 'must be a time in ms since the epoch (>= 0)');
        }
        const limit = req.limit === 0 ? 100 : req.limit;
        if (limit > MAX_AUDIT_PAGE) throw invalidArgument('limit', `must be at most ${MAX_AUDIT_PAGE}`);
        const filters = {
          ...(req.customerId ? { customerId: req.customerId } : {}),
          ...(req.readerSiteId ? { readerSiteId: req.readerSiteId } : {}),
          ...(req.sinceMs ? { sinceMs: req.sinceMs } : {}),
        };
        let r;
        try {
          r = await hub.d.directory.readAudit({ ...filters, limit });
        } catch (e) {
          // The store names its own fields; the caller knows the wire's.
          if (isDomainError(e, 'invalid-argument') && e.field && e.field in WIRE_FIELD) {
            throw invalidArgument(WIRE_FIELD[e.field]!, e.message.replace(/^[^:]+: /, ''), e);
          }
          throw e;
        }
        // Reading the audit trail is itself worth a trace: who looked at whose reads.
        log.info('read audit queried', { by: who.id, ...filters, rows: r.reads.length });
        return { reads: r.reads.map(readToProto), truncated: r.truncated };
      },
      { log, method: 'Admin.CustomerReads' },
    ),
    startCover: unary<StartCoverRequest, CoverChangeResponse>(
      async (req, call) => {
        const who = admin(call);
        return refusedLogged(call, who, async () => {
          const { untilMs, forMs } = coverStartFields(req);
          const r = await coverOf().startEntry({
            entryId: req.entryId,
            by: who.id,
            untilMs,
            forMs,
            comment: req.comment.slice(0, 500),
          });
          log.info('cover start by admin', {
            entryId: req.entryId,
            by: who.id,
            untilMs: r.entry.untilMs || null,
          });
          return r;
        });
      },
      { log, method: 'Admin.StartCover' },
    ),
    stopCover: unary<StopCoverRequest, CoverChangeResponse>(
      async (req, call) => {
        const who = admin(call);
        return refusedLogged(call, who, async () => {
          checkEntryId(req.entryId);
          const r = await coverOf().stopEntry({
            entryId: req.entryId,
            by: who.id,
            comment: req.comment.slice(0, 500),
          });
          log.info('cover stop by admin', { entryId: req.entryId, by: who.id });
          return r;
        });
      },
      { log, method: 'Admin.StopCover' },
    ),
    listCover: unary<ListCoverRequest, ListCoverResponse>(
      (_req, call) => {
        admin(call);
        const { entries, nowMs } = coverOf().list();
        return { entries, hubTimeMs: nowMs };
      },
      { log, method: 'Admin.ListCover' },
    ),
    routeDecisions: unary<RouteDecisionsRequest, RouteDecisionsResponse>(
      async (req, call) => {
        admin(call);
        const limit = req.limit === 0 ? 20 : req.limit;
        if (limit > MAX_DECISIONS_PAGE)
          throw invalidArgument('limit', `must be at most ${MAX_DECISIONS_PAGE}`);
        if (req.siteId !== '' && !NODE_ID_RE.test(req.siteId)) {
          throw invalidArgument('site_id', `must match ${NODE_ID_RE}`);
        }
        const store = hub.d.decisions;
        if (!store) throw new DomainError('failed-precondition', 'this hub keeps no routing decisions');
        const rows = await store.recent({ ...(req.siteId ? { siteId: req.siteId } : {}), limit });
        return { decisions: rows.map(decisionToProto) };
      },
      { log, method: 'Admin.RouteDecisions' },
    ),
  };
  return { definition: AdminService, implementation: impl };
}
