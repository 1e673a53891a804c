/**
 * The typed error both legs throw for an event their phase does not take: a response when
 * nothing was sent, a timer that is not running, `answer` twice, anything after Ended. Such
 * an event is a bug in the adapter or the site, never something a peer causes (what a peer
 * sends is answered or absorbed), so the leg refuses it before anything changes.
 */
import { DomainError } from '../../errors.js';

export type LegKind = 'inbound' | 'outbound';

export class IllegalLegEvent extends DomainError {
  readonly leg: LegKind;
  readonly phase: string;
  readonly event: string;

  constructor(leg: LegKind, phase: string, event: string, why: string) {
    super('failed-precondition', `${leg} leg in ${phase} cannot take ${event}: ${why}`);
    this.name = 'IllegalLegEvent';
    this.leg = leg;
    this.phase = phase;
    this.event = event;
  }
}

/**
 * The one guard of each leg: `accepts` lists, per phase, the event types it takes (the
 * leg's diagram as a table); a timer must also be running.
 */
export function guardLeg<P extends string>(
  leg: LegKind,
  phase: P,
  accepts: Readonly<Record<P, readonly string[]>>,
  event: { readonly type: string; readonly name?: string },
  running: Readonly<Partial<Record<string, unknown>>>,
): void {
  const label = event.type === 'timer' ? `timer ${event.name ?? '?'}` : event.type;
  if (!accepts[phase].includes(event.type)) {
    const why =
      accepts[phase].length === 0 ? 'the leg is over' : `${phase} takes ${accepts[phase].join(', ')}`;
    throw new IllegalLegEvent(leg, phase, label, why);
  }
  if (event.type === 'timer' && (event.name === undefined || running[event.name] === undefined)) {
    throw new IllegalLegEvent(leg, phase, label, 'that timer is not running');
  }
}
