/**
 * The INVITE client transaction (RFC 3261 §17.1.1, with RFC 6026 §7.2's Accepted state).
 *
 * ```
 *              start: INVITE sent; A (UDP only) and B started
 *                            |
 *                   a        v                b, x
 *                +----->+---------+------------------------------+
 *                |      | Calling |                              |
 *                +------+---------+                              |
 *                      /     |     \                             |
 *                   f /      | c    \ g                          |
 *                    /       v       \                           |
 *                   /  +------------+ \      b (after d), x      |
 *                  /   | Proceeding |--\------------------------>|
 *                 /    +------------+   \                        |
 *                /    f /  ^  |  \ g     \                       |
 *               v      v   +--+   v       v                      |
 *      h  +-----------+    c, d   +-----------+  i               |
 *   +---->| Completed |           | Accepted  |<----+            |
 *   +-----+-----------+           +-----------+-----+            |
 *               | D fires, x            | M fires, x             |
 *               v                       v                        v
 *         +---------------------------------------------------------+
 *         |                       Terminated                        |
 *         +---------------------------------------------------------+
 *
 *   a  Timer A fires: INVITE resent, A re-armed at twice its interval
 *   b  Timer B fires: timeout to TU
 *   c  1xx: to TU (leaving Calling cancels A and B)
 *   d  cancel-sent (the TU sent a CANCEL): B started
 *   f  300-699: ACK sent, to TU, D started (TCP: D = 0, straight to Terminated)
 *   g  2xx: to TU, M started (no ACK: the TU sends it)
 *   h  300-699 again: ACK resent (other responses absorbed)
 *   i  2xx again, resent or forked: to TU (other responses absorbed)
 *   x  transport error: to TU
 * ```
 *
 * A 2xx is passed to the TU and never acknowledged here: the ACK to a 2xx is the TU's own
 * transaction (RFC 3261 §13.2.2.4). Accepted keeps the transaction for 64*T1 so resent and
 * forked 2xx responses still find it and reach the TU, rather than arriving as strays.
 *
 * Proceeding has no timer of its own in RFC 3261: the TU ends a ringing INVITE by sending
 * a CANCEL. It reports that with `cancel-sent`, which starts B again: RFC 3261 §9.1 drops
 * the INVITE if no final arrives 64*T1 after the CANCEL, so no transaction waits forever.
 * On TCP the transport retransmits, so A never runs and D is zero (Completed ends at once).
 */
