/**
 * The INVITE server transaction (RFC 3261 §17.2.1, with RFC 6026 §7.1's Accepted state).
 *
 * ```
 *              start: INVITE to TU, 100 Trying sent
 *                            |
 *                   a        v                       x
 *                +----->+------------+-------------------------------+
 *                |      | Proceeding |                               |
 *                +------+------------+                               |
 *                        /          \                                |
 *                     f /            \ g                             |
 *                      v              v                              |
 *      h  +-----------+              +-----------+  i                |
 *   +---->| Completed |              | Accepted  |<----+             |
 *   +-----+-----------+              +-----------+-----+             |
 *          |         | k                   | L fires                 |
 *          | H, x    v                     |                         |
 *          |   +-----------+  m            |                         |
 *          |   | Confirmed |<----+         |                         |
 *          |   +-----------+-----+         |                         |
 *          |         | I fires, x          |                         |
 *          v         v                     v                         v
 *         +------------------------------------------------------------+
 *         |                         Terminated                         |
 *         +------------------------------------------------------------+
 *
 *   a  INVITE resent: the last 1xx resent (a 100 if none yet); 1xx from TU: sent; ACK: absorbed
 *   f  300-699 from TU: sent, G (UDP only) and H started
 *   g  2xx from TU: sent once, L started
 *   h  INVITE resent, or Timer G fires: the final resent (G doubles up to T2)
 *   i  2xx from TU (the TU's own resend): sent; INVITE: absorbed; ACK: to TU;
 *      transport error: to TU, and the transaction stays
 *   k  ACK: G and H cancelled, I started (TCP: I = 0, straight to Terminated)
 *   m  ACK or INVITE again: absorbed
 *   H  Timer H fires (no ACK came): timeout to TU
 *   x  transport error: to TU
 * ```
 *
 * The 2xx is sent once and never retransmitted here: the TU resends it until the ACK comes
 * (RFC 3261 §13.3.1.4) and hands each resend to this transaction. Accepted holds the
 * transaction for L = 64*T1 so a resent INVITE is absorbed instead of looking like a new
 * call (the RFC 6026 fix), and an ACK that reuses this INVITE's branch (some UAs do,
 * against RFC 3261 §17.1.1.3) still reaches the TU. A transport error in Accepted is reported but does not end it, for
 * the same reason. On TCP, G never runs and I is zero (the ACK ends it at once).
 */
import { invalidArgument } from '../../errors.js';
import { Effects, guard } from './effects.js';
import { checkStatus, IllegalTransactionEvent } from './illegal-event.js';
import { firstIntervalMs, nextIntervalMs } from './timers.js';
import {
  isProvisional,
  isSuccess,
  type RunningTimers,
  type StepResult,
  type TerminationReason,
  type TimerFired,
  type TransactionOptions,
  type TransportFailed,
  type TxRequest,
  type TxResponse,
} from './types.js';

export type ServerInviteStateName = 'proceeding' | 'completed' | 'confirmed' | 'accepted' | 'terminated';

export interface ServerInviteState<H> {
  readonly name: ServerInviteStateName;
  readonly request: TxRequest<H>;
  readonly options: TransactionOptions;
  readonly timers: RunningTimers;
  /** The last provisional the TU sent, resent when the INVITE is. */
  readonly provisional?: TxResponse<H>;
  /** The 3xx-6xx final the TU sent, resent on G and on a resent INVITE. */
  readonly final?: TxResponse<H>;
  readonly reason?: TerminationReason;
}

export type ServerInviteEvent<H> =
  /** A request matched to this transaction: the INVITE again, or an ACK. */
  | { readonly type: 'request'; readonly request: TxRequest<H> }
  | { readonly type: 'tu-response'; readonly response: TxResponse<H> }
  | TimerFired
  | TransportFailed;

type EventType = ServerInviteEvent<unknown>['type'];

/** A TU response after a 3xx-6xx final is refused: the TU has already answered. */
const ACCEPTS: Readonly<Record<ServerInviteStateName, readonly EventType[]>> = {
  proceeding: ['request', 'tu-response', 'transport-error'],
  completed: ['request', 'timer', 'transport-error'],
  confirmed: ['request', 'timer', 'transport-error'],
  accepted: ['request', 'tu-response', 'timer', 'transport-error'],
  terminated: [],
};

