/**
 * The site's view of its link to the hub (pure, docs/architecture.md §3.1 and §6). The adapter
 * (hub-link.ts) feeds it events and carries out its commands; the machine never touches a
 * socket or a clock.
 *
 *          dial                 welcome                 caught up
 *   down ---------> connecting ---------> resyncing ---------------> up
 *    ^   (redial)       |                     |                      |  ^
 *    |                  | failed              | lost                 |  | heard twice
 *    +------------------+---------------------+      silent for      |  |
 *    |                                                 suspectAfter  v  |
 *    +------------------------- lost / silent for downAfter ------ suspect
 *
 * - `resyncing`: the stream is open; the site is replaying its outbox and catching up the
 *   customer feed. Routing decisions that need fresh hub state wait for `up`.
 * - `suspect` (hysteresis): a silence of `suspectAfterMs` (default 400 ms, at least 3
 *   heartbeat intervals so one missed ack never counts) marks the link suspect; only a broken
 *   stream or a silence of `downAfterMs` takes it down. Back to `up` takes two messages from
 *   the hub, so one late ack arriving after the threshold does not flip the link back and
 *   forth: the link flows again only when a second message follows it.
 * - The thresholds are the site's own (its config's `hub:` section) but never shorter than 3
 *   and 10 of the heartbeat intervals the hub asks for: a hub that wants slow heartbeats is
 *   not called silent between two of them.
 * - Redial: the first redial after a link that had been welcomed and stayed open for at least
 *   `minBackoffMs` is immediate (a hub restart is over in well under a second; waiting first
 *   only adds to the outage) and resets the backoff. Failed dials then back off, doubling from
 *   `minBackoffMs` to `maxBackoffMs`. A link dropped sooner than `minBackoffMs` after its
 *   welcome (say, two sites with one id replacing each other) backs off as a failed dial: it
 *   redials after the backoff, which goes on doubling (a welcome alone does not reset it), so
 *   such a pair cannot spin.
 * - A dial that gets no welcome within `downAfterMs` fails like any dial (its stream is
 *   closed): a hub that hangs mid-handshake (stopped, swapping) would otherwise hold the site
 *   in `connecting` for as long as it hangs, and with two hubs the site must move on to the
 *   other one (docs/architecture.md §6.6).
 */
import { MIN_DOWN_INTERVALS, MIN_SUSPECT_INTERVALS } from '../../shared/federation/liveness.js';

export type SiteLinkState = 'down' | 'connecting' | 'resyncing' | 'up' | 'suspect';

export type SiteLinkEvent =
  | { kind: 'dial' }
  | { kind: 'welcome'; heartbeatIntervalMs: number }
  | { kind: 'caught-up' }
  | { kind: 'heard' }
  | { kind: 'lost'; reason: string }
  | { kind: 'tick' };

export type SiteLinkCommand =
  { kind: 'open-stream' } | { kind: 'close-stream'; reason: string } | { kind: 'redial-at'; atMs: number };

export interface SiteLinkMachine {
  state: SiteLinkState;
  lastHeardMs: number | null;
  heartbeatIntervalMs: number;
  /** The thresholds in force: the configured ones, stretched to the hub's interval (above). */
  suspectAfterMs: number;
  downAfterMs: number;
  /** Messages heard since the link went suspect (two bring it back). */
  heardWhileSuspect: number;
  /** When the current stream was welcomed (null while not open). */
  welcomedAtMs: number | null;
  /** The delay before the next dial, if this one fails. */
  backoffMs: number;
  /** How many times the link went down (for status and tests). */
  drops: number;
  /** Dials made, and those that failed before the hub's welcome (for status and tests). */
  dials: number;
  failedDials: number;
  /** The delay the last redial was scheduled with (0 = immediate). */
  lastRedialDelayMs: number | null;
  lastError: string | null;
  changedAtMs: number;
}

export interface SiteLinkOptions {
  minBackoffMs: number;
  maxBackoffMs: number;
  /** Until the hub's welcome says otherwise. */
  heartbeatIntervalMs: number;
  /** Silence after which the link is suspect. */
  suspectAfterMs: number;
  /** Silence after which the link is down (closed and redialled). */
  downAfterMs: number;
}

/** A hub's interval stretches the thresholds to at least MIN_*_INTERVALS of it. */
const thresholds = (o: SiteLinkOptions, intervalMs: number) => ({
  suspectAfterMs: Math.max(o.suspectAfterMs, MIN_SUSPECT_INTERVALS * intervalMs),
  downAfterMs: Math.max(o.downAfterMs, MIN_DOWN_INTERVALS * intervalMs),
});

