/**
 * The hub's view of one site's link (pure, docs/architecture.md §3.1 and §6): what `fedctl status`
 * shows and what later issues (overflow, cover) read before routing anything to a site.
 *
 *            hello                       no message for suspectAfter
 *   never ---------> up <------------------------------------------> suspect
 *                    ^  \        two messages (heartbeats or any)       |
 *                    |   \ stream closed                                 | silent for downAfter,
 *              hello |    v                                              | or stream closed
 *                    +--- down <-----------------------------------------+
 *
 * `tick` is the clock event: the service calls it periodically with the time, so the
 * machine never reads a clock itself. Any message on the stream counts as a heartbeat (a
 * site that is busy shipping events is alive). Hysteresis: one late heartbeat makes a site
 * `suspect` but not `down`; only a closed stream or a long silence does. A suspect link is
 * `up` again after two messages, so a single late heartbeat past the threshold does not
 * flip it back and forth. The thresholds come from the hub's config (`suspectAfterMs`,
 * default 400 ms; `downAfterMs`, default 1.5 s; hub/config.ts).
 */
import {
  DEFAULT_DOWN_AFTER_MS,
  DEFAULT_SUSPECT_AFTER_MS,
  MIN_DOWN_INTERVALS,
  MIN_SUSPECT_INTERVALS,
} from '../../shared/federation/liveness.js';

export type LinkState = 'never' | 'up' | 'suspect' | 'down';

export type LinkEvent = { kind: 'hello' } | { kind: 'heard' } | { kind: 'closed' } | { kind: 'tick' };

export interface LinkTimes {
  /** Silence after which an up link is suspect. */
  suspectAfterMs: number;
  /** Silence after which a suspect link is down (the stream is then ended by the hub). */
  downAfterMs: number;
}

export interface SiteLink {
  state: LinkState;
  /** When the site was last heard from (any message). */
  lastHeardMs: number | null;
  /** When the current stream said hello. */
  connectedSinceMs: number | null;
  /** When the state last changed. */
  changedAtMs: number | null;
  /** Messages heard since the link went suspect (two bring it back up). */
  heardWhileSuspect: number;
}

/**
 * The thresholds in force: the ones given, else the defaults stretched to 3 and 10 heartbeat
 * intervals, so a hub configured with slow heartbeats does not call a site silent between two.
 */
export function linkTimes(heartbeatIntervalMs: number, given: Partial<LinkTimes> = {}): LinkTimes {
  return {
    suspectAfterMs:
      given.suspectAfterMs ?? Math.max(DEFAULT_SUSPECT_AFTER_MS, MIN_SUSPECT_INTERVALS * heartbeatIntervalMs),
    downAfterMs:
      given.downAfterMs ?? Math.max(DEFAULT_DOWN_AFTER_MS, MIN_DOWN_INTERVALS * heartbeatIntervalMs),
  };
}

export const initialLink = (): SiteLink => ({
  state: 'never',
  lastHeardMs: null,
  connectedSinceMs: null,
  changedAtMs: null,
  heardWhileSuspect: 0,
});

function moveTo(l: SiteLink, state: LinkState, nowMs: number, patch: Partial<SiteLink> = {}): SiteLink {
  return { ...l, ...patch, state, changedAtMs: l.state === state ? l.changedAtMs : nowMs };
}

/** One transition. Returns the same object when nothing changes (callers compare by identity). */
export function linkStep(l: SiteLink, e: LinkEvent, nowMs: number, t: LinkTimes): SiteLink {
  switch (e.kind) {
    case 'hello':
      return moveTo(l, 'up', nowMs, { lastHeardMs: nowMs, connectedSinceMs: nowMs, heardWhileSuspect: 0 });
    case 'heard':
      if (l.state === 'never' || l.state === 'down') return l; // only a hello opens a link
      if (l.state === 'suspect' && l.heardWhileSuspect + 1 < 2)
        return { ...l, lastHeardMs: nowMs, heardWhileSuspect: l.heardWhileSuspect + 1 };
      return moveTo(l, 'up', nowMs, { lastHeardMs: nowMs, heardWhileSuspect: 0 });
    case 'closed':
      if (l.state === 'never' || l.state === 'down') return l;
      return moveTo(l, 'down', nowMs, { connectedSinceMs: null });
    case 'tick': {
      if (l.lastHeardMs === null || (l.state !== 'up' && l.state !== 'suspect')) return l;
      const silent = nowMs - l.lastHeardMs;
      if (silent >= t.downAfterMs) return moveTo(l, 'down', nowMs, { connectedSinceMs: null });
      if (l.state === 'up' && silent >= t.suspectAfterMs)
        return moveTo(l, 'suspect', nowMs, { heardWhileSuspect: 0 });
      return l;
    }
  }
}