/** An INVITE arrived that matches no transaction: pass it up and say 100 Trying. */
export function startServerInvite<H>(
  request: TxRequest<H>,
  options: TransactionOptions,
  nowMs: number,
): StepResult<ServerInviteState<H>, H> {
  if (request.method !== 'INVITE') {
    throw invalidArgument(
      'request.method',
      `an INVITE server transaction starts on INVITE, not ${request.method}`,
    );
  }
  // RFC 3261 §17.2.1 allows skipping the 100 when the TU answers within 200 ms; sending it
  // at once is always correct and stops the client's A retransmissions sooner.
  const fx = new Effects<H>({}, nowMs)
    .passToTu(request.handle)
    .push({ type: 'send-trying', request: request.handle });
  return { state: { name: 'proceeding', request, options, timers: fx.timers }, commands: fx.commands };
}

export function stepServerInvite<H>(
  state: ServerInviteState<H>,
  event: ServerInviteEvent<H>,
  nowMs: number,
): StepResult<ServerInviteState<H>, H> {
  guard('server-invite', state.name, ACCEPTS, event, state.timers);
  const fx = new Effects<H>(state.timers, nowMs);
  const { timers: t, reliable } = state.options;
  const to = (name: ServerInviteStateName, extra: Partial<ServerInviteState<H>> = {}) => ({
    state: { ...state, ...extra, name, timers: fx.timers },
    commands: fx.commands,
  });
  const illegal = (why: string) => new IllegalTransactionEvent('server-invite', state.name, event.type, why);

  switch (event.type) {
    case 'transport-error':
      fx.push({ type: 'transport-error' });
      if (state.name === 'accepted') return to('accepted');
      fx.terminate('transport-error');
      return to('terminated', { reason: 'transport-error' });

    case 'timer':
      fx.fired(event.name);
      switch (event.name) {
        case 'G':
          fx.send(state.final!.handle).start('G', nextIntervalMs('G', state.timers.G!.intervalMs, t));
          return to('completed');
        case 'H':
          fx.push({ type: 'timeout' }).terminate('timeout');
          return to('terminated', { reason: 'timeout' });
        default: // I in Confirmed, L in Accepted
          fx.terminate('done');
          return to('terminated', { reason: 'done' });
      }

    case 'request': {
      const { method } = event.request;
      if (method !== 'INVITE' && method !== 'ACK') {
        throw illegal(`a ${method} is not part of an INVITE transaction (a CANCEL has its own)`);
      }
      switch (state.name) {
        case 'proceeding':
          if (method === 'ACK') return to('proceeding'); // nothing to acknowledge yet
          if (state.provisional) fx.send(state.provisional.handle);
          else fx.push({ type: 'send-trying', request: state.request.handle });
          return to('proceeding');
        case 'completed':
          if (method === 'INVITE') {
            fx.send(state.final!.handle);
            return to('completed');
          }
          fx.cancel('G', 'H');
          {
            const i = firstIntervalMs('I', t, reliable)!;
            if (i === 0) {
              fx.terminate('done');
              return to('terminated', { reason: 'done' });
            }
            fx.start('I', i);
          }
          return to('confirmed');
        case 'accepted':
          if (method === 'ACK') fx.passToTu(event.request.handle);
          return to('accepted');
        default: // confirmed: resent ACKs (and INVITEs) are absorbed
          return to(state.name);
      }
    }

    case 'tu-response': {
      const r = event.response;
      checkStatus('response.status', r.status);
      if (state.name === 'accepted') {
        if (!isSuccess(r.status)) throw illegal(`a ${r.status} after a 2xx: the INVITE is already accepted`);
        fx.send(r.handle);
        return to('accepted');
      }
      fx.send(r.handle);
      if (isProvisional(r.status)) return to('proceeding', { provisional: r });
      if (isSuccess(r.status)) {
        fx.start('L', firstIntervalMs('L', t, reliable)!);
        return to('accepted');
      }
      const g = firstIntervalMs('G', t, reliable);
      if (g !== undefined) fx.start('G', g);
      fx.start('H', firstIntervalMs('H', t, reliable)!);
      return to('completed', { final: r });
    }
  }
}
