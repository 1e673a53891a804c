/**
 * One site of the overflow benchmark (test/bench/overflow.ts) as its own process: a raw hub
 * link (like hub-ingest's simulated sites: Hello with contract 2 and the capabilities
 * `snapshots` and `overflow`, the topology acknowledged, a heartbeat every 500 ms, a snapshot
 * every 200 to 500 ms) running the REAL pure protocol machines of docs/architecture.md §5.9
 * over the real wire mapping (site-node/overflow/wire.ts):
 *
 * - as an origin, one `originStep` machine per call the driver asks about. The home queue is
 *   not simulated: `take-call` is answered `call-taken` at once (the call is always still
 *   waiting) and `return-call` does nothing;
 * - as a target, one `reservationStep` book, offered this site's own state (the ready agents
 *   of its last snapshot; the book itself counts the agents promised to held reservations).
 *   There is no ACD in the benchmark: `admit-call` is answered `admit-done` at once, and the
 *   admitted call takes one ready agent until the next snapshot draws new numbers.
 *
 *   node --import tsx test/bench/overflow-site.ts --site ID --hub HOST:PORT --echo HOST:PORT \
 *     --ca CA --cert CRT --key KEY
 *
 * Driven over stdin, one JSON line per command: `{"cmd":"ask","callId","policyId","to","measured"}`,
 * `{"cmd":"floor","measured"}` (two sequential round trips to the echo server, the floor),
 * `{"cmd":"report"}`. Answers on stdout, one JSON line each: the ready line once the hub
 * welcomed the link, `done` per request (its outcome and, on this site's clock, the times of
 * accept received, commit sent and commit-ack received after the request was sent),
 * `admitted` per call admitted here, `heartbeat` per heartbeat answered (its round trip through
 * the hub, which answers it on arrival: the link's own floor), `arrived` when an offer or a commit reached this target
 * (host clock, so the driver can split the path into its hops through the hub), `floor` per
 * pair of round trips, `report`.
 */
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { Metadata, type ClientDuplexStream } from '@grpc/grpc-js';
import {
  FederationClient,
  type HubMessage,
  type OverflowEnvelope,
  type SiteMessage,
} from '../../proto/gen/federation.js';
import { CONTRACT_VERSION } from '../../shared/federation/contract.js';
import { call, clientOptions } from '../../shared/grpc/client.js';
import { loadTlsMaterial, mtlsClientCredentials } from '../../shared/grpc/tls.js';
import type { OverflowMessage } from '../../site-node/overflow/messages.js';
import {
  DEFAULT_ORIGIN_OPTIONS,
  initialOrigin,
  originStep,
  type OriginCommand,
  type OriginEvent,
  type OriginMachine,
} from '../../site-node/overflow/origin.js';
import {
  DEFAULT_RESERVATION_OPTIONS,
  emptyBook,
  reservationStep,
  type ReservationCommand,
  type ReservationEvent,
} from '../../site-node/overflow/reservation.js';
import { fromEnvelope, toEnvelope } from '../../site-node/overflow/wire.js';
import { EchoClientCtor } from './echo-service.js';
import type { OriginOutcome } from './overflow-tally.js';
import { nowMs } from './stats.js';

/**
 * The machine's clock with sub-ms resolution, the same in every process of the run (they
 * share one host), so the driver can split a round trip into its hops through the hub.
 */
const hostMs = (): number => performance.timeOrigin + performance.now();

const BENCH_QUEUE = 'retail';
/** Agents logged in with the queue's skill at every bench site. */
const SERVING = 8;
const KEEP_ENDED_MS = 60_000;

const { values: a } = parseArgs({
  options: {
    site: { type: 'string' },
    hub: { type: 'string' },
    echo: { type: 'string' },
    ca: { type: 'string' },
    cert: { type: 'string' },
    key: { type: 'string' },
  },
});
const missing = (['site', 'hub', 'echo', 'ca', 'cert', 'key'] as const).filter((k) => !a[k]);
if (missing.length > 0) throw new Error(`overflow-site: missing --${missing.join(', --')}`);
const site = a.site!;
const tls = loadTlsMaterial({ caPath: a.ca!, certPath: a.cert!, keyPath: a.key! });
const creds = mtlsClientCredentials(tls, { expectServer: { kind: 'hub' } });
// SNI "localhost" (in every node certificate) rather than the IP we dial.
const channel = clientOptions({ 'grpc.ssl_target_name_override': 'localhost' });

