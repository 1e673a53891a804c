/**
 * The SIP media port's legs and the indexes it finds them by (docs/sip.md "The site over SIP"):
 * a request in a dialog by its dialog key, a CANCEL by its INVITE's branch, an engine event by
 * its endpoint, a call flow's command by its leg id. One table so a leg that ends leaves every
 * index at once: a stale entry would route a late BYE to a leg that is gone.
 */
import { randomBytes } from 'node:crypto';
import type { Scheduler } from '../../shared/scheduler.js';
import type { SipIds } from '../../shared/sip/dialog/requests.js';
import type { InboundEvent, InboundLeg } from '../../shared/sip/leg/inbound.js';
import type { OutboundEvent, OutboundLeg } from '../../shared/sip/leg/outbound.js';
import type { CallLeg } from './media-port.js';
import { DigitBuffer } from './sip-digits.js';
import type { LegRunner } from './sip-leg-runner.js';

export interface PortLeg {
  call: CallLeg;
  runner: LegRunner<InboundLeg, InboundEvent> | LegRunner<OutboundLeg, OutboundEvent>;
  kind: 'inbound' | 'outbound';
  digits: DigitBuffer;
  /** The site hung up (or refused) this leg: its end is not reported as the far end's. */
  localEnd: boolean;
  /** On hold (queue treatment): a prompt played meanwhile gives the music back when it ends. */
  holding: boolean;
  /** Inbound from a trunk: its name, for the trunk's channel count (sip-dial-out.ts). */
  trunk?: string;
  /** Outbound: waiting for the answer. */
  onAnswer?: { resolve: () => void; reject: (e: Error) => void };
  /** Resolves when the leg has ended (stop waits on it). */
  ended: Promise<void>;
  endNow: () => void;
}

const hex = (n: number): string => randomBytes(n).toString('hex');

/** Branches, tags and Call-IDs: random enough that no two sites or restarts collide. */
export const SIP_IDS: SipIds = {
  branch: () => `z9hG4bK${hex(10)}`,
  tag: () => hex(6),
  callId: () => hex(12),
};

export function makePortLeg(
  call: CallLeg,
  kind: PortLeg['kind'],
  runner: PortLeg['runner'],
  scheduler: Scheduler,
): PortLeg {
  let endNow = (): void => {};
  const ended = new Promise<void>((r) => (endNow = r));
  return {
    call,
    kind,
    runner,
    digits: new DigitBuffer(scheduler),
    localEnd: false,
    holding: false,
    ended,
    endNow,
  };
}

export class PortLegTable {
  private readonly byDialog = new Map<string, PortLeg>();
  private readonly byInviteBranch = new Map<string, PortLeg>();
  private readonly byEndpoint = new Map<string, PortLeg>();
  private readonly byLegId = new Map<string, PortLeg>();
  /** Every key a leg holds, to drop them all at its end. */
  private readonly keys = new Map<PortLeg, { dialogs: string[]; branch: string }>();

  get size(): number {
    return this.byLegId.size;
  }

  all(): PortLeg[] {
    return [...this.byLegId.values()];
  }

  /** A leg from its start: the dialog is known now for an inbound leg, at the 2xx for ours. */
  add(leg: PortLeg, inviteBranch: string, dialog?: string): void {
    this.byEndpoint.set(leg.runner.endpointId, leg);
    this.byLegId.set(leg.call.legId, leg);
    this.byInviteBranch.set(inviteBranch, leg);
    this.keys.set(leg, { dialogs: [], branch: inviteBranch });
    if (dialog !== undefined) this.addDialog(leg, dialog);
  }

  addDialog(leg: PortLeg, dialog: string): void {
    this.byDialog.set(dialog, leg);
    this.keys.get(leg)?.dialogs.push(dialog);
  }

  remove(leg: PortLeg): void {
    const k = this.keys.get(leg);
    this.keys.delete(leg);
    if (this.byEndpoint.get(leg.runner.endpointId) === leg) this.byEndpoint.delete(leg.runner.endpointId);
    if (this.byLegId.get(leg.call.legId) === leg) this.byLegId.delete(leg.call.legId);
    if (!k) return;
    for (const d of k.dialogs) if (this.byDialog.get(d) === leg) this.byDialog.delete(d);
    if (this.byInviteBranch.get(k.branch) === leg) this.byInviteBranch.delete(k.branch);
  }

  ofDialog(key: string): PortLeg | undefined {
    return this.byDialog.get(key);
  }

  ofInviteBranch(branch: string): PortLeg | undefined {
    return this.byInviteBranch.get(branch);
  }

  ofEndpoint(endpointId: string): PortLeg | undefined {
    return this.byEndpoint.get(endpointId);
  }

  ofLegId(legId: string): PortLeg | undefined {
    return this.byLegId.get(legId);
  }
}
