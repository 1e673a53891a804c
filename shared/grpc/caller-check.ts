/**
 * The adapter half of identity.ts: run a caller check on a server call, and log a refusal
 * once, at the refusing server, with who (the certificate's kind and id, or `no certificate`)
 * and why, the method and the peer's address, throttled per address (refusal-log.ts). The
 * client gets the same error as before; nothing else logs it (shared/grpc/status.ts logs only
 * unexpected errors), so each refusal is one line or one count in a summary.
 */
import { DomainError } from '../errors.js';
import { peerIdentity, type CallWithAuthContext, type Identity } from './identity.js';
import { peerAddressOf, type RefusalLog } from './refusal-log.js';

/** A server call as far as the check needs it; `getPath` names the method in the log line. */
export type CheckedCall = CallWithAuthContext & { getPath?: () => string };

export function checkCaller<T>(call: CheckedCall, refusals: RefusalLog, check: (who: Identity) => T): T {
  let who: Identity | undefined;
  try {
    who = peerIdentity(call);
    return check(who);
  } catch (e) {
    if (e instanceof DomainError && (e.kind === 'unauthenticated' || e.kind === 'permission-denied')) {
      record(call, refusals, who ? `${who.kind} ${who.id}` : 'no certificate', e);
    }
    throw e;
  }
}

function record(call: CheckedCall, refusals: RefusalLog, who: string, e: DomainError): void {
  refusals.refused({
    method: typeof call.getPath === 'function' ? call.getPath() : undefined,
    who,
    peer: peerAddressOf(typeof call.getPeer === 'function' ? call.getPeer() : undefined),
    kind: e.kind,
    reason: e.message,
    ...(e.field ? { field: e.field } : {}),
  });
}

/**
 * Log, in the same `rpc refused` shape, a refusal decided after the identity check (a site
 * changing a field of another site's customer): who from the certificate, the field at fault.
 * For the handler to call once where it refuses, so the line is not repeated elsewhere.
 */
export function logRefused(call: CheckedCall, refusals: RefusalLog, who: Identity, e: DomainError): void {
  record(call, refusals, `${who.kind} ${who.id}`, e);
}
