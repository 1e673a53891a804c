/**
 * One running transaction machine behind one small interface, so that the transaction
 * layer keeps a single table and a single command loop for all four kinds. It holds the
 * machine's state and steps it; which events a kind takes is still the machine's own guard.
 */
import { startClientInvite, stepClientInvite, type ClientInviteState } from '../transaction/client-invite.js';
import {
  startClientNonInvite,
  stepClientNonInvite,
  type ClientNonInviteState,
} from '../transaction/client-non-invite.js';
import type { MachineName } from '../transaction/illegal-event.js';
import { startServerInvite, stepServerInvite, type ServerInviteState } from '../transaction/server-invite.js';
import {
  startServerNonInvite,
  stepServerNonInvite,
  type ServerNonInviteState,
} from '../transaction/server-non-invite.js';
import type {
  StepResult,
  TimerFired,
  TransactionOptions,
  TransportFailed,
  TxCommand,
  TxRequest,
  TxResponse,
} from '../transaction/types.js';

/** Every event any machine takes; each machine's guard refuses the ones it does not. */
export type MachineEvent<H> =
  | { readonly type: 'request'; readonly request: TxRequest<H> }
  | { readonly type: 'tu-response'; readonly response: TxResponse<H> }
  | { readonly type: 'response'; readonly response: TxResponse<H> }
  | { readonly type: 'cancel-sent' }
  | TimerFired
  | TransportFailed;

type AnyState<H> =
  ClientInviteState<H> | ClientNonInviteState<H> | ServerInviteState<H> | ServerNonInviteState<H>;

type Step<H> = (state: AnyState<H>, event: MachineEvent<H>, nowMs: number) => StepResult<AnyState<H>, H>;

// The casts are safe: a machine's state only ever goes back to its own step function, and
// an event it does not take is refused by its guard before anything changes.
const STEPS: Record<MachineName, Step<unknown>> = {
  'client-invite': stepClientInvite as Step<unknown>,
  'client-non-invite': stepClientNonInvite as Step<unknown>,
  'server-invite': stepServerInvite as Step<unknown>,
  'server-non-invite': stepServerNonInvite as Step<unknown>,
};

export class Machine<H> {
  private constructor(
    readonly kind: MachineName,
    private state: AnyState<H>,
  ) {}

  /** Start the machine for a request we send (`client`) or received (`server`). */
  static start<H>(
    side: 'client' | 'server',
    request: TxRequest<H>,
    options: TransactionOptions,
    nowMs: number,
  ): { machine: Machine<H>; commands: readonly TxCommand<H>[] } {
    const invite = request.method === 'INVITE';
    const kind: MachineName = `${side}-${invite ? 'invite' : 'non-invite'}`;
    const r: StepResult<AnyState<H>, H> = side === 'client'
      ? invite
        ? startClientInvite(request, options, nowMs)
        : startClientNonInvite(request, options, nowMs)
      : invite
        ? startServerInvite(request, options, nowMs)
        : startServerNonInvite(request, options, nowMs);
    return { machine: new Machine(kind, r.state), commands: r.commands };
  }

  get stateName(): string {
    return this.state.name;
  }

  /** Step; the new state is kept before the commands are returned, so a command may step again. */
  step(event: MachineEvent<H>, nowMs: number): readonly TxCommand<H>[] {
    const r = (STEPS[this.kind] as Step<H>)(this.state, event, nowMs);
    this.state = r.state;
    return r.commands;
  }
}