const out = (line: object): void => void process.stdout.write(`${JSON.stringify(line)}\n`);
const int = (lo: number, hi: number): number => lo + Math.floor(Math.random() * (hi - lo + 1));

// ---- this site's own state (what its snapshot says and its book is offered) ---------------

let ready = 0;
let expectedWaitMs = 0;
/** New numbers every snapshot: the hub sees ready agents at some targets and not at others. */
function drawState(): void {
  ready = Math.random() < 0.3 ? 0 : int(1, 4);
  expectedWaitMs = int(5_000, 120_000);
}

// ---- the link -----------------------------------------------------------------------------

const client = new FederationClient(a.hub!, creds, channel);
const stream: ClientDuplexStream<SiteMessage, HubMessage> = client.link(new Metadata(), {});
let linkError: string | null = null;
let stopping = false;
let welcomed = false;

function write(m: SiteMessage): void {
  if (stopping || stream.writableEnded || stream.destroyed) return;
  stream.write(m);
}

const sendOverflow = (m: OverflowMessage): void =>
  write({ body: { $case: 'overflow', value: toEnvelope(m) } });

// ---- the origin: one machine per request ----------------------------------------------------

interface Attempt {
  m: OriginMachine;
  measured: boolean;
  t0: number | null;
  acceptMs: number | null;
  commitSentMs: number | null;
  ackMs: number | null;
  refusal: { reason: string; byHub: boolean } | null;
  ended: boolean;
}
const attempts = new Map<string, Attempt>();
const originTimers = new Map<string, NodeJS.Timeout>();

function originEvent(x: Attempt, e: OriginEvent): void {
  const before = x.m.state;
  const step = originStep(x.m, e, Date.now(), DEFAULT_ORIGIN_OPTIONS);
  x.m = step.machine;
  if (before === 'asked' && x.m.state === 'accepted') x.acceptMs = hostMs() - x.t0!;
  if (e.type === 'message' && e.message.kind === 'refuse' && x.m.state === 'home' && before !== 'home') {
    x.refusal = { reason: e.message.reason, byHub: e.message.byHub };
  }
  for (const c of step.commands) originCommand(x, c);
  if (!x.ended && (x.m.state === 'moved' || x.m.state === 'home')) {
    x.ended = true;
    if (x.m.state === 'moved') x.ackMs = hostMs() - x.t0!;
    const outcome: OriginOutcome = {
      requestId: x.m.requestId!,
      callId: x.m.callId,
      originSiteId: site,
      state: x.m.state,
      homeReason: x.m.homeReason,
      refusal: x.refusal,
      toSiteId: x.m.state === 'moved' ? x.m.toSiteId : null,
      token: x.m.state === 'moved' ? x.m.token : null,
    };
    out({
      e: 'done',
      ...outcome,
      measured: x.measured,
      sentAtMs: x.t0,
      ms: { accept: x.acceptMs, commitSent: x.commitSentMs, ack: x.ackMs },
    });
    // Kept a while: a late accept of an ended request is still answered with a cancel.
    setTimeout(() => attempts.delete(x.m.requestId!), KEEP_ENDED_MS).unref();
  }
}

function originCommand(x: Attempt, c: OriginCommand): void {
  switch (c.type) {
    case 'send':
      if (c.message.kind === 'request') x.t0 = hostMs();
      if (c.message.kind === 'commit' && x.commitSentMs === null) x.commitSentMs = hostMs() - x.t0!;
      sendOverflow(c.message);
      return;
    case 'take-call':
      // No home queue in the benchmark: the call is always still waiting (header).
      originEvent(x, { type: 'call-taken', requestId: c.requestId, queueId: BENCH_QUEUE, queueMoves: 0 });
      return;
    case 'record-commit':
      // No store in the benchmark either: the move counts as recorded at once (the protocol's
      // messages are what it measures; the record's cost is the site's store, §7.1).
      originEvent(x, { type: 'commit-recorded', requestId: c.requestId });
      return;
    case 'return-call':
    case 'call-moved':
      return; // the outcome is reported from the machine's state
    case 'alarm':
      process.stderr.write(`${site}: target silent with a call in transit: ${JSON.stringify(c)}\n`);
      return;
    case 'start-timer': {
      clearTimeout(originTimers.get(c.id));
      const id = c.id;
      originTimers.set(
        id,
        setTimeout(
          () => {
            originTimers.delete(id);
            originEvent(x, { type: 'timer-fired', id });
          },
          Math.max(0, c.atMs - Date.now()),
        ),
      );
      return;
    }
    case 'cancel-timer':
      clearTimeout(originTimers.get(c.id));
      originTimers.delete(c.id);
      return;
  }
}

