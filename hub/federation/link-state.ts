/**
 * The hub's view of one site's link (pure, docs/architecture.md §3.1 and §6): what `fedctl status`
 * shows and what later issues (overflow, cover) read before routing anything to a site.
 *
 *            hello                       no heartbeat for suspectAfter
 *   never ---------> up <------------------------------------------> suspect
 *                    ^  \         heartbeat (any message)                |
 *                    |   \ stream closed                                 | silent for downAfter,
 *              hello |    v                                              | or stream closed
 *                    +--- down <-----------------------------------------+
 *
 * `tick` is the clock event: the service calls it periodically with the time, so the
 * machine never reads a clock itself. Any message on the stream counts as a heartbeat (a
 * site that is busy shipping events is alive). Hysteresis: one late heartbeat makes a site
 * `suspect` but not `down`; only a closed stream or a long silence does.
 */
export type LinkState = 'never' | 'up' | 'suspect' | 'down';

export type LinkEvent = { kind: 'hello' } | { kind: 'heard' } | { kind: 'closed' } | { kind: 'tick' };

export interface LinkTimes {
  /** Silence after which an up link is suspect (3 heartbeat intervals). */
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
}

export const initialLink = (): SiteLink => ({
  state: 'never',
  lastHeardMs: null,
  connectedSinceMs: null,
  changedAtMs: null,
});

export function linkTimes(heartbeatIntervalMs: number): LinkTimes {
  return { suspectAfterMs: 3 * heartbeatIntervalMs, downAfterMs: 10 * heartbeatIntervalMs };
}

function moveTo(l: SiteLink, state: LinkState, nowMs: number, patch: Partial<SiteLink> = {}): SiteLink {
  return { ...l, ...patch, state, changedAtMs: l.state === state ? l.changedAtMs : nowMs };
}

/** One transition. Returns the same object when nothing changes (callers compare by identity). */
export function linkStep(l: SiteLink, e: LinkEvent, nowMs: number, t: LinkTimes): SiteLink {
  switch (e.kind) {
    case 'hello':
      return moveTo(l, 'up', nowMs, { lastHeardMs: nowMs, connectedSinceMs: nowMs });
    case 'heard':
      if (l.state === 'never' || l.state === 'down') return l; // only a hello opens a link
      return moveTo(l, 'up', nowMs, { lastHeardMs: nowMs });
    case 'closed':
      if (l.state === 'never' || l.state === 'down') return l;
      return moveTo(l, 'down', nowMs, { connectedSinceMs: null });
    case 'tick': {
      if (l.lastHeardMs === null || (l.state !== 'up' && l.state !== 'suspect')) return l;
      const silent = nowMs - l.lastHeardMs;
      if (silent >= t.downAfterMs) return moveTo(l, 'down', nowMs, { connectedSinceMs: null });
      if (l.state === 'up' && silent >= t.suspectAfterMs) return moveTo(l, 'suspect', nowMs);
      return l;
    }
  }
}