export const initialSiteLink = (o: SiteLinkOptions, nowMs: number): SiteLinkMachine => ({
  state: 'down',
  lastHeardMs: null,
  heartbeatIntervalMs: o.heartbeatIntervalMs,
  ...thresholds(o, o.heartbeatIntervalMs),
  heardWhileSuspect: 0,
  welcomedAtMs: null,
  backoffMs: o.minBackoffMs,
  drops: 0,
  dials: 0,
  failedDials: 0,
  lastRedialDelayMs: null,
  lastError: null,
  changedAtMs: nowMs,
});

export interface Step {
  machine: SiteLinkMachine;
  commands: SiteLinkCommand[];
}

const to = (
  m: SiteLinkMachine,
  state: SiteLinkState,
  nowMs: number,
  patch: Partial<SiteLinkMachine> = {},
) => ({
  ...m,
  ...patch,
  state,
  changedAtMs: m.state === state ? m.changedAtMs : nowMs,
});

function goDown(m: SiteLinkMachine, reason: string, nowMs: number, o: SiteLinkOptions): Step {
  const wasOpen = m.state !== 'connecting';
  // A link that got its welcome and stayed open a while redials at once (see the header).
  const immediate = m.welcomedAtMs !== null && nowMs - m.welcomedAtMs >= o.minBackoffMs;
  const delayMs = immediate ? 0 : m.backoffMs;
  const next = to(m, 'down', nowMs, {
    drops: m.drops + 1,
    failedDials: m.failedDials + (wasOpen ? 0 : 1),
    lastError: reason,
    welcomedAtMs: null,
    heardWhileSuspect: 0,
    lastRedialDelayMs: delayMs,
    backoffMs: immediate ? o.minBackoffMs : Math.min(o.maxBackoffMs, m.backoffMs * 2),
  });
  return {
    machine: next,
    commands: [
      ...(wasOpen ? [{ kind: 'close-stream' as const, reason }] : []),
      { kind: 'redial-at', atMs: nowMs + delayMs },
    ],
  };
}

export function siteLinkStep(m: SiteLinkMachine, e: SiteLinkEvent, nowMs: number, o: SiteLinkOptions): Step {
  const same: Step = { machine: m, commands: [] };
  switch (e.kind) {
    case 'dial':
      if (m.state !== 'down') return same;
      return {
        machine: to(m, 'connecting', nowMs, { dials: m.dials + 1 }),
        commands: [{ kind: 'open-stream' }],
      };
    case 'welcome': {
      if (m.state !== 'connecting') return same;
      const interval = e.heartbeatIntervalMs > 0 ? e.heartbeatIntervalMs : m.heartbeatIntervalMs;
      return {
        machine: to(m, 'resyncing', nowMs, {
          lastHeardMs: nowMs,
          heartbeatIntervalMs: interval,
          ...thresholds(o, interval),
          welcomedAtMs: nowMs,
          // The backoff is not reset here but when this link goes down after staying open
          // (goDown): a link dropped at every welcome must go on backing off.
          lastError: null,
        }),
        commands: [],
      };
    }
    case 'caught-up':
      if (m.state !== 'resyncing') return same;
      return { machine: to(m, 'up', nowMs), commands: [] };
    case 'heard':
      if (m.state === 'suspect') {
        const heard = m.heardWhileSuspect + 1;
        if (heard >= 2)
          return { machine: to(m, 'up', nowMs, { lastHeardMs: nowMs, heardWhileSuspect: 0 }), commands: [] };
        return { machine: { ...m, lastHeardMs: nowMs, heardWhileSuspect: heard }, commands: [] };
      }
      if (m.state === 'up' || m.state === 'resyncing')
        return { machine: { ...m, lastHeardMs: nowMs }, commands: [] };
      return same;
    case 'lost':
      if (m.state === 'down') return same;
      return goDown(m, e.reason, nowMs, o);
    case 'tick': {
      if (m.state === 'connecting' && nowMs - m.changedAtMs >= m.downAfterMs) {
        const failed = goDown(
          m,
          `no welcome from the hub within ${nowMs - m.changedAtMs} ms of dialling`,
          nowMs,
          o,
        );
        return {
          ...failed,
          commands: [{ kind: 'close-stream', reason: failed.machine.lastError! }, ...failed.commands],
        };
      }
      if (m.state !== 'up' && m.state !== 'suspect' && m.state !== 'resyncing') return same;
      const silent = nowMs - (m.lastHeardMs ?? nowMs);
      if (silent >= m.downAfterMs) {
        return goDown(m, `no message from the hub for ${silent} ms`, nowMs, o);
      }
      if (m.state === 'up' && silent >= m.suspectAfterMs) {
        return { machine: to(m, 'suspect', nowMs, { heardWhileSuspect: 0 }), commands: [] };
      }
      return same;
    }
  }
}
