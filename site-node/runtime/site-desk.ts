/**
 * The site's AgentDesk (site-node/cti/agent-desk.ts) on top of the ACD engine: what the gRPC
 * agent service and the simulated agents both drive. It checks what only the site knows
 * (the roster, reason and wrap-up codes, that the agent holds the call it names) and leaves
 * the state rules to the ACD core, whose rejections change nothing.
 *
 * Events for a desk (offers with the screen pop, withdrawals, state) are pushed by the site
 * runtime through `emit`.
 */
import type {
  AgentDesk,
  AgentView,
  DeskEvent,
  DeskPinUnlock,
  DeskPinUnlockResult,
} from '../cti/agent-desk.js';
import type { AgentRosterEntry } from '../config.js';
import {
  errorMessage,
  failedPrecondition,
  invalidArgument,
  isDomainError,
  notFound,
} from '../../shared/errors.js';
import { silentLogger } from '../../shared/log.js';
import type { AcdEngine } from './acd-engine.js';
import type { AcdAgentView } from '../acd/index.js';
import type { SitePinUnlock } from './pin-unlock.js';
import { PinRefusalLog } from './pin-refusal-log.js';
import type { PhonePresence } from '../telephony/phone-registrar.js';

export function toAgentView(v: AcdAgentView): AgentView {
  return {
    agentId: v.agentId,
    state: v.state,
    ...(v.reasonCode === undefined ? {} : { reasonCode: v.reasonCode }),
    ...(v.callId === undefined ? {} : { callId: v.callId }),
    skills: v.skills,
  };
}

export class SiteDesk implements AgentDesk {
  private readonly roster: Map<string, AgentRosterEntry>;
  private readonly listeners = new Map<string, Set<(e: DeskEvent) => void>>();
  /** The agents' phones, once the site has SIP (showPhones); the view then says if each is registered. */
  private phones: PhonePresence | undefined;

  constructor(
    private readonly engine: AcdEngine,
    roster: readonly AgentRosterEntry[],
    private readonly codes: { notReadyReasons: readonly string[]; wrapupCodes: readonly string[] },
    /** Told the wrap-up code before the core closes the wrap-up, so the CDR can carry it. */
    private readonly onWrapupCode: (callId: string, code: string) => void = () => {},
    /** PIN unlocks (./pin-unlock.ts); without it the desk refuses them. */
    private readonly pins?: SitePinUnlock,
    /**
     * Where the desk logs the PIN-unlock refusals it makes before SitePinUnlock is asked
     * (throttled per agent; the site shares one with SitePinUnlock).
     */
    private readonly refusals: PinRefusalLog = new PinRefusalLog(silentLogger),
  ) {
    this.roster = new Map(roster.map((a) => [a.id, a]));
  }

  private rostered(agentId: string): AgentRosterEntry {
    const a = this.roster.get(agentId);
    if (!a) throw notFound('agent', agentId);
    return a;
  }

  private view(agentId: string): AgentView {
    const entry = this.rostered(agentId);
    const v = this.engine.agent(agentId);
    const view: AgentView = v ? toAgentView(v) : { agentId, state: 'logged-out', skills: entry.skills };
    const phone = this.phones?.phoneState(agentId);
    if (phone === 'registered' || phone === 'not-registered') view.phone = phone;
    return view;
  }

  /**
   * From now on each agent's view says whether its phone is registered, and a change is pushed
   * to the agent's desk as a `state` event, so an agent sees when the phone cannot be rung.
   */
  showPhones(phones: PhonePresence): void {
    this.phones = phones;
  }

  /** The agent's phone was registered or lost: tell its desk. */
  phoneChanged(agentId: string): void {
    if (this.roster.has(agentId)) this.emit(agentId, { type: 'state', agent: this.view(agentId) });
  }

  /** The agent must be working on `callId`. */
  private holding(agentId: string, callId: string): void {
    const v = this.view(agentId);
    if (v.callId !== callId) {
      throw failedPrecondition(`agent ${agentId} is not handling call ${callId}`);
    }
  }

