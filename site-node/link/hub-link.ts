/**
 * The site's link to the hub (docs/architecture.md §5-§6): the `HubLink` port over gRPC with mTLS.
 *
 * One long-lived bidirectional stream (`Federation.Link`), dialled by the site:
 *   - Hello announces the site, its versions and capabilities, the topology version it runs
 *     and where its customer feed stands (both remembered in the site's database);
 *   - heartbeats every interval the hub asks for, with the outbox backlog; a snapshot of the
 *     live queues and agents every `snapshotIntervalMs`;
 *   - in the embedded mode (`eventsOverLink`) the outbox is shipped on the stream, one batch
 *     at a time, and marked shipped only after the hub acknowledged that it committed them
 *     (at-least-once; the hub dedupes by event id). Otherwise Kafka carries them;
 *   - the hub pushes topology versions (validated with the shared topology rules, checked
 *     against the site's queues by `onTopology`, stored, then acted on by `onAdopted` and
 *     acknowledged; the ack of a refused one says why, and nothing of it is acted on: a
 *     version whose save fails is refused like one that does not fit), customer changes
 *     (cached with the cursor in one transaction, so a restart resumes the feed exactly),
 *     drain state, and the cover entries active for this site (`CoverState`: those it is
 *     served by or covers under, docs/architecture.md §5.8).
 *     The cover set is kept in memory only: the last one heard is kept while the link is
 *     down but marked stale (cover needs the hub to route anyway, and the hub sends the
 *     current set after every Welcome); a restarted site knows none until the hub says;
 *   - the overflow protocol's envelopes (docs/architecture.md §5.9), both ways, only while the
 *     hub's Welcome announced `overflow`: `sendOverflow` writes one, and those the hub relays go
 *     to the handler the runtime registers (`onOverflow`) on arrival, not behind the database
 *     work of earlier hub messages, checked first with `fromEnvelope`
 *     (a malformed one is logged once with the hub's id and dropped). When the stream is lost
 *     the handler hears `linkDown` once: no message of a request in flight can arrive on a new
 *     stream that the machines could still use, so each machine decides what that means.
 *
 * The link's state is the pure machine in link-state.ts; this class only carries out its
 * commands. Each dial opens a fresh gRPC channel (with its own subchannel): a channel that
 * failed to connect stays in grpc-js's TRANSIENT_FAILURE with a reconnect backoff of its own
 * (up to seconds), and a stream opened on it in that time fails at once with the previous
 * connection's error, even when the hub is back; a half-open connection would take the next
 * stream down with it as well. When the hub is unreachable every RPC fails fast with 'unavailable' and the site
 * keeps working on its own; events wait in the outbox and go out when the link is back.
 *
 * Two hubs (docs/architecture.md §6.6): the site holds an ordered list of hub addresses. A
 * dial that fails, or that a standby refuses ("not leader", naming the leader in the
 * `x-hub-leader` trailer), is followed by a dial of the leader it named when that address is
 * in the list, else of the next address (shared/federation/hub-failover.ts), with the same
 * backoff as any failed dial. A link whose stream ended redials the same hub first (a restart
 * is over in well under a second); a hub gone silent, or a dial with no welcome in time, moves
 * on to the next one (a hung hub). Every hub dialled must pass the same mTLS check.
 */
