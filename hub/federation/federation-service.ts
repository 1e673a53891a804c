/**
 * The hub side of the federation contract (proto/federation.proto): a THIN gRPC adapter over
 * HubState and the stores.
 *
 * Who is calling comes only from the mTLS certificate (`peerIdentity`); every `site_id` in a
 * request must be that site (`requireSelf`), so a site can never speak for another (only
 * WriteCustomer also takes an admin certificate, writing for no site); a
 * refusal is logged as `rpc refused` with who and why (caller-check.ts). A site
 * that is not in the current topology is refused (NOT_FOUND naming the version). Bad input
 * gets INVALID_ARGUMENT naming the field, and changes nothing.
 *
 * The Link stream:
 *   - the first message must be a Hello, within `helloTimeoutMs`, else the stream ends with
 *     INVALID_ARGUMENT / DEADLINE_EXCEEDED saying so;
 *   - messages are handled one at a time in arrival order (a promise chain), so event
 *     batches are stored and acknowledged in the order the site sent them; heartbeats and
 *     overflow envelopes are handled on arrival instead, ahead of a batch the database is
 *     still storing (both are synchronous, so overflow envelopes keep their order among
 *     themselves: a cancel never overtakes its request);
 *   - an event batch that is refused (malformed, another site's events, database down) is
 *     answered with an EventBatchAck carrying the error, and the stream stays up: the site
 *     keeps the events in its outbox and retries, nothing is lost;
 *   - a newer stream from the same site replaces this one (registry.ts).
 */
import type { ServerDuplexStream } from '@grpc/grpc-js';
import { z } from 'zod';
import {
  FederationService,
  LookupKey as PbLookupKey,
  type CustomerChangesRequest,
  type CustomerChangesResponse,
  type FederationServer,
  type Hello,
  type HubMessage,
  type OverflowEnvelope,
  type LookupCustomerRequest,
  type LookupCustomerResponse,
  type SiteMessage,
  type Snapshot,
  type WriteCustomerRequest,
  type WriteCustomerResponse,
} from '../../proto/gen/federation.js';
import { customerFromProto, customerToProto } from '../../shared/domain/customer-proto.js';
import { DomainError, invalidArgument, isDomainError } from '../../shared/errors.js';
import { MAX_BATCH_EVENTS } from '../../shared/federation/event-batch.js';
import { eventsFromProto } from '../../shared/federation/event-proto.js';
import {
  CONTRACT_VERSION,
  MIN_CONTRACT_VERSION,
  commonCapabilities,
  softwareVersion,
} from '../../shared/federation/contract.js';
import { peerIdentity, requireSelf, type Identity } from '../../shared/grpc/identity.js';
import { checkCaller, logRefused, type CheckedCall } from '../../shared/grpc/caller-check.js';
import { peerAddressOf } from '../../shared/grpc/refusal-log.js';
import type { ServiceRegistration } from '../../shared/grpc/server.js';
import { toGrpcStatus, unary } from '../../shared/grpc/status.js';
import { NODE_ID_RE } from '../../shared/grpc/identity.js';
import { parseOrThrow } from '../../shared/validate.js';
import { authorOf } from '../directory/write-rule.js';
import type { LookupKey } from '../ports.js';
import type { LiveSnapshot } from '../stats/province-stats.js';
import { orNull } from '../admin/admin-mapping.js';
import type { HubState } from './hub-state.js';
import type { SiteEntry } from './registry.js';

export interface FederationServiceOptions {
  /** How long a new stream may take to say hello. Default 10 s. */
  helloTimeoutMs?: number;
  /** Most events in one batch. Default MAX_BATCH_EVENTS (shared with the sites). */
  maxBatchEvents?: number;
}

const siteIdField = z.string().min(1, 'must not be empty').regex(NODE_ID_RE, `must match ${NODE_ID_RE}`);
const shortText = (max: number) => z.string().max(max, `must be at most ${max} characters`);

const helloSchema = z.object({
  siteId: siteIdField,
  softwareVersion: shortText(64),
  contractVersion: z.number().int().min(1, 'must be >= 1 (the contract version the site speaks)'),
  capabilities: z.array(shortText(64)).max(32, 'at most 32 capabilities'),
  topologyVersion: z.number().int().min(0),
  customerCursor: z.number().int().min(0),
  sentAtMs: z.number().int().min(0),
});