function ask(callId: string, policyId: string, to: readonly string[], measured: boolean): void {
  const now = Date.now();
  const x: Attempt = {
    m: initialOrigin(site, callId, BENCH_QUEUE, now),
    measured,
    t0: null,
    acceptMs: null,
    commitSentMs: null,
    ackMs: null,
    refusal: null,
    ended: false,
  };
  attempts.set(`${callId}#1`, x);
  const waitedMs = int(30_000, 90_000);
  originEvent(x, {
    type: 'ask',
    queueId: BENCH_QUEUE,
    queueMoves: 0,
    targetSiteIds: to,
    priority: 0,
    waitedMs,
    remainingPatienceMs: 60_000,
    visitedSiteIds: [site],
    hops: 0,
    policyId,
    coverEntryId: null,
    callAgeMs: waitedMs + 15_000,
    ani: `+86138${String(int(0, 99_999_999)).padStart(8, '0')}`,
    dnis: '95588',
    customerId: `${site}-cust-${int(1, 100_000)}`,
    customerHomeSiteId: site,
    ivrPath: ['welcome', 'retail'],
    attached: { intent: 'balance' },
  });
}

// ---- the target: one reservation book ---------------------------------------------------------

let book = emptyBook(site);
const bookTimers = new Map<string, NodeJS.Timeout>();

function bookEvent(e: ReservationEvent): void {
  const step = reservationStep(book, e, Date.now(), DEFAULT_RESERVATION_OPTIONS);
  book = step.book;
  for (const c of step.commands) bookCommand(c);
}

function bookCommand(c: ReservationCommand): void {
  switch (c.type) {
    case 'send':
      sendOverflow(c.message);
      return;
    case 'admit-call':
      // No ACD in the benchmark (header): admitted at once; the call takes a ready agent.
      ready = Math.max(0, ready - 1);
      out({
        e: 'admitted',
        siteId: site,
        token: c.token,
        requestId: c.row.requestId,
        callId: c.callId,
        fromSiteId: c.fromSiteId,
      });
      bookEvent({ type: 'admit-done', token: c.token });
      return;
    case 'end-admitted':
      return;
    case 'start-timer': {
      clearTimeout(bookTimers.get(c.id));
      const id = c.id;
      bookTimers.set(
        id,
        setTimeout(
          () => {
            bookTimers.delete(id);
            bookEvent({ type: 'timer-fired', id });
          },
          Math.max(0, c.atMs - Date.now()),
        ),
      );
      return;
    }
    case 'cancel-timer':
      clearTimeout(bookTimers.get(c.id));
      bookTimers.delete(c.id);
      return;
  }
}

// ---- messages from the hub -----------------------------------------------------------------

function onOverflow(env: OverflowEnvelope): void {
  const r = fromEnvelope(env);
  if (!r.ok) {
    process.stderr.write(`${site}: bad envelope from the hub: ${r.error}\n`);
    return;
  }
  const m = r.message;
  // When the offer and the commit reached this target (it answers both in the same tick).
  if (m.kind === 'request' || m.kind === 'commit') {
    out({ e: 'arrived', kind: m.kind, requestId: m.requestId, atMs: hostMs() });
  }
  switch (m.kind) {
    case 'request':
      bookEvent({
        type: 'offer',
        request: m,
        token: randomUUID(),
        local: {
          offersQueue: m.queueId === BENCH_QUEUE,
          agentsReady: ready,
          agentsServing: SERVING,
          expectedWaitMs,
          // The bench's requests are overflow requests (by-wait): this figure is never read.
          expectedWaitBelowOwnMs: expectedWaitMs,
          maxWaitMs: null,
        },
      });
      return;
    case 'commit':
    case 'cancel':
    case 'caller-left':
      bookEvent({ type: 'message', message: m });
      return;
    case 'accept':
    case 'refuse':
    case 'commit-ack': {
      const x = attempts.get(m.requestId);
      if (x) originEvent(x, { type: 'message', message: m });
      return;
    }
  }
}