import { randomUUID } from 'node:crypto';
import { Metadata, type ClientDuplexStream } from '@grpc/grpc-js';
import {
  FederationClient,
  LookupKey,
  type Event as PbEvent,
  type HubMessage,
  type SiteMessage,
} from '../../proto/gen/federation.js';
import { validateCompiledTopology } from '../../shared/topology/compiled.js';
import type { Topology } from '../../shared/topology/schema.js';
import type { Clock } from '../../shared/clock.js';
import { customerFromProto, customerToProto } from '../../shared/domain/customer-proto.js';
import type { CustomerProfile } from '../../shared/domain/customer.js';
import { DomainError, isDomainError } from '../../shared/errors.js';
import {
  countUnshipped,
  markShippedSeqs,
  readUnshipped,
  type OutboxRow,
} from '../../shared/events/outbox.js';
import { CAPABILITIES, CONTRACT_VERSION, softwareVersion } from '../../shared/federation/contract.js';
import { batchPrefix, MAX_BATCH_BYTES, MAX_BATCH_EVENTS } from '../../shared/federation/event-batch.js';
import { eventToProto } from '../../shared/federation/event-proto.js';
import { DEFAULT_DOWN_AFTER_MS, DEFAULT_SUSPECT_AFTER_MS } from '../../shared/federation/liveness.js';
import { call, clientOptions } from '../../shared/grpc/client.js';
import { leaderHintOf, nextHubAddress } from '../../shared/federation/hub-failover.js';
import { mtlsClientCredentials, tlsTargetOptions, type TlsMaterial } from '../../shared/grpc/tls.js';
import { silentLogger, type Logger } from '../../shared/log.js';
import { withTransaction } from '../../shared/pg/transaction.js';
import type { StoreContext } from '../store/context.js';
import { upsertCustomerTx } from '../store/customers-repo.js';
import {
  initialSiteLink,
  siteLinkStep,
  type SiteLinkCommand,
  type SiteLinkEvent,
  type SiteLinkMachine,
  type SiteLinkOptions,
  type SiteLinkState,
} from './link-state.js';
import {
  advanceCustomerCursor,
  readLinkMemory,
  saveDrained,
  saveTopology,
  type LinkMemory,
} from './link-store.js';
import type { CustomerKey, HubLink, ReadPurpose, RemoteCustomer } from './port.js';
import { snapshotToProto, type LinkSnapshotSource } from './snapshot-mapping.js';
import type { OverflowMessage } from '../overflow/messages.js';
import { fromEnvelope, toEnvelope } from '../overflow/wire.js';

export interface GrpcHubLinkOptions {
  siteId: string;
  /** The hubs' `host:port`, in order of preference (one for a province with one hub). */
  addresses: readonly string[];
  tls: TlsMaterial;
  /**
   * The hub's id in its certificate (spiffe://province/hub/<id>), or the ids of the leader and
   * the standby; default: any hub.
   */
  hubId?: string | readonly string[];
  store: StoreContext;
  clock: Clock;
  log?: Logger;
  /** The site's live state for snapshots; none = no snapshots. */
  snapshot?: () => LinkSnapshotSource;
  /** Default 1000 ms. */
  snapshotIntervalMs?: number;
  /** Ship the outbox on the link (embedded mode). False when Kafka carries events. */
  eventsOverLink: boolean;
  /** The site's telephone area code (e.g. 023): local numbers of its own customers get it. */
  areaCode?: string | undefined;
  /**
   * The site's check of a pushed topology, before it is stored: throw to refuse it (the error
   * goes back in the ack). Only checks here: the version may still fail to be stored.
   */
  onTopology?: (topology: Topology, version: number) => void;
  /**
   * A version adopted: stored, and what `topology` returns now. What the site does with a
   * topology goes here, never in `onTopology`, so a version it did not adopt changes nothing.
   * An error is logged; the version stays adopted (it is stored and running).
   */
  onAdopted?: (topology: Topology, version: number) => void;
  onDrain?: (drained: boolean, reason: string) => void;
  /**
   * The cover entries the hub says are active for this site changed, or went stale (the
   * stream was lost) or fresh again (the hub said, after a Welcome). See `cover`.
   */
  onCover?: (cover: CoverView) => void;
  /** Called on every state change (status lines, tests). */
  onState?: (state: SiteLinkState, machine: SiteLinkMachine) => void;
  /**
   * Reconnect backoff after a failed dial (the first redial after a link that was up is
   * immediate). Defaults 100 ms .. 500 ms: a site rejoins a hub within half a second of its
   * return (a refused dial costs a TCP round trip; a hub that is up but refuses the site, a
   * handshake and a Hello).
   */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** Until the hub's welcome says otherwise. Default 100 ms. */
  heartbeatIntervalMs?: number;
  /** Silence from the hub after which the link is suspect, then down. Defaults 400 ms, 1.5 s. */
  suspectAfterMs?: number;
  downAfterMs?: number;
  /** Most events per batch on the link. Default MAX_BATCH_EVENTS, the most the hub takes. */
  batchSize?: number;
  /** Most encoded bytes per batch (at least one event goes). Default MAX_BATCH_BYTES. */
  batchBytes?: number;
  /** Unary RPC deadline. Default 2000 ms. */
  rpcDeadlineMs?: number;
  /** How long to wait for a batch's ack before treating the link as broken. Default 10 s. */
  ackTimeoutMs?: number;
  /** Extra grpc-js channel options (tests). */
  channelOptions?: Record<string, string | number>;
}

/** How often the outbox backlog the heartbeats carry is read again. */
const BACKLOG_EVERY_MS = 1000;

interface PreparedBatch {
  rows: OutboxRow[];
  events: PbEvent[];
  full: boolean;
}

