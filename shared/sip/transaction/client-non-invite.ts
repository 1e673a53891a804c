/**
 * The non-INVITE client transaction (RFC 3261 §17.1.2): BYE, CANCEL, REGISTER, OPTIONS...
 *
 * ```
 *              start: request sent; E (UDP only) and F started
 *                            |
 *                   a        v                 F, x
 *                +----->+---------+-------------------------------+
 *                |      | Trying  |                               |
 *                +------+---------+                               |
 *                        |      |  c                              |
 *                        |      v                                 |
 *                        |   +------------+   F, x                |
 *                        |   | Proceeding |---------------------->|
 *                        |   +------------+<----+                 |
 *                      f |      |  f  |    b    |                 |
 *                        |      |     +---------+                 |
 *                        v      v                                 |
 *               h   +------------+        K fires, x              |
 *              +--->| Completed  |------------------------------->|
 *              +----+------------+                                v
 *                                                         +------------+
 *                                                         | Terminated |
 *                                                         +------------+
 *
 *   a  Timer E fires: request resent, E re-armed at twice its interval, at most T2
 *   b  Timer E fires: request resent, E re-armed at T2; 1xx: to TU
 *   c  1xx: to TU
 *   f  200-699: to TU, E and F cancelled, K started (TCP: K = 0, straight to Terminated)
 *   h  any response again: absorbed
 *   F  Timer F fires: timeout to TU
 *   x  transport error: to TU
 * ```
 *
 * E is capped at T2 because a non-INVITE is answered at once (no ringing), so backing off
 * further only delays recovery from loss; F bounds the whole exchange. Completed lingers
 * for K (T4 on UDP) to absorb resent finals; on TCP K is zero and it ends at once.
 */
import { invalidArgument } from '../../errors.js';
import { Effects, guard } from './effects.js';
import { checkAnswers, checkStatus } from './illegal-event.js';
import { firstIntervalMs, nextIntervalMs } from './timers.js';
import {
  isProvisional,
  type RunningTimers,
  type StepResult,
  type TerminationReason,
  type TimerFired,
  type TransactionOptions,
  type TransportFailed,
  type TxRequest,
  type TxResponse,
} from './types.js';

export type ClientNonInviteStateName = 'trying' | 'proceeding' | 'completed' | 'terminated';

export interface ClientNonInviteState<H> {
  readonly name: ClientNonInviteStateName;
  readonly request: TxRequest<H>;
  readonly options: TransactionOptions;
  readonly timers: RunningTimers;
  readonly reason?: TerminationReason;
}

export type ClientNonInviteEvent<H> =
  { readonly type: 'response'; readonly response: TxResponse<H> } | TimerFired | TransportFailed;

type EventType = ClientNonInviteEvent<unknown>['type'];

const ACCEPTS: Readonly<Record<ClientNonInviteStateName, readonly EventType[]>> = {
  trying: ['response', 'timer', 'transport-error'],
  proceeding: ['response', 'timer', 'transport-error'],
  completed: ['response', 'timer', 'transport-error'],
  terminated: [],
};

/** The TU sends a request other than INVITE and ACK (an ACK has no transaction). */
export function startClientNonInvite<H>(
  request: TxRequest<H>,
  options: TransactionOptions,
  nowMs: number,
): StepResult<ClientNonInviteState<H>, H> {
  if (request.method === 'INVITE' || request.method === 'ACK') {
    throw invalidArgument(
      'request.method',
      `a non-INVITE client transaction cannot send ${request.method} (INVITE has its own; ACK has none)`,
    );
  }
  const fx = new Effects<H>({}, nowMs).send(request.handle);
  const e = firstIntervalMs('E', options.timers, options.reliable);
  if (e !== undefined) fx.start('E', e);
  fx.start('F', firstIntervalMs('F', options.timers, options.reliable)!);
  return { state: { name: 'trying', request, options, timers: fx.timers }, commands: fx.commands };
}

export function stepClientNonInvite<H>(
  state: ClientNonInviteState<H>,
  event: ClientNonInviteEvent<H>,
  nowMs: number,
): StepResult<ClientNonInviteState<H>, H> {
  guard('client-non-invite', state.name, ACCEPTS, event, state.timers);
  const fx = new Effects<H>(state.timers, nowMs);
  const { timers: t, reliable } = state.options;
  const to = (name: ClientNonInviteStateName, reason?: TerminationReason) => ({
    state: { ...state, name, timers: fx.timers, ...(reason === undefined ? {} : { reason }) },
    commands: fx.commands,
  });

  switch (event.type) {
    case 'transport-error':
      fx.push({ type: 'transport-error' }).terminate('transport-error');
      return to('terminated', 'transport-error');

    case 'timer':
      fx.fired(event.name);
      switch (event.name) {
        case 'E': {
          // RFC 3261 §17.1.2.2: once a provisional is in, resend every T2.
          const previous = state.timers.E!.intervalMs;
          const next = state.name === 'proceeding' ? t.t2Ms : nextIntervalMs('E', previous, t);
          fx.send(state.request.handle).start('E', next);
          return to(state.name);
        }
        case 'F':
          fx.push({ type: 'timeout' }).terminate('timeout');
          return to('terminated', 'timeout');
        default: // K: the wait for resent finals is over
          fx.terminate('done');
          return to('terminated', 'done');
      }

    case 'response': {
      const r = event.response;
      checkStatus('response.status', r.status);
      checkAnswers('client-non-invite', state.name, state.request, r);
      if (state.name === 'completed') return to('completed'); // a resent final: absorbed
      fx.passToTu(r.handle);
      if (isProvisional(r.status)) return to('proceeding');
      fx.cancelAll();
      const k = firstIntervalMs('K', t, reliable)!;
      if (k === 0) {
        fx.terminate('done');
        return to('terminated', 'done');
      }
      fx.start('K', k);
      return to('completed');
    }
  }
}