stream.on('data', (msg: HubMessage) => {
  const b = msg.body;
  switch (b?.$case) {
    case 'welcome':
      if (!welcomed) {
        welcomed = true;
        out({ event: 'ready', port: 0, pid: process.pid });
      }
      return;
    case 'heartbeatAck': {
      const t = heartbeatsSent.get(b.value.seq);
      heartbeatsSent.delete(b.value.seq);
      if (t !== undefined) out({ e: 'heartbeat', ms: nowMs() - t });
      return;
    }
    case 'topology':
      write({ body: { $case: 'topologyAck', value: { version: b.value.version, error: '' } } });
      return;
    case 'overflow':
      onOverflow(b.value);
      return;
    default:
      return;
  }
});
const linkDown = (why: string): void => {
  if (stopping) return;
  linkError ??= why;
  process.stderr.write(`${site}: hub link lost: ${why}\n`);
  for (const x of attempts.values()) if (!x.ended) originEvent(x, { type: 'link-down' });
};
stream.on('error', (e: Error) => linkDown(e.message));
stream.on('end', () => linkDown('hub ended the stream'));

write({
  body: {
    $case: 'hello',
    value: {
      siteId: site,
      softwareVersion: 'bench',
      contractVersion: CONTRACT_VERSION,
      capabilities: ['snapshots', 'overflow'],
      topologyVersion: 0,
      customerCursor: 0,
      sentAtMs: Date.now(),
    },
  },
});

let seq = 0;
/** Heartbeats in flight: the hub answers one as it arrives, before any other work (a probe). */
const heartbeatsSent = new Map<number, number>();
const heartbeat = setInterval(() => {
  heartbeatsSent.set(++seq, nowMs());
  write({ body: { $case: 'heartbeat', value: { seq, sentAtMs: Date.now(), outboxBacklog: 0 } } });
}, 500);
let snapshotTimer: NodeJS.Timeout | undefined;
function snapshot(): void {
  drawState();
  write({
    body: {
      $case: 'snapshot',
      value: {
        atMs: Date.now(),
        queues: [
          {
            queueId: BENCH_QUEUE,
            callsWaiting: int(0, 12),
            oldestWaitMs: int(0, 90_000),
            agentsReady: ready,
            agentsServing: SERVING,
            expectedWaitMs,
            serviceLevel: 0.8,
            averageSpeedOfAnswerMs: 20_000,
            abandonRate: 0.05,
          },
        ],
        agents: [
          { state: 'ready', count: ready },
          { state: 'busy', count: SERVING - ready },
        ],
        liveCalls: SERVING,
        ivrSessions: 0,
      },
    },
  });
  snapshotTimer = setTimeout(snapshot, int(200, 500));
}
snapshot();
const sweep = setInterval(() => bookEvent({ type: 'sweep' }), 10_000);

// ---- the floor: two sequential round trips to the echo server --------------------------------

const echo = new EchoClientCtor(a.echo!, creds, channel);
async function floor(measured: boolean): Promise<void> {
  const req = {
    siteId: site,
    value: 'overflow-floor',
    purpose: { reason: 'bench', callId: '', ivrSessionId: '' },
  };
  const t0 = nowMs();
  await call(echo.echo.bind(echo), req, { deadlineMs: 5_000 });
  const t1 = nowMs();
  await call(echo.echo.bind(echo), req, { deadlineMs: 5_000 });
  const t2 = nowMs();
  out({ e: 'floor', measured, ms: [t1 - t0, t2 - t1] });
}

// ---- the driver's commands ---------------------------------------------------------------------

createInterface({ input: process.stdin }).on('line', (line) => {
  const c = JSON.parse(line) as {
    cmd: string;
    callId?: string;
    policyId?: string;
    to?: string[];
    measured?: boolean;
  };
  switch (c.cmd) {
    case 'ask':
      ask(c.callId!, c.policyId!, c.to!, c.measured === true);
      return;
    case 'floor':
      floor(c.measured === true).catch((e: unknown) =>
        out({ e: 'floor-failed', error: e instanceof Error ? e.message : String(e) }),
      );
      return;
    case 'report':
      out({
        e: 'report',
        inFlight: [...attempts.values()].filter((x) => !x.ended).map((x) => x.m.requestId),
        held: [...book.byToken.values()].filter((r) => r.status === 'held').length,
        linkError,
      });
      return;
  }
});

const stop = (): void => {
  stopping = true;
  clearInterval(heartbeat);
  clearInterval(sweep);
  clearTimeout(snapshotTimer);
  stream.end();
  stream.cancel();
  client.close();
  echo.close();
  process.exit(0);
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