interface PendingAck {
  resolve: (r: { accepted: number; duplicates: number }) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

const KEY_TO_PB: Record<CustomerKey, LookupKey> = {
  phone: LookupKey.LOOKUP_KEY_PHONE,
  card: LookupKey.LOOKUP_KEY_CARD,
  'customer-id': LookupKey.LOOKUP_KEY_CUSTOMER_ID,
};

/**
 * A pushed version's JSON, checked with the shared topology rules the hub's file was checked
 * with: the hub is not trusted to have sent a valid topology. The error, one line, names
 * every problem by its path; it goes back to the hub in the ack (`fedctl status` shows it).
 */
function pushedTopology(version: number, json: Buffer): Topology {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json.toString('utf8'));
  } catch (e) {
    throw new Error(`topology version ${version} is not JSON: ${(e as Error).message}`, { cause: e });
  }
  try {
    return validateCompiledTopology(parsed);
  } catch (e) {
    if (!isDomainError(e, 'invalid-argument')) throw e;
    // One line for the ack and `fedctl status`: "N problems: a; b".
    const problems = e.problems ?? [e.message];
    const reason = problems.length > 1 ? `${problems.length} problems: ${problems.join('; ')}` : problems[0];
    throw new Error(`topology version ${version} does not validate: ${reason}`, { cause: e });
  }
}

/** Who the runtime's overflow adapters are on the link (`GrpcHubLink.onOverflow`). */
export interface OverflowLinkHandler {
  /** A relayed message, checked (wire.ts `fromEnvelope`). */
  message(m: OverflowMessage): void;
  /** The stream carrying overflow was lost (said once per stream). */
  linkDown(): void;
}

/** The cover entries active for this site as the hub last said (topology ids, its order). */
export interface CoverView {
  activeEntryIds: readonly string[];
  /** True until the hub has said on the current stream: the set may have changed meanwhile. */
  stale: boolean;
}

export class GrpcHubLink implements HubLink {
  readonly siteId: string;
  /** The hub dialled now (one of the configured addresses). */
  private address: string;
  private client: FederationClient;
  private readonly log: Logger;
  private readonly linkOpts: SiteLinkOptions;
  private machine: SiteLinkMachine;
  private stream: ClientDuplexStream<SiteMessage, HubMessage> | undefined;
  private memory: LinkMemory = { topologyVersion: 0, topology: null, customerCursor: 0, drained: false };
  private running = false;
  private redialTimer: NodeJS.Timeout | undefined;
  private tickTimer: NodeJS.Timeout | undefined;
  private heartbeatSeq = 0;
  private lastHeartbeatMs = 0;
  /** The outbox backlog the heartbeats report, refreshed at most every BACKLOG_EVERY_MS. */
  private backlog = 0;
  private backlogReadMs = 0;
  private backlogReading = false;
  private lastSnapshotMs = 0;
  private readonly pendingAcks = new Map<string, PendingAck>();
  private inbound: Promise<void> = Promise.resolve();
  private pump: Promise<void> | undefined;
  private pumpWake: (() => void) | undefined;
  /** Counters for status lines and tests. */
  readonly stats = { eventsShipped: 0, duplicates: 0, batchesRefused: 0, customerChanges: 0, topologies: 0 };
  drained = false;
  private coverIds: readonly string[] = [];
  /** A CoverState arrived on the current stream. */
  private coverFresh = false;
  /** The current stream's Welcome announced `overflow` (cleared when the stream is lost). */
  private overflowUp = false;
  private overflowHandler: OverflowLinkHandler | undefined;
  /** The hub that welcomed the current (or last) stream, for log lines about what it sent. */
  private hubId = '';

  constructor(private readonly o: GrpcHubLinkOptions) {
    this.siteId = o.siteId;
    if (o.addresses.length === 0) throw new RangeError('GrpcHubLink: no hub address');
    this.address = nextHubAddress(o.addresses, undefined);
    this.log = o.log ?? silentLogger;
    this.linkOpts = {
      minBackoffMs: o.minBackoffMs ?? 100,
      maxBackoffMs: o.maxBackoffMs ?? 500,
      heartbeatIntervalMs: o.heartbeatIntervalMs ?? 100,
      suspectAfterMs: o.suspectAfterMs ?? DEFAULT_SUSPECT_AFTER_MS,
      downAfterMs: o.downAfterMs ?? DEFAULT_DOWN_AFTER_MS,
    };
    this.machine = initialSiteLink(this.linkOpts, o.clock.now());
    this.client = this.newClient();
  }

