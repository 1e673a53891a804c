/**
 * The typed error every transaction machine throws for an event its current state does not
 * accept: a timer that is not running, a second final from the TU, anything after
 * Terminated. Such an event is a bug in the adapter or the TU, never something a peer can
 * cause (messages from the network are either handled or absorbed, as the RFC says), so
 * the machine refuses it and changes nothing.
 */
import { DomainError, invalidArgument } from '../../errors.js';

export type MachineName = 'client-invite' | 'client-non-invite' | 'server-invite' | 'server-non-invite';

export class IllegalTransactionEvent extends DomainError {
  readonly machine: MachineName;
  readonly state: string;
  readonly event: string;

  constructor(machine: MachineName, state: string, event: string, why: string) {
    super('failed-precondition', `${machine} transaction in ${state} cannot take ${event}: ${why}`);
    this.name = 'IllegalTransactionEvent';
    this.machine = machine;
    this.state = state;
    this.event = event;
  }
}

/** A status a response cannot have: bad input from the adapter, named with its field. */
export function checkStatus(field: string, status: number): void {
  if (!Number.isInteger(status) || status < 100 || status > 699) {
    throw invalidArgument(field, `status ${status} is not a SIP status code (100-699)`);
  }
}

/**
 * A response handed to a client transaction must answer its request: the 200 to a CANCEL
 * shares the INVITE's branch but not its CSeq method, and belongs to the CANCEL's own
 * transaction (matching.ts). Handing it here is an adapter bug, refused before any change.
 */
export function checkAnswers(
  machine: MachineName,
  state: string,
  request: { readonly method: string },
  response: { readonly status: number; readonly cseqMethod: string },
): void {
  if (response.cseqMethod !== request.method) {
    throw new IllegalTransactionEvent(
      machine,
      state,
      'response',
      `a ${response.status} to ${response.cseqMethod} does not answer this ${request.method}`,
    );
  }
}