const queueSnapshotSchema = z.object({
  queueId: z.string().min(1).max(64),
  callsWaiting: z.number().int().min(0),
  oldestWaitMs: z.number().int().min(0),
  agentsReady: z.number().int().min(0),
  agentsServing: z.number().int().min(0),
  // Absent = unknown (no agent serving the queue): routing must not read it as "at once".
  expectedWaitMs: z.number().int().min(0).optional(),
  // -1 = no value yet (nothing offered / answered in the site's window).
  serviceLevel: z.number().min(-1).max(1),
  averageSpeedOfAnswerMs: z.number().int().min(-1),
  abandonRate: z.number().min(-1).max(1),
});

const snapshotSchema = z.object({
  atMs: z.number().int().min(0),
  queues: z.array(queueSnapshotSchema).max(500, 'at most 500 queues'),
  agents: z
    .array(z.object({ state: z.string().min(1).max(32), count: z.number().int().min(0) }))
    .max(32, 'at most 32 agent states'),
  liveCalls: z.number().int().min(0),
  ivrSessions: z.number().int().min(0),
});

const lookupSchema = z.object({
  siteId: siteIdField,
  key: z.number().int(),
  value: z.string().min(1, 'must not be empty').max(64, 'must be at most 64 characters'),
  purpose: z.object(
    {
      reason: z.string().min(1, 'must say why the customer is read').max(64),
      callId: shortText(128),
      agentId: shortText(64),
      ivrSessionId: shortText(128),
    },
    { error: 'required: why the customer is read (reason, and the call/agent/IVR session)' },
  ),
});

const LOOKUP_KEYS = new Map<number, LookupKey>([
  [PbLookupKey.LOOKUP_KEY_PHONE, 'phone'],
  [PbLookupKey.LOOKUP_KEY_CARD, 'card'],
  [PbLookupKey.LOOKUP_KEY_CUSTOMER_ID, 'customer-id'],
]);

function snapshotFromProto(s: Snapshot): LiveSnapshot {
  const v = parseOrThrow(snapshotSchema, s, 'snapshot');
  return {
    atMs: v.atMs,
    queues: v.queues.map((q) => ({
      ...q,
      expectedWaitMs: q.expectedWaitMs ?? null,
      serviceLevel: orNull(q.serviceLevel),
      averageSpeedOfAnswerMs: orNull(q.averageSpeedOfAnswerMs),
      abandonRate: orNull(q.abandonRate),
    })),
    agents: Object.fromEntries(v.agents.map((a) => [a.state, a.count])),
    liveCalls: v.liveCalls,
    ivrSessions: v.ivrSessions,
  };
}

/** Who is calling, for a refusal's log line; the identity checks proper come later. */
function peerName(call: Parameters<typeof peerIdentity>[0]): string {
  try {
    const p = peerIdentity(call);
    return `${p.kind} ${p.id}`;
  } catch {
    return 'an unidentified peer';
  }
}

