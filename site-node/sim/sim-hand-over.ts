/**
 * How a simulated caller moves between sites (MediaPort.handOver, site-node/telephony/media-port.ts):
 * the caller travels as plain data, `SimCallerState`, so the person who arrives at the target
 * is the same one who left the origin: the patience they have left (not a fresh one: a caller
 * who waited 40 s of 60 s hangs up 20 s later), how long they talk once answered, and how
 * fast they key. Their IVR answers do not travel: they are past the IVR.
 *
 * Two routes carry it:
 * - in one process (tests, the what-if simulator), `SimVoiceNetwork`: the origin's SimMedia
 *   delivers to the target's, whose site claims the leg or not, and the origin hears that
 *   answer, as the SIP adapter hears the target's answer to its INVITE;
 * - across processes (the province demo, multi-process tests), nothing connects two
 *   processes' simulated media: the state rides ahead in the overflow request (its
 *   `remainingPatienceMs` field and two `attached` keys, `simCallerAttached`), and the target's
 *   adapter hands it to its SimMedia (`receiveHandOver`) when it admits the call, before it
 *   acks the commit. `carriedHandOver` is then the origin's route: it resolves at once, its
 *   call being made only after that ack (the target has the caller by then).
 */
import { DomainError, unavailable } from '../../shared/errors.js';

/** A simulated caller as it travels with a hand-over (plain data: it may cross processes). */
export interface SimCallerState {
  ani: string;
  dnis: string;
  /** How much longer the caller waits on hold before hanging up, from the hand-over on. */
  remainingPatienceMs: number;
  /** How long the caller talks once answered before hanging up; null: until the site releases them. */
  talkMs: number | null;
  thinkMs: number;
}

/** Carries a caller to another site's simulated media; resolves when that site took the leg. */
export interface SimHandOverRoute {
  deliver(toSiteId: string, token: string, caller: SimCallerState): Promise<void>;
}

/** What a site's SimMedia offers the routes (SimMedia implements it). */
export interface SimHandOverReceiver {
  receiveHandOver(token: string, caller: SimCallerState): Promise<void>;
}

/** The in-process route: each site's SimMedia joins under its site id. */
export class SimVoiceNetwork implements SimHandOverRoute {
  private readonly sites = new Map<string, SimHandOverReceiver>();

  join(siteId: string, media: SimHandOverReceiver): void {
    this.sites.set(siteId, media);
  }

  deliver(toSiteId: string, token: string, caller: SimCallerState): Promise<void> {
    const target = this.sites.get(toSiteId);
    if (!target) return Promise.reject(unavailable(`no simulated voice route to site ${toSiteId}`));
    return target.receiveHandOver(token, caller);
  }
}

/** The origin's route across processes (see the header): the caller went ahead in the request. */
export const carriedHandOver: SimHandOverRoute = { deliver: () => Promise.resolve() };

/** The `attached` keys of a simulated caller in an overflow request (strip them before a screen pop). */
export const SIM_ATTACHED_KEYS = { talkMs: 'sim.talkMs', thinkMs: 'sim.thinkMs' } as const;

/** The attached data to add to the overflow request of a simulated caller. */
export function simCallerAttached(c: SimCallerState): Record<string, string> {
  return {
    [SIM_ATTACHED_KEYS.thinkMs]: String(Math.round(c.thinkMs)),
    ...(c.talkMs === null ? {} : { [SIM_ATTACHED_KEYS.talkMs]: String(Math.round(c.talkMs)) }),
  };
}

/**
 * The simulated caller an overflow request describes, at the target: patience from the
 * request's `remainingPatienceMs` less `elapsedMs` (the time since the request arrived here),
 * the rest from `simCallerAttached`'s keys. A request without the patience, or with keys that
 * are not whole milliseconds, is refused naming the field.
 */
export function simCallerFromRequest(
  req: {
    ani: string;
    dnis: string;
    remainingPatienceMs: number | null;
    attached: Readonly<Record<string, string>>;
  },
  elapsedMs = 0,
): SimCallerState {
  if (req.remainingPatienceMs === null || !Number.isFinite(req.remainingPatienceMs)) {
    throw new DomainError(
      'invalid-argument',
      `remainingPatienceMs: a simulated caller's patience must travel with its hand-over (got ${String(req.remainingPatienceMs)})`,
      { field: 'remainingPatienceMs' },
    );
  }
  const ms = (key: string): number | undefined => {
    const v = req.attached[key];
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v)) {
      throw new DomainError(
        'invalid-argument',
        `attached.${key}: must be whole milliseconds (got ${JSON.stringify(v)})`,
        {
          field: `attached.${key}`,
        },
      );
    }
    return Number(v);
  };
  const thinkMs = ms(SIM_ATTACHED_KEYS.thinkMs);
  return {
    ani: req.ani,
    dnis: req.dnis,
    remainingPatienceMs: Math.max(0, req.remainingPatienceMs - elapsedMs),
    talkMs: ms(SIM_ATTACHED_KEYS.talkMs) ?? null,
    // The callers' own range (callers.ts); the target only needs it for the queue's key prompts.
    thinkMs: thinkMs ?? 2_000,
  };
}