import { invalidArgument } from '../../errors.js';
import { Effects, guard } from './effects.js';
import { checkAnswers, checkStatus } from './illegal-event.js';
import { firstIntervalMs, nextIntervalMs } from './timers.js';
import {
  isFailure,
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

export type ClientInviteStateName = 'calling' | 'proceeding' | 'completed' | 'accepted' | 'terminated';

export interface ClientInviteState<H> {
  readonly name: ClientInviteStateName;
  readonly request: TxRequest<H>;
  readonly options: TransactionOptions;
  readonly timers: RunningTimers;
  /** Why it ended, once Terminated. */
  readonly reason?: TerminationReason;
}

export type ClientInviteEvent<H> =
  | { readonly type: 'response'; readonly response: TxResponse<H> }
  /** The TU has sent a CANCEL for this INVITE (RFC 3261 §9.1). */
  | { readonly type: 'cancel-sent' }
  | TimerFired
  | TransportFailed;

type EventType = ClientInviteEvent<unknown>['type'];

/**
 * The events each state takes. A CANCEL may only follow a provisional (RFC 3261 §9.1), so
 * Calling refuses `cancel-sent`; once a final is in, a CANCEL raced by it changes nothing.
 */
const ACCEPTS: Readonly<Record<ClientInviteStateName, readonly EventType[]>> = {
  calling: ['response', 'timer', 'transport-error'],
  proceeding: ['response', 'cancel-sent', 'timer', 'transport-error'],
  completed: ['response', 'cancel-sent', 'timer', 'transport-error'],
  accepted: ['response', 'cancel-sent', 'timer', 'transport-error'],
  terminated: [],
};

/** The TU sends an INVITE: the transaction starts in Calling. */
export function startClientInvite<H>(
  request: TxRequest<H>,
  options: TransactionOptions,
  nowMs: number,
): StepResult<ClientInviteState<H>, H> {
  if (request.method !== 'INVITE') {
    throw invalidArgument(
      'request.method',
      `an INVITE client transaction sends INVITE, not ${request.method}`,
    );
  }
  const fx = new Effects<H>({}, nowMs).send(request.handle);
  const a = firstIntervalMs('A', options.timers, options.reliable);
  if (a !== undefined) fx.start('A', a);
  fx.start('B', firstIntervalMs('B', options.timers, options.reliable)!);
  return { state: { name: 'calling', request, options, timers: fx.timers }, commands: fx.commands };
}

export function stepClientInvite<H>(
  state: ClientInviteState<H>,
  event: ClientInviteEvent<H>,
  nowMs: number,
): StepResult<ClientInviteState<H>, H> {
  guard('client-invite', state.name, ACCEPTS, event, state.timers);
  const fx = new Effects<H>(state.timers, nowMs);
  const { timers: t, reliable } = state.options;
  const to = (
    name: ClientInviteStateName,
    reason?: TerminationReason,
  ): StepResult<ClientInviteState<H>, H> => ({
    state: { ...state, name, timers: fx.timers, ...(reason === undefined ? {} : { reason }) },
    commands: fx.commands,
  });
  const end = (reason: TerminationReason) => to('terminated', reason);

  switch (event.type) {
    case 'transport-error':
      fx.push({ type: 'transport-error' }).terminate('transport-error');
      return end('transport-error');

    case 'cancel-sent':
      // Only Proceeding waits on the CANCEL; a B already started by an earlier one stays.
      if (state.name === 'proceeding' && state.timers.B === undefined) {
        fx.start('B', firstIntervalMs('B', t, reliable)!);
      }
      return to(state.name);

    case 'timer':
      fx.fired(event.name);
      switch (event.name) {
        case 'A':
          fx.send(state.request.handle).start('A', nextIntervalMs('A', state.timers.A!.intervalMs, t));
          return to(state.name);
        case 'B':
          fx.push({ type: 'timeout' }).terminate('timeout');
          return end('timeout');
        default: // D in Completed, M in Accepted: the wait for resent finals is over
          fx.terminate('done');
          return end('done');
      }

    case 'response': {
      const r = event.response;
      checkStatus('response.status', r.status);
      checkAnswers('client-invite', state.name, state.request, r);
      if (state.name === 'completed') {
        // A resent 3xx-6xx means our ACK was lost: send it again. Anything else is absorbed.
        if (isFailure(r.status))
          fx.push({ type: 'send-ack', request: state.request.handle, response: r.handle });
        return to('completed');
      }
      if (state.name === 'accepted') {
        // Resent or forked 2xx go up (the TU acknowledges each); a late 1xx or 3xx-6xx is absorbed.
        if (isSuccess(r.status)) fx.passToTu(r.handle);
        return to('accepted');
      }
      // Calling or Proceeding.
      if (isProvisional(r.status)) {
        // B bounds the wait for a first response only; a B started by cancel-sent stays.
        fx.cancel('A');
        if (state.name === 'calling') fx.cancel('B');
        fx.passToTu(r.handle);
        return to('proceeding');
      }
      if (isSuccess(r.status)) {
        fx.cancelAll()
          .passToTu(r.handle)
          .start('M', firstIntervalMs('M', t, reliable)!);
        return to('accepted');
      }
      fx.cancelAll()
        .push({ type: 'send-ack', request: state.request.handle, response: r.handle })
        .passToTu(r.handle);
      const d = firstIntervalMs('D', t, reliable)!;
      if (d === 0) {
        fx.terminate('done');
        return end('done');
      }
      fx.start('D', d);
      return to('completed');
    }
  }
}