  /** A channel of its own (see the header): the subchannel is not shared with older ones. */
  private newClient(): FederationClient {
    const o = this.o;
    return new FederationClient(
      this.address,
      mtlsClientCredentials(o.tls, {
        expectServer: { kind: 'hub', ...(o.hubId === undefined ? {} : { id: o.hubId }) },
      }),
      clientOptions({
        ...tlsTargetOptions(this.address),
        'grpc.use_local_subchannel_pool': 1,
        'grpc.initial_reconnect_backoff_ms': 200,
        'grpc.max_reconnect_backoff_ms': 5000,
        ...o.channelOptions,
      }),
    );
  }

  get state(): SiteLinkState {
    return this.machine.state;
  }

  /** The hub address dialled now (status lines, tests). */
  get hubAddress(): string {
    return this.address;
  }

  get status(): SiteLinkMachine {
    return this.machine;
  }

  /** The topology version the site runs (0 = none yet). */
  get topologyVersion(): number {
    return this.memory.topologyVersion;
  }

  get topology(): Topology | null {
    return this.memory.topology;
  }

  /** The cover entries active for this site, as the hub last said (see the header). */
  get cover(): CoverView {
    return { activeEntryIds: this.coverIds, stale: !this.coverFresh };
  }

  /** The runtime's overflow adapters (docs/architecture.md §5.9); one handler per link. */
  onOverflow(handler: OverflowLinkHandler): void {
    this.overflowHandler = handler;
  }

  /** Overflow messages can be sent now: the stream is open and its hub speaks `overflow`. */
  get overflowReady(): boolean {
    return this.overflowUp && this.isOpen() && this.state !== 'connecting' && this.state !== 'down';
  }

  /**
   * Send one overflow message to the hub. False when it cannot go (see `overflowReady`): the
   * caller treats that as the link being down for its request.
   */
  sendOverflow(m: OverflowMessage): boolean {
    if (!this.overflowReady) return false;
    return this.send({ body: { $case: 'overflow', value: toEnvelope(m) } });
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.memory = await readLinkMemory(this.o.store.pool);
    if (this.memory.forgotten !== undefined) {
      this.log.warn('stored topology no longer validates; the hub will push its current one', {
        why: this.memory.forgotten,
      });
    }
    this.drained = this.memory.drained;
    // Often enough to send heartbeats on time and to notice silence within a tenth of the
    // suspect threshold (25 ms on the defaults); never faster than every 20 ms.
    const every = Math.max(
      20,
      Math.min(
        500,
        Math.floor(this.linkOpts.heartbeatIntervalMs / 4),
        Math.floor(this.linkOpts.suspectAfterMs / 10),
      ),
    );
    // After the messages already waiting in the socket are read (setImmediate): after a stall of
    // this process, Node runs expired timers before it reads sockets, and a hub that kept
    // talking would be called silent.
    this.tickTimer = setInterval(() => setImmediate(() => this.running && this.onTick()), every);
    this.fire({ kind: 'dial' });
  }