  async login(agentId: string): Promise<AgentView> {
    const entry = this.rostered(agentId);
    this.engine.dispatch({ type: 'agent-login', agentId, skills: entry.skills, ready: false });
    return this.view(agentId);
  }

  async logout(agentId: string): Promise<AgentView> {
    this.rostered(agentId);
    this.engine.dispatch({ type: 'agent-logout', agentId });
    return this.view(agentId);
  }

  async setReady(agentId: string): Promise<AgentView> {
    this.rostered(agentId);
    this.engine.dispatch({ type: 'agent-ready', agentId });
    return this.view(agentId);
  }

  async setNotReady(agentId: string, reasonCode: string): Promise<AgentView> {
    this.rostered(agentId);
    if (!this.codes.notReadyReasons.includes(reasonCode)) {
      throw invalidArgument(
        'reasonCode',
        `"${reasonCode}" is not a configured not-ready reason (${this.codes.notReadyReasons.join(', ')})`,
      );
    }
    this.engine.dispatch({ type: 'agent-not-ready', agentId, reason: reasonCode });
    return this.view(agentId);
  }

  async answer(agentId: string, callId: string): Promise<AgentView> {
    this.rostered(agentId);
    this.engine.dispatch({ type: 'agent-answered', agentId, callId });
    return this.view(agentId);
  }

  async hangup(agentId: string, callId: string): Promise<AgentView> {
    this.rostered(agentId);
    this.engine.dispatch({ type: 'agent-hung-up', agentId, callId });
    return this.view(agentId);
  }

  async transfer(agentId: string, callId: string, queueId: string): Promise<AgentView> {
    this.holding(agentId, callId);
    if (!this.engine.queueIds().includes(queueId)) throw notFound('queue', queueId);
    this.engine.dispatch({ type: 'transfer', callId, toQueueId: queueId });
    return this.view(agentId);
  }

  async completeWrapup(agentId: string, callId: string, wrapupCode: string): Promise<AgentView> {
    if (!this.codes.wrapupCodes.includes(wrapupCode)) {
      throw invalidArgument(
        'wrapupCode',
        `"${wrapupCode}" is not a configured wrap-up code (${this.codes.wrapupCodes.join(', ')})`,
      );
    }
    this.holding(agentId, callId);
    this.onWrapupCode(callId, wrapupCode);
    this.engine.dispatch({ type: 'wrapup-done', agentId, wrapupCode });
    return this.view(agentId);
  }

  async agent(agentId: string): Promise<AgentView> {
    return this.view(agentId);
  }

  async unlockPin(agentId: string, req: DeskPinUnlock): Promise<DeskPinUnlockResult> {
    let view: AgentView;
    try {
      view = this.view(agentId);
      if (!this.pins) throw failedPrecondition('this site does not unlock PINs from the desk');
    } catch (e) {
      // SitePinUnlock logs the refusals it makes; these two come before it is asked, and every
      // refusal is logged once with who and why (docs/architecture.md §3.10).
      this.refusals.refused({
        agentId,
        callId: req.callId,
        customerId: req.customerId,
        kind: isDomainError(e) ? e.kind : 'internal',
        why: errorMessage(e),
      });
      throw e;
    }
    return this.pins.unlock(view, req);
  }

  subscribe(agentId: string, listener: (e: DeskEvent) => void): () => void {
    this.rostered(agentId);
    let set = this.listeners.get(agentId);
    if (!set) this.listeners.set(agentId, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  /** Push an event to every listener of the agent's desk. */
  emit(agentId: string, event: DeskEvent): void {
    for (const l of this.listeners.get(agentId) ?? []) {
      try {
        l(event);
      } catch {
        // A desk listener's failure is the listener's problem; the call goes on.
      }
    }
  }

  rosterIds(): string[] {
    return [...this.roster.keys()];
  }
}
