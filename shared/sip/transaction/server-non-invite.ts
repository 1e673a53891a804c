/**
 * The non-INVITE server transaction (RFC 3261 §17.2.2).
 *
 * ```
 *              start: request to TU
 *                            |
 *                   a        v                  x
 *                +----->+---------+-------------------------------+
 *                |      | Trying  |                               |
 *                +------+---------+                               |
 *                        |      |  c                              |
 *                        |      v                                 |
 *                        |   +------------+   x                   |
 *                        |   | Proceeding |---------------------->|
 *                        |   +------------+<----+                 |
 *                      f |      |  f  |    b    |                 |
 *                        |      |     +---------+                 |
 *                        v      v                                 |
 *               h   +------------+        J fires, x              |
 *              +--->| Completed  |------------------------------->|
 *              +----+------------+                                v
 *                                                         +------------+
 *                                                         | Terminated |
 *                                                         +------------+
 *
 *   a  request resent: absorbed (nothing to resend yet)
 *   b  request resent: the last 1xx resent; 1xx from TU: sent
 *   c  1xx from TU: sent
 *   f  200-699 from TU: sent, J started (TCP: J = 0, straight to Terminated)
 *   h  request resent: the final resent
 *   x  transport error: to TU
 * ```
 *
 * Completed lingers for J (64*T1 on UDP, the longest a client keeps resending) so every
 * resent request gets the final again rather than reaching the TU as a new one; on TCP the
 * client never resends and J is zero. A response from the TU after its final is refused.
 */
import { invalidArgument } from '../../errors.js';
import { Effects, guard } from './effects.js';
import { checkStatus, IllegalTransactionEvent } from './illegal-event.js';
import { firstIntervalMs } from './timers.js';
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

export type ServerNonInviteStateName = 'trying' | 'proceeding' | 'completed' | 'terminated';

export interface ServerNonInviteState<H> {
  readonly name: ServerNonInviteStateName;
  readonly request: TxRequest<H>;
  readonly options: TransactionOptions;
  readonly timers: RunningTimers;
  /** The response resent on a resent request: the last provisional, then the final. */
  readonly lastResponse?: TxResponse<H>;
  readonly reason?: TerminationReason;
}

export type ServerNonInviteEvent<H> =
  | { readonly type: 'request'; readonly request: TxRequest<H> }
  | { readonly type: 'tu-response'; readonly response: TxResponse<H> }
  | TimerFired
  | TransportFailed;

type EventType = ServerNonInviteEvent<unknown>['type'];

const ACCEPTS: Readonly<Record<ServerNonInviteStateName, readonly EventType[]>> = {
  trying: ['request', 'tu-response', 'transport-error'],
  proceeding: ['request', 'tu-response', 'transport-error'],
  completed: ['request', 'timer', 'transport-error'],
  terminated: [],
};

/** A request other than INVITE and ACK arrived that matches no transaction: pass it up. */
export function startServerNonInvite<H>(
  request: TxRequest<H>,
  options: TransactionOptions,
  nowMs: number,
): StepResult<ServerNonInviteState<H>, H> {
  if (request.method === 'INVITE' || request.method === 'ACK') {
    throw invalidArgument(
      'request.method',
      `a non-INVITE server transaction cannot start on ${request.method} (INVITE has its own; ACK has none)`,
    );
  }
  const fx = new Effects<H>({}, nowMs).passToTu(request.handle);
  return { state: { name: 'trying', request, options, timers: fx.timers }, commands: fx.commands };
}

export function stepServerNonInvite<H>(
  state: ServerNonInviteState<H>,
  event: ServerNonInviteEvent<H>,
  nowMs: number,
): StepResult<ServerNonInviteState<H>, H> {
  guard('server-non-invite', state.name, ACCEPTS, event, state.timers);
  const fx = new Effects<H>(state.timers, nowMs);
  const to = (name: ServerNonInviteStateName, extra: Partial<ServerNonInviteState<H>> = {}) => ({
    state: { ...state, ...extra, name, timers: fx.timers },
    commands: fx.commands,
  });

  switch (event.type) {
    case 'transport-error':
      fx.push({ type: 'transport-error' }).terminate('transport-error');
      return to('terminated', { reason: 'transport-error' });

    case 'timer': // J: the wait for resent requests is over
      fx.fired(event.name).terminate('done');
      return to('terminated', { reason: 'done' });

    case 'request':
      if (event.request.method !== state.request.method) {
        throw new IllegalTransactionEvent(
          'server-non-invite',
          state.name,
          event.type,
          `a ${event.request.method} is not a resend of this ${state.request.method}`,
        );
      }
      // Trying has nothing to resend yet; later states resend what they last sent.
      if (state.lastResponse) fx.send(state.lastResponse.handle);
      return to(state.name);

    case 'tu-response': {
      const r = event.response;
      checkStatus('response.status', r.status);
      fx.send(r.handle);
      if (isProvisional(r.status)) return to('proceeding', { lastResponse: r });
      const j = firstIntervalMs('J', state.options.timers, state.options.reliable)!;
      if (j === 0) {
        fx.terminate('done');
        return to('terminated', { lastResponse: r, reason: 'done' });
      }
      fx.start('J', j);
      return to('completed', { lastResponse: r });
    }
  }
}