  /**
   * Stop: ship what the outbox holds if the link is up (bounded by `flushMs`), then close the
   * stream. Whatever is not shipped stays in the outbox for the next start.
   */
  async stop(flushMs = 3000): Promise<void> {
    if (!this.running) return;
    if (this.o.eventsOverLink && (this.state === 'up' || this.state === 'resyncing')) {
      const deadline = Date.now() + flushMs;
      while (Date.now() < deadline && this.isOpen()) {
        if ((await countUnshipped(this.o.store.pool)) === 0) break;
        this.wakePump();
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    this.running = false;
    clearInterval(this.tickTimer);
    clearTimeout(this.redialTimer);
    this.closeStream('site stopping');
    this.wakePump();
    await this.pump;
    await this.inbound;
    this.client.close();
  }

  // ---- the machine ---------------------------------------------------------------------

  private fire(e: SiteLinkEvent): void {
    const before = this.machine.state;
    const step = siteLinkStep(this.machine, e, this.o.clock.now(), this.linkOpts);
    this.machine = step.machine;
    // A hub gone silent (the link down on missed heartbeats) or a dial the machine gave up on
    // (no welcome in time): that hub is likely hung, so the next one, as for a refused dial. A
    // stream that ENDS (a restart, a crash) redials the same hub first (chooseNextHub).
    if (e.kind === 'tick' && before !== 'down' && this.machine.state === 'down') {
      this.chooseNextHub(false, undefined);
    }
    for (const c of step.commands) this.run(c);
    if (this.machine.state !== before) {
      this.log.info('hub link', {
        state: this.machine.state,
        from: before,
        ...(this.machine.lastError && this.machine.state === 'down'
          ? { reason: this.machine.lastError }
          : {}),
      });
      this.o.onState?.(this.machine.state, this.machine);
    }
  }

  private run(c: SiteLinkCommand): void {
    switch (c.kind) {
      case 'open-stream':
        this.openStream();
        return;
      case 'close-stream':
        this.closeStream(c.reason);
        return;
      case 'redial-at':
        if (!this.running) return;
        clearTimeout(this.redialTimer);
        this.redialTimer = setTimeout(
          () => this.fire({ kind: 'dial' }),
          Math.max(0, c.atMs - this.o.clock.now()),
        );
        return;
    }
  }

  private onTick(): void {
    this.fire({ kind: 'tick' });
    if (!this.isOpen() || this.state === 'connecting') return;
    const now = this.o.clock.now();
    if (now - this.lastHeartbeatMs >= this.machine.heartbeatIntervalMs) {
      this.lastHeartbeatMs = now;
      // Sent now with the last backlog read, not after a database read: a busy database must
      // not delay the heartbeat past the hub's suspect threshold.
      this.send({
        body: {
          $case: 'heartbeat',
          value: { seq: ++this.heartbeatSeq, sentAtMs: now, outboxBacklog: this.backlog },
        },
      });
      if (!this.backlogReading && now - this.backlogReadMs >= BACKLOG_EVERY_MS) {
        this.backlogReading = true;
        this.backlogReadMs = now;
        void countUnshipped(this.o.store.pool)
          .then((n) => (this.backlog = n))
          .catch(() => undefined)
          .finally(() => (this.backlogReading = false));
      }
    }
    const snapEvery = this.o.snapshotIntervalMs ?? 1000;
    if (this.o.snapshot && now - this.lastSnapshotMs >= snapEvery) {
      this.lastSnapshotMs = now;
      try {
        this.send({ body: { $case: 'snapshot', value: snapshotToProto(this.o.snapshot()) } });
      } catch (e) {
        this.log.warn('snapshot failed', { err: e });
      }
    }
  }

  // ---- the stream ----------------------------------------------------------------------

  private isOpen(): boolean {
    return this.stream !== undefined;
  }

  private send(m: SiteMessage): boolean {
    const s = this.stream;
    if (!s) return false;
    s.write(m);
    return true;
  }

  private openStream(): void {
    if (this.machine.dials > 1) {
      this.client.close();
      this.client = this.newClient();
    }
    const s = this.client.link(new Metadata(), {});
    this.stream = s;
    let welcomed = false;
    s.on('data', (m: HubMessage) => {
      if (this.stream !== s) return;
      if (m.body?.$case === 'welcome') welcomed = true;
      // Liveness on arrival, not after the messages queued before it are handled (a customer
      // change or a topology takes a database transaction).
      if (m.body?.$case !== 'welcome') this.fire({ kind: 'heard' });
      // Relayed overflow envelopes too: a commit held behind a directory import would outlive
      // its hold (docs/architecture.md §5.9). Handled synchronously here, so they keep their
      // order among themselves.
      if (m.body?.$case === 'overflow') {
        try {
          this.applyOverflow(m.body.value);
        } catch (e) {
          this.log.warn('hub message failed', { err: e, kind: 'overflow' });
        }
        return;
      }
      this.inbound = this.inbound
        .then(() => this.onHubMessage(m))
        .catch((e: unknown) => this.log.warn('hub message failed', { err: e, kind: m.body?.$case }));
    });
    const lost = (why: string, err?: unknown) => {
      if (this.stream !== s) return;
      this.stream = undefined;
      this.failAcks(why);
      this.coverStale();
      this.overflowDown();
      this.chooseNextHub(welcomed, err);
      this.fire({ kind: 'lost', reason: why });
    };
    s.on('error', (e: Error & { details?: string }) => lost(e.details || e.message, e));
    s.on('end', () => lost('the hub ended the link'));
    s.on('close', () => lost('the link closed'));
    this.send({
      body: {
        $case: 'hello',
        value: {
          siteId: this.siteId,
          softwareVersion: softwareVersion(),
          contractVersion: CONTRACT_VERSION,
          capabilities: CAPABILITIES.filter((c) => c !== 'events-over-link' || this.o.eventsOverLink),
          topologyVersion: this.memory.topologyVersion,
          customerCursor: this.memory.customerCursor,
          sentAtMs: this.o.clock.now(),
        },
      },
    });
  }

  /**
   * After a stream ended: the hub to dial next. A refusal naming the leader goes there (if it
   * is listed); a link that was up redials the same hub; a failed dial tries the next one.
   */
  private chooseNextHub(welcomed: boolean, err: unknown): void {
    const hint = leaderHintOf(err);
    if (welcomed && hint === undefined) return;
    const next = nextHubAddress(this.o.addresses, this.address, hint);
    if (next === this.address) return;
    this.log.info('hub link: trying another hub', {
      from: this.address,
      to: next,
      ...(hint === undefined ? {} : { leader: hint }),
    });
    this.address = next;
  }

  private closeStream(reason: string): void {
    const s = this.stream;
    this.stream = undefined;
    this.failAcks(reason);
    this.coverStale();
    this.overflowDown();
    if (s) {
      s.cancel();
      s.removeAllListeners('data');
    }
  }

  private async onHubMessage(m: HubMessage): Promise<void> {
    const b = m.body;
    if (b?.$case === 'welcome') {
      this.fire({ kind: 'welcome', heartbeatIntervalMs: b.value.heartbeatIntervalMs });
      this.lastHeartbeatMs = 0;
      this.lastSnapshotMs = 0;
      this.hubId = b.value.hubId;
      this.overflowUp = b.value.capabilities.includes('overflow');
      await this.applyDrain(b.value.drained, '');
      this.log.info('hub welcome', {
        hubId: b.value.hubId,
        hubVersion: b.value.softwareVersion,
        contract: b.value.contractVersion,
        capabilities: b.value.capabilities,
        topologyVersion: b.value.topologyVersion,
      });
      if (this.o.eventsOverLink) this.startPump();
      else this.fire({ kind: 'caught-up' });
      return;
    }
    switch (b?.$case) {
      case 'heartbeatAck':
        return;
      case 'eventsAck': {
        const p = this.pendingAcks.get(b.value.batchId);
        if (!p) return;
        this.pendingAcks.delete(b.value.batchId);
        clearTimeout(p.timer);
        if (b.value.error)
          p.reject(new DomainError('failed-precondition', `hub refused the batch: ${b.value.error}`));
        else p.resolve({ accepted: b.value.accepted, duplicates: b.value.duplicates });
        return;
      }
      case 'topology':
        await this.applyTopology(b.value.version, b.value.topologyJson);
        return;
      case 'customerChanged': {
        const profile = customerFromProto(b.value.profile, 'customer_changed.profile');
        const cursor = b.value.cursor;
        await withTransaction(this.o.store.pool, async (c) => {
          await upsertCustomerTx(c, this.o.store, profile, undefined, { areaCode: this.o.areaCode });
          await advanceCustomerCursor(c, cursor);
        });
        this.memory.customerCursor = Math.max(this.memory.customerCursor, cursor);
        this.stats.customerChanges++;
        return;
      }
      case 'drain':
        await this.applyDrain(b.value.drained, b.value.reason);
        return;
      case 'cover':
        this.applyCover(b.value.activeEntryIds);
        return;
      case 'overflow':
        this.applyOverflow(b.value);
        return;
      default:
        return; // a newer hub's message: skipped (version tolerance)
    }
  }

  private async applyTopology(version: number, json: Buffer): Promise<void> {
    let error = '';
    let adopted: Topology | undefined;
    try {
      if (version <= 0) throw new Error(`version ${version} is not a version`);
      const topology = pushedTopology(version, json);
      if (!topology.sites.some((s) => s.id === this.siteId)) {
        throw new Error(`site ${this.siteId} is not in topology version ${version}`);
      }
      this.o.onTopology?.(topology, version);
      await saveTopology(this.o.store.pool, version, topology);
      this.memory.topologyVersion = version;
      this.memory.topology = topology;
      this.stats.topologies++;
      this.log.info('topology version adopted', { version });
      adopted = topology;
    } catch (e) {
      error = e instanceof Error ? e.message : String(e);
      this.log.warn('topology version refused; keeping the one running', {
        version,
        running: this.memory.topologyVersion,
        err: e,
      });
    }
    // Acted on only once stored: a save that fails leaves the site as it was. Before the ack,
    // so a hub that has the ack finds the site running the version.
    if (adopted) {
      try {
        this.o.onAdopted?.(adopted, version);
      } catch (e) {
        this.log.error('acting on an adopted topology version failed', { version, err: e });
      }
    }
    this.send({ body: { $case: 'topologyAck', value: { version, error } } });
  }

  /** The hub's word on this site's cover: logged once per change of the set. */
  private applyCover(ids: readonly string[]): void {
    const before = this.coverIds;
    const next = [...ids];
    const changed = next.length !== before.length || next.some((id, i) => id !== before[i]);
    const wasStale = !this.coverFresh;
    this.coverIds = next;
    this.coverFresh = true;
    if (changed) {
      this.log.info('cover state from the hub', {
        activeEntryIds: next,
        started: next.filter((id) => !before.includes(id)),
        ended: before.filter((id) => !next.includes(id)),
      });
    }
    if (changed || wasStale) this.o.onCover?.(this.cover);
  }

  /**
   * A relayed overflow envelope: checked, then handed to the runtime. The hub's own refusals
   * carry an empty sender and `byHub` (hub/overflow/relay-core.ts `hubRefuse`), which
   * `fromEnvelope` accepts on those alone.
   */
  private applyOverflow(envelope: unknown): void {
    const read = fromEnvelope(envelope);
    if (!read.ok) {
      this.log.warn('overflow message refused', {
        hubId: this.hubId,
        hubAddress: this.address,
        why: 'malformed envelope',
        field: read.field,
        problems: read.error,
      });
      return;
    }
    if (!this.overflowHandler) {
      this.log.warn('overflow message refused', {
        hubId: this.hubId,
        requestId: read.message.requestId,
        why: 'this site runs no overflow adapter',
      });
      return;
    }
    this.overflowHandler.message(read.message);
  }

  /** The stream that carried overflow is gone: the adapters hear it once. */
  private overflowDown(): void {
    if (!this.overflowUp) return;
    this.overflowUp = false;
    this.overflowHandler?.linkDown();
  }

  /** The stream is gone: the set is kept but can no longer be trusted to be current. */
  private coverStale(): void {
    if (!this.coverFresh) return;
    this.coverFresh = false;
    this.o.onCover?.(this.cover);
  }

  private async applyDrain(drained: boolean, reason: string): Promise<void> {
    if (drained === this.drained) return;
    this.drained = drained;
    await saveDrained(this.o.store.pool, drained);
    this.log.info(drained ? 'site drained by the hub' : 'site undrained by the hub', { reason });
    this.o.onDrain?.(drained, reason);
  }

  // ---- events on the link --------------------------------------------------------------

  private failAcks(reason: string): void {
    for (const [id, p] of this.pendingAcks) {
      clearTimeout(p.timer);
      p.reject(
        new DomainError('unavailable', `link lost before the hub acknowledged batch ${id}: ${reason}`),
      );
    }
    this.pendingAcks.clear();
  }

  /** Wake the event pump now (after a commit) instead of at its next poll. */
  wakePump(): void {
    const w = this.pumpWake;
    this.pumpWake = undefined;
    w?.();
  }

  private startPump(): void {
    if (this.pump) return;
    this.pump = this.pumpLoop().finally(() => {
      this.pump = undefined;
    });
  }

  /**
   * Ship the outbox in seq order, one batch in flight: the hub stores a stream's batches one at
   * a time in the order they come, so the site's order holds, and a refused batch is sent
   * again before anything after it. While the hub stores a batch, the next is read and encoded
   * and the one before is marked shipped, so a resync after an outage costs one hub round trip
   * per batch and nothing more (issue 9). Marks may run side by side (one slow on a loaded
   * database), so a read waits for all of them, never only the last: a batch acked but not yet
   * marked would be read as unshipped and sent again.
   */
  private async pumpLoop(): Promise<void> {
    const maxEvents = this.o.batchSize ?? MAX_BATCH_EVENTS;
    /** The batch after the one in flight, read ahead. */
    let next: Promise<PreparedBatch> | undefined;
    /** Every acknowledged batch being marked shipped, settled when all are (never rejects). */
    let marking: Promise<void> = Promise.resolve();
    while (this.running && this.isOpen()) {
      let shipped = 0;
      let full = false;
      try {
        // A read from the oldest waits for the marks, or it would read acked rows again.
        const batch = await (next ?? marking.then(() => this.prepareBatch(maxEvents, [])));
        next = undefined;
        full = batch.full;
        if (batch.rows.length > 0) {
          const acked = this.shipBatch(batch.events);
          if (full) {
            // After the previous batch's mark, leaving out this one's rows (not marked yet).
            const inFlight = batch.rows.map((e) => e.seq);
            next = marking.then(() => this.prepareBatch(maxEvents, inFlight));
            next.catch(() => undefined); // awaited next time round, or dropped on a failure
          }
          const r = await acked;
          const mark = markShippedSeqs(
            this.o.store.pool,
            batch.rows.map((e) => e.seq),
          ).then(
            () => undefined,
            // The hub has them; unmarked they go again and the hub counts them as duplicates.
            (e: unknown) => this.log.warn('marking events shipped failed; they will go again', { err: e }),
          );
          // Joined to the marks still running, not in place of them: the previous batch's mark
          // can outlast this batch's round trip, and a read after this mark alone would send
          // that batch again (seen under load as a whole batch arriving twice at the end).
          marking = Promise.all([marking, mark]).then(() => undefined);
          shipped = batch.rows.length;
          this.stats.eventsShipped += r.accepted;
          this.stats.duplicates += r.duplicates;
        }
      } catch (e) {
        next = undefined;
        this.stats.batchesRefused++;
        this.log.warn('shipping events to the hub failed; they stay in the outbox', { err: e });
        await this.sleep(1000);
        continue;
      }
      if (full) continue;
      if (this.state === 'resyncing') this.fire({ kind: 'caught-up' });
      if (shipped === 0) await this.sleep(250);
    }
    await marking;
  }

  /**
   * The next batch: the oldest unshipped rows but those in flight, as protobuf, cut to the byte
   * bound. `full` when more may be waiting (a whole read, or a cut one).
   */
  private async prepareBatch(maxEvents: number, inFlight: readonly number[]): Promise<PreparedBatch> {
    const rows = await readUnshipped(this.o.store.pool, maxEvents, inFlight);
    const events = rows.map(eventToProto);
    const n = batchPrefix(events, this.o.batchBytes ?? MAX_BATCH_BYTES);
    return {
      rows: n < rows.length ? rows.slice(0, n) : rows,
      events: n < events.length ? events.slice(0, n) : events,
      full: rows.length === maxEvents || n < rows.length,
    };
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.pumpWake = undefined;
        resolve();
      }, ms);
      this.pumpWake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  private shipBatch(events: PbEvent[]): Promise<{ accepted: number; duplicates: number }> {
    const batchId = randomUUID();
    return new Promise((resolve, reject) => {
      const timeoutMs = this.o.ackTimeoutMs ?? 10_000;
      const timer = setTimeout(() => {
        this.pendingAcks.delete(batchId);
        reject(new DomainError('deadline-exceeded', `no ack for batch ${batchId} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pendingAcks.set(batchId, { resolve, reject, timer });
      const sent = this.send({
        body: {
          $case: 'events',
          value: {
            batchId,
            events,
          },
        },
      });
      if (!sent) {
        clearTimeout(timer);
        this.pendingAcks.delete(batchId);
        reject(new DomainError('unavailable', 'hub link is not open'));
      }
    });
  }

  // ---- unary RPCs ----------------------------------------------------------------------

  private requireLink(what: string): void {
    if (this.state === 'down' || this.state === 'connecting') {
      throw new DomainError('unavailable', `${what}: the hub link is ${this.state}`);
    }
  }

  async lookupCustomer(
    key: CustomerKey,
    value: string,
    purpose: ReadPurpose,
  ): Promise<RemoteCustomer | undefined> {
    this.requireLink('customer lookup');
    const r = await call(
      this.client.lookupCustomer.bind(this.client),
      {
        siteId: this.siteId,
        key: KEY_TO_PB[key],
        value,
        purpose: {
          reason: purpose.reason,
          callId: purpose.callId ?? '',
          agentId: purpose.agentId ?? '',
          ivrSessionId: purpose.ivrSessionId ?? '',
        },
      },
      { deadlineMs: this.o.rpcDeadlineMs ?? 2000 },
    );
    if (!r.found) return undefined;
    return { profile: customerFromProto(r.profile, 'profile'), roaming: r.roaming };
  }

  async writeCustomer(
    profile: CustomerProfile,
    baseVersion: number,
    changedBy: string,
    reason: string,
  ): Promise<CustomerProfile> {
    this.requireLink('customer write');
    const r = await call(
      this.client.writeCustomer.bind(this.client),
      { siteId: this.siteId, profile: customerToProto(profile), baseVersion, changedBy, reason },
      { deadlineMs: this.o.rpcDeadlineMs ?? 2000 },
    );
    return customerFromProto(r.profile, 'profile');
  }
}
