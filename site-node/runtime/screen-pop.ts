/**
 * The screen pop an offered agent sees (docs/architecture.md §8): the caller's profile and
 * recent contacts, the IVR path and attached data, and whether the customer's PIN is locked.
 * A lookup that fails leaves its part out rather than holding the offer back.
 */
import type { BankHost } from '../../shared/bank-host/port.js';
import type { CustomerDirectory } from '../../shared/domain/customer.js';
import type { Logger } from '../../shared/log.js';
import type { ScreenPop } from '../cti/agent-desk.js';
import type { LiveCall } from './live-call.js';

export interface ScreenPopDeps {
  directory: CustomerDirectory;
  bank: BankHost;
  log: Logger;
  now(): number;
}

export async function buildScreenPop(
  d: ScreenPopDeps,
  call: LiveCall,
  agentId: string,
  queueId: string,
  answerByMs: number,
): Promise<ScreenPop> {
  let customer;
  let recentContacts: ScreenPop['recentContacts'] = [];
  // Asked alongside the profile, so the pop waits for the slower of the two, not both.
  const pinLock = call.customerId ? pinLockedUntil(d, call.customerId, call.callId) : undefined;
  if (call.customerId) {
    try {
      customer = await d.directory.byId(call.customerId, {
        reason: 'agent-screen-pop',
        callId: call.callId,
        agentId,
      });
      recentContacts = await d.directory.recentContacts(call.customerId, 5);
    } catch (e) {
      // A screen pop without history beats no offer at all.
      d.log.warn('screen pop lookup failed', { callId: call.callId, err: e });
    }
  }
  const pinLockedUntilMs = await pinLock;
  return {
    callId: call.callId,
    queueId,
    ani: call.ani,
    dnis: call.dnis,
    offeredAtMs: d.now(),
    answerByMs,
    ...(customer ? { customer } : {}),
    verified: call.verified,
    ivrPath: call.ivrPath,
    attached: call.attached,
    recentContacts,
    ...(pinLockedUntilMs === undefined ? {} : { pinLockedUntilMs }),
  };
}

/** Until when the customer's PIN is locked at the bank host; undefined if not, or the host cannot say. */
async function pinLockedUntil(
  d: ScreenPopDeps,
  customerId: string,
  callId: string,
): Promise<number | undefined> {
  try {
    const st = await d.bank.pinLockStatus(customerId);
    return st.locked ? st.lockedUntilMs : undefined;
  } catch (e) {
    // The offer goes out without it; the agent can still unlock (the host answers then).
    d.log.warn('screen pop: PIN lock status unavailable', { callId, customerId, err: e });
    return undefined;
  }
}