export function createFederationService(
  hub: HubState,
  opts: FederationServiceOptions = {},
): ServiceRegistration {
  const { registry, clock, log } = hub.d;
  const helloTimeoutMs = opts.helloTimeoutMs ?? 10_000;
  const maxBatch = opts.maxBatchEvents ?? MAX_BATCH_EVENTS;
  const open = new Set<ServerDuplexStream<SiteMessage, HubMessage>>();

  /**
   * A directory writer: an admin certificate (with an empty `site_id`: an admin writes for no
   * site), or a site of the current topology speaking for itself.
   */
  function writerOf(call: CheckedCall, siteIdRaw: string): Identity & { kind: 'site' | 'admin' } {
    const asAdmin = checkCaller(call, hub.refusals, (id) => {
      if (id.kind !== 'admin') return false;
      if (siteIdRaw !== '') {
        throw new DomainError(
          'permission-denied',
          `admin ${JSON.stringify(id.id)} cannot write as site ${JSON.stringify(siteIdRaw)}: an admin writes as itself; leave site_id empty`,
          { field: 'site_id' },
        );
      }
      return true;
    });
    if (asAdmin) {
      const who = peerIdentity(call) as Identity & { kind: 'admin' };
      hub.requireLeader(`admin ${who.id}`);
      return who;
    }
    const siteId = parseOrThrow(siteIdField, siteIdRaw, 'site_id');
    return callerSite(call, siteId) as Identity & { kind: 'site' };
  }

  /** The caller, who must be a site of the current topology speaking for itself. */
  function callerSite(call: CheckedCall, siteId: string): Identity {
    const who = checkCaller(call, hub.refusals, (id) => requireSelf(id, siteId));
    hub.requireLeader(`site ${siteId}`);
    if (!hub.site(siteId)) {
      throw new DomainError(
        'not-found',
        hub.current
          ? `site ${JSON.stringify(siteId)} is not in topology version ${hub.current.version}`
          : `site ${JSON.stringify(siteId)} is not in the topology: no version has been applied yet (fedctl apply)`,
        { field: 'site_id' },
      );
    }
    return who;
  }

  function link(call: ServerDuplexStream<SiteMessage, HubMessage>): void {
    open.add(call);
    let siteId: string | undefined;
    let generation = -1;
    let ended = false;
    let chain: Promise<void> = Promise.resolve();
    /** Overflow envelopes queued on the chain (they came before the Hello was read, or behind those). */
    let overflowOnChain = 0;
    const peerAddress = peerAddressOf(typeof call.getPeer === 'function' ? call.getPeer() : undefined);

    const end = (err?: unknown): void => {
      if (ended) return;
      ended = true;
      clearTimeout(helloTimer);
      open.delete(call);
      if (siteId !== undefined) {
        registry.disconnect(siteId, generation, clock.now());
        hub.stopFeed(siteId);
        hub.cover?.sitesChanged(); // a covering site gone: the sites it served stop asking
        log.info('site link closed', { siteId, ...(err === undefined ? { reason: 'ended' } : { err }) });
      }
      if (err !== undefined && !call.cancelled && !call.writableEnded && !call.destroyed) {
        call.emit('error', toGrpcStatus(err, log, { method: 'Federation.Link', siteId }));
      } else if (!call.writableEnded && !call.destroyed) {
        call.end();
      }
    };
    const send = (msg: HubMessage): boolean => {
      if (ended || call.writableEnded || call.destroyed) return false;
      call.write(msg);
      return true;
    };
    const helloTimer = setTimeout(
      () =>
        end(new DomainError('deadline-exceeded', `no Hello within ${helloTimeoutMs} ms of opening the link`)),
      helloTimeoutMs,
    );
    // A standby refuses the link before the Hello, naming the leader (docs/architecture.md §6.6).
    try {
      hub.requireLeader(peerName(call));
    } catch (e) {
      end(e);
      return;
    }

    const onHello = (h: Hello): void => {
      const v = parseOrThrow(helloSchema, h, 'hello');
      callerSite(call, v.siteId);
      if (v.contractVersion < MIN_CONTRACT_VERSION) {
        throw new DomainError(
          'failed-precondition',
          `hello.contract_version: site speaks contract ${v.contractVersion}, this hub needs at least ${MIN_CONTRACT_VERSION}`,
          { field: 'hello.contract_version' },
        );
      }
      clearTimeout(helloTimer);
      siteId = v.siteId;
      const caps = commonCapabilities(v.capabilities);
      const r = registry.connect(
        siteId,
        {
          softwareVersion: v.softwareVersion,
          contractVersion: v.contractVersion,
          capabilities: caps,
          topologyVersion: v.topologyVersion,
          customerCursor: v.customerCursor,
        },
        { send, close: (reason) => end(new DomainError('unavailable', reason)) },
        clock.now(),
      );
      generation = r.generation;
      log.info('site link up', {
        siteId,
        softwareVersion: v.softwareVersion,
        contractVersion: v.contractVersion,
        topologyVersion: v.topologyVersion,
      });
      send({
        body: {
          $case: 'welcome',
          value: {
            hubId: hub.d.hubId,
            softwareVersion: softwareVersion(),
            contractVersion: CONTRACT_VERSION,
            capabilities: caps,
            heartbeatIntervalMs: hub.d.heartbeatIntervalMs,
            drained: hub.drained.has(siteId),
            topologyVersion: hub.currentVersion,
          },
        },
      });
      if (hub.current && caps.includes('topology') && v.topologyVersion !== hub.current.version) {
        send(hub.topologyMessage(hub.current));
      }
      if (caps.includes('customer-feed')) hub.startFeed(siteId, v.customerCursor);
      // The cover entries this site is served or covers under, after Welcome as DrainState is.
      hub.cover?.attached(siteId, caps);
    };

    /**
     * Only a site that announced the capability speaks the protocol; one that did not is never
     * a target either, so nothing it sends can be part of a request (§5.3). Synchronous.
     */
    const onOverflow = (from: string, entry: SiteEntry, env: OverflowEnvelope): void => {
      if (!entry.capabilities.includes('overflow')) {
        hub.overflow.refused(
          from,
          peerAddress,
          'failed-precondition',
          'overflow',
          `site ${from} sent an overflow message without announcing the overflow capability`,
        );
        return;
      }
      hub.overflow.receive(from, env, peerAddress);
    };

    const ackHeartbeat = (entry: SiteEntry, hb: { seq: number; outboxBacklog: number }): void => {
      entry.outboxBacklog = Math.max(0, hb.outboxBacklog);
      send({ body: { $case: 'heartbeatAck', value: { seq: hb.seq, hubTimeMs: clock.now() } } });
    };

    /**
     * `heardAlready`: the registry was told on arrival (see the 'data' handler); `arrivedAtMs`:
     * the hub's clock then, the time a snapshot is aged from (a snapshot queued behind a slow
     * event batch is as old as its arrival, not its handling).
     */
    const handle = async (m: SiteMessage, heardAlready: boolean, arrivedAtMs: number): Promise<void> => {
      if (ended) return;
      const body = m.body;
      if (siteId === undefined) {
        if (body?.$case !== 'hello') {
          throw new DomainError(
            'invalid-argument',
            `the first message on the link must be a Hello, got ${body?.$case ?? 'an empty message'}`,
          );
        }
        onHello(body.value);
        return;
      }
      const entry = heardAlready
        ? registry.current(siteId, generation)
        : registry.heard(siteId, generation, clock.now());
      if (!entry) return; // replaced by a newer stream
      switch (body?.$case) {
        case 'hello':
          throw new DomainError('invalid-argument', 'hello: sent twice on one link; open a new link instead');
        case 'heartbeat':
          ackHeartbeat(entry, body.value);
          return;
        case 'snapshot':
          try {
            registry.snapshotReceived(entry, snapshotFromProto(body.value), arrivedAtMs);
          } catch (e) {
            // A bad snapshot is dropped (the previous one stays); the link is not worth ending.
            log.warn('snapshot refused', { siteId, err: e });
          }
          return;
        case 'events': {
          const batch = body.value;
          let ack: HubMessage;
          try {
            if (batch.events.length > maxBatch) {
              throw invalidArgument(
                'events',
                `${batch.events.length} events in one batch; at most ${maxBatch}`,
              );
            }
            const events = eventsFromProto(batch.events, siteId);
            const r = await hub.linkIngest.submit(events);
            ack = { body: { $case: 'eventsAck', value: { batchId: batch.batchId, ...r, error: '' } } };
          } catch (e) {
            const st = toGrpcStatus(e, log, { method: 'Federation.Link/events', siteId });
            log.warn('event batch refused', { siteId, batchId: batch.batchId, err: e });
            ack = {
              body: {
                $case: 'eventsAck',
                value: { batchId: batch.batchId, accepted: 0, duplicates: 0, error: st.details },
              },
            };
          }
          send(ack);
          return;
        }
        case 'overflow':
          onOverflow(siteId, entry, body.value);
          return;
        case 'topologyAck':
          if (body.value.error) {
            entry.topologyError = body.value.error.slice(0, 500);
            log.warn('site refused a topology version', {
              siteId,
              version: body.value.version,
              reason: entry.topologyError,
            });
          } else {
            entry.topologyVersion = body.value.version;
            entry.topologyError = '';
          }
          return;
        default:
          // A newer site's message this hub does not know: skip it (version tolerance).
          return;
      }
    };

    const enqueue = (m: SiteMessage, heardAlready: boolean, arrivedAtMs: number): void => {
      const overflow = m.body?.$case === 'overflow';
      if (overflow) overflowOnChain++;
      chain = chain
        .then(() => handle(m, heardAlready, arrivedAtMs))
        .finally(() => {
          if (overflow) overflowOnChain--;
        })
        .catch((e: unknown) => end(e));
    };

    call.on('data', (m: SiteMessage) => {
      // Liveness is taken on arrival, and a heartbeat is answered at once, not after the
      // messages queued before it: a batch that takes the database a second to commit must
      // not look like a silent site here, nor like a silent hub to the site. An overflow
      // envelope too: a request held behind an origin's outbox backlog would be routed after
      // the origin stopped waiting (its ask timeout, 2 s), holding a target's agent for a call
      // already home. Its age is not judged: the hub cannot read the site's clock, and
      // arrival order is all it has (a late accept is cancelled by the origin, §5.9).
      const arrivedAtMs = clock.now();
      if (siteId !== undefined && !ended && m.body?.$case !== 'hello') {
        const entry = registry.heard(siteId, generation, arrivedAtMs);
        if (entry && m.body?.$case === 'heartbeat') {
          ackHeartbeat(entry, m.body.value);
          return;
        }
        // One queued on the chain (it came before the Hello was read) goes first: keep behind it.
        if (entry && m.body?.$case === 'overflow' && overflowOnChain === 0) {
          try {
            onOverflow(siteId, entry, m.body.value);
          } catch (e) {
            end(e);
          }
          return;
        }
        enqueue(m, true, arrivedAtMs);
        return;
      }
      enqueue(m, false, arrivedAtMs);
    });
    call.on('end', () => {
      void chain.then(() => end());
    });
    call.on('error', () => end());
    call.on('cancelled', () => end());
  }

  const impl: FederationServer = {
    link,
    lookupCustomer: unary<LookupCustomerRequest, LookupCustomerResponse>(
      async (req, call) => {
        const v = parseOrThrow(lookupSchema, req, 'request');
        callerSite(call, v.siteId);
        const key = LOOKUP_KEYS.get(v.key);
        if (!key) throw invalidArgument('key', `unknown lookup key ${v.key}; use PHONE, CARD or CUSTOMER_ID`);
        // Reads of another site's customer are audited in the same statement as the lookup.
        const profile = await hub.d.directory.lookupAudited(key, v.value, {
          readerSiteId: v.siteId,
          reason: v.purpose.reason,
          callId: v.purpose.callId || null,
          agentId: v.purpose.agentId || null,
          ivrSessionId: v.purpose.ivrSessionId || null,
          atMs: clock.now(),
        });
        if (!profile) return { found: false, roaming: false };
        const roaming = profile.homeSiteId !== v.siteId;
        return { found: true, profile: customerToProto(profile), roaming };
      },
      { log, method: 'Federation.LookupCustomer' },
    ),
    writeCustomer: unary<WriteCustomerRequest, WriteCustomerResponse>(
      async (req, call) => {
        // The writer is the certificate: a site speaking for itself, or an admin speaking for
        // no site. The author recorded comes from it too; the request's `changed_by` is only
        // a claim of which agent, kept scoped to the site (hub/directory/write-rule.ts).
        const who = writerOf(call, req.siteId);
        const writer = { kind: who.kind, id: who.id };
        const claimedBy = who.kind === 'site' ? req.changedBy : '';
        authorOf(writer, claimedBy, 'changed_by');
        const profile = customerFromProto(req.profile, 'profile');
        if (!Number.isInteger(req.baseVersion) || req.baseVersion < 0) {
          throw invalidArgument('base_version', 'must be an integer >= 0 (0 creates a customer)');
        }
        let change;
        try {
          change = await hub.d.directory.write({
            writer,
            profile,
            baseVersion: req.baseVersion,
            claimedBy,
            reason: req.reason.slice(0, 200),
            nowMs: clock.now(),
          });
        } catch (e) {
          // The owner rule's refusal: logged once here (the store recorded it in its table).
          if (isDomainError(e, 'permission-denied')) logRefused(call, hub.refusals, who, e);
          throw e;
        }
        void hub
          .notifyCustomerChanged(change.profile.customerId)
          .catch((e: unknown) => log.warn('customer change push failed', { err: e }));
        return { profile: customerToProto(change.profile), cursor: change.cursor };
      },
      { log, method: 'Federation.WriteCustomer' },
    ),
    customerChanges: unary<CustomerChangesRequest, CustomerChangesResponse>(
      async (req, call) => {
        const siteId = parseOrThrow(siteIdField, req.siteId, 'site_id');
        callerSite(call, siteId);
        if (!Number.isInteger(req.afterCursor) || req.afterCursor < 0) {
          throw invalidArgument('after_cursor', 'must be an integer >= 0');
        }
        const limit = req.limit === 0 ? 500 : Math.min(req.limit, 1000);
        const r = await hub.d.directory.changesFor(siteId, req.afterCursor, limit);
        return {
          changes: r.changes.map((c) => ({ cursor: c.cursor, profile: customerToProto(c.profile) })),
          headCursor: r.headCursor,
        };
      },
      { log, method: 'Federation.CustomerChanges' },
    ),
  };

  return {
    definition: FederationService,
    implementation: impl,
    drain: () => {
      for (const c of [...open]) {
        if (!c.writableEnded && !c.destroyed) {
          c.emit('error', toGrpcStatus(new DomainError('unavailable', 'hub stopping; reconnect later'), log));
        }
      }
      open.clear();
    },
  };
}
