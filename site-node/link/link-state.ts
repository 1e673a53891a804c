/**
 * The site's view of its link to the hub (pure, docs/architecture.md §3.1 and §6). The adapter
 * (hub-link.ts) feeds it events and carries out its commands; the machine never touches a
 * socket or a clock.
 *
 *          dial                 welcome                 caught up
 *   down ---------> connecting ---------> resyncing ---------------> up
 *    ^   (backoff)      |                     |                      |  ^
 *    |                  | failed              | lost                 |  | heard
 *    +------------------+---------------------+        silent >= 3 x |  |
 *    |                                                   interval    v  |
 *    +------------------------- lost / silent >= 10 x interval --- suspect
 *
 * - `resyncing`: the stream is open; the site is replaying its outbox and catching up the
 *   customer feed. Routing decisions that need fresh hub state wait for `up`.
 * - `suspect` (hysteresis): one late heartbeat ack does not drop the link; only a broken
 *   stream or a long silence does. Any message from the hub brings it back to `up`.
 * - Reconnect backoff doubles from minBackoffMs to maxBackoffMs and resets on welcome.
 */
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
  backoffMs: number;
  /** How many times the link went down (for status and tests). */
  drops: number;
  lastError: string | null;
  changedAtMs: number;
}

export interface SiteLinkOptions {
  minBackoffMs: number;
  maxBackoffMs: number;
  /** Until the hub's welcome says otherwise. */
  heartbeatIntervalMs: number;
}

export const initialSiteLink = (o: SiteLinkOptions, nowMs: number): SiteLinkMachine => ({
  state: 'down',
  lastHeardMs: null,
  heartbeatIntervalMs: o.heartbeatIntervalMs,
  backoffMs: o.minBackoffMs,
  drops: 0,
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
  const next = to(m, 'down', nowMs, {
    drops: m.drops + 1,
    lastError: reason,
    backoffMs: Math.min(o.maxBackoffMs, m.backoffMs * 2),
  });
  return {
    machine: next,
    commands: [
      ...(wasOpen ? [{ kind: 'close-stream' as const, reason }] : []),
      { kind: 'redial-at', atMs: nowMs + m.backoffMs },
    ],
  };
}

export function siteLinkStep(m: SiteLinkMachine, e: SiteLinkEvent, nowMs: number, o: SiteLinkOptions): Step {
  const same: Step = { machine: m, commands: [] };
  switch (e.kind) {
    case 'dial':
      if (m.state !== 'down') return same;
      return { machine: to(m, 'connecting', nowMs), commands: [{ kind: 'open-stream' }] };
    case 'welcome':
      if (m.state !== 'connecting') return same;
      return {
        machine: to(m, 'resyncing', nowMs, {
          lastHeardMs: nowMs,
          heartbeatIntervalMs: e.heartbeatIntervalMs > 0 ? e.heartbeatIntervalMs : m.heartbeatIntervalMs,
          backoffMs: o.minBackoffMs,
          lastError: null,
        }),
        commands: [],
      };
    case 'caught-up':
      if (m.state !== 'resyncing') return same;
      return { machine: to(m, 'up', nowMs), commands: [] };
    case 'heard':
      if (m.state === 'suspect') return { machine: to(m, 'up', nowMs, { lastHeardMs: nowMs }), commands: [] };
      if (m.state === 'up' || m.state === 'resyncing')
        return { machine: { ...m, lastHeardMs: nowMs }, commands: [] };
      return same;
    case 'lost':
      if (m.state === 'down') return same;
      return goDown(m, e.reason, nowMs, o);
    case 'tick': {
      if (m.state !== 'up' && m.state !== 'suspect' && m.state !== 'resyncing') return same;
      const silent = nowMs - (m.lastHeardMs ?? nowMs);
      if (silent >= 10 * m.heartbeatIntervalMs) {
        return goDown(m, `no message from the hub for ${silent} ms`, nowMs, o);
      }
      if (m.state === 'up' && silent >= 3 * m.heartbeatIntervalMs) {
        return { machine: to(m, 'suspect', nowMs), commands: [] };
      }
      return same;
    }
  }
}
