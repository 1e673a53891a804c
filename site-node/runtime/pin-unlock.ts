/**
 * The site's side of an agent lifting a customer's PIN lock (docs/architecture.md §4.3): the
 * thin adapter around the pure rule (site-node/cti/pin-unlock-rule.ts). It asks the rule, then
 * the customer's bank host (routed to their home host), then records the unlock in the site's
 * outbox as a `customer.pin-unlocked` event, so the hub sees it too. The agent is answered
 * only once both records are committed.
 *
 * Every refusal (the rule's, or the host's) is logged once here with who and why, and changes
 * nothing. If the host lifted the lock but the event could not be written, the agent is told
 * the request failed and the error log says so; the host's own record of the unlock stands,
 * and the agent's retry (answered not-locked) writes the event.
 */
import type pg from 'pg';
import type { BankHost } from '../../shared/bank-host/port.js';
import type { Clock } from '../../shared/clock.js';
import { DomainError, errorMessage, unavailable } from '../../shared/errors.js';
import { appendToOutbox, makeEvent } from '../../shared/events/index.js';
import type { Logger } from '../../shared/log.js';
import { withTransaction } from '../../shared/pg/transaction.js';
import type { AgentView, DeskPinUnlock, DeskPinUnlockResult } from '../cti/agent-desk.js';
import { decidePinUnlock, type PinUnlockFacts } from '../cti/pin-unlock-rule.js';
import { PinRefusalLog } from './pin-refusal-log.js';

/** The payload of a `customer.pin-unlocked` event (schemaVersion 1). Never the PIN. */
export type PinUnlockedPayload = {
  customerId: string;
  agentId: string;
  callId: string;
  /** How the agent verified the caller (UNLOCK_METHODS) and what was checked. */
  method: string;
  detail: string;
  reason: string;
  /** False when the host had no lock in force (its wrong-PIN count was reset all the same). */
  wasLocked: boolean;
};

export interface SitePinUnlockDeps {
  siteId: string;
  bank: BankHost;
  pool: pg.Pool;
  clock: Clock;
  log: Logger;
  /** Where refusals are logged, throttled per agent; default one over `log`. */
  refusals?: PinRefusalLog;
  /** The live call's agent and the customer its caller was identified as; undefined when gone. */
  callFacts(callId: string): PinUnlockFacts['call'];
}

export class SitePinUnlock {
  private readonly refusals: PinRefusalLog;
  constructor(private readonly d: SitePinUnlockDeps) {
    this.refusals = d.refusals ?? new PinRefusalLog(d.log);
  }

  async unlock(agent: AgentView, req: DeskPinUnlock): Promise<DeskPinUnlockResult> {
    const { log } = this.d;
    const agentId = agent.agentId;
    const who = { agentId, callId: req.callId, customerId: req.customerId };
    const decision = decidePinUnlock({ agentId, ...req }, { agent, call: this.d.callFacts(req.callId) });
    if (!decision.allow) {
      this.refusals.refused({ ...who, kind: decision.kind, why: decision.why });
      throw new DomainError(decision.kind, decision.why, decision.field ? { field: decision.field } : {});
    }
    let wasLocked: boolean;
    try {
      const res = await this.d.bank.unlockPin({
        customerId: req.customerId,
        // The host's record says which site's agent, and how identity was verified.
        by: `${this.d.siteId}/${agentId}`,
        reason: `${decision.method}: ${req.reason}`,
      });
      wasLocked = res.status === 'unlocked';
    } catch (e) {
      this.refusals.refused(
        { ...who, kind: 'bank host', why: errorMessage(e) },
        'pin unlock refused by the bank host',
      );
      throw e;
    }
    const payload: PinUnlockedPayload = {
      ...who,
      method: decision.method,
      detail: req.verification.detail,
      reason: req.reason,
      wasLocked,
    };
    const event = makeEvent({
      type: 'customer.pin-unlocked',
      siteId: this.d.siteId,
      aggregateId: req.customerId,
      occurredAtMs: this.d.clock.now(),
      payload,
    });
    try {
      await withTransaction(this.d.pool, (c) => appendToOutbox(c, event));
    } catch (e) {
      log.error('pin unlocked at the bank host but not recorded at the site', { ...who, wasLocked, err: e });
      throw unavailable(
        `the unlock of customer ${req.customerId} could not be recorded at the site; try again`,
        e,
      );
    }
    log.info('pin unlocked', { ...who, method: decision.method, wasLocked, eventId: event.id });
    return { customerId: req.customerId, wasLocked, eventId: event.id };
  }
}
