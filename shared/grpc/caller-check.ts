/**
 * The adapter half of identity.ts: run a caller check on a server call, and log a refusal
 * once, at the refusing server, with who (the certificate's kind and id, or the connection
 * when there is no usable certificate) and why (issue 10, finding 4). The client gets the
 * same error as before; nothing else logs it (shared/grpc/status.ts logs only unexpected
 * errors), so each refusal is one line.
 */
import { DomainError } from '../errors.js';
import type { Logger } from '../log.js';
import { peerIdentity, type CallWithAuthContext, type Identity } from './identity.js';

/** A server call as far as the check needs it; `getPath` names the method in the log line. */
export type CheckedCall = CallWithAuthContext & { getPath?: () => string };

export function checkCaller<T>(call: CheckedCall, log: Logger, check: (who: Identity) => T): T {
  let who: Identity | undefined;
  try {
    who = peerIdentity(call);
    return check(who);
  } catch (e) {
    if (e instanceof DomainError && (e.kind === 'unauthenticated' || e.kind === 'permission-denied')) {
      log.warn('rpc refused', {
        method: typeof call.getPath === 'function' ? call.getPath() : undefined,
        peer: who ? `${who.kind} ${who.id}` : typeof call.getPeer === 'function' ? call.getPeer() : undefined,
        kind: e.kind,
        reason: e.message,
      });
    }
    throw e;
  }
}

/**
 * Log, in the same `rpc refused` shape, a refusal decided after the identity check (a site
 * changing a field of another site's customer): who from the certificate, the field at fault.
 * For the handler to call once where it refuses, so the line is not repeated elsewhere.
 */
export function logRefused(call: CheckedCall, log: Logger, who: Identity, e: DomainError): void {
  log.warn('rpc refused', {
    method: typeof call.getPath === 'function' ? call.getPath() : undefined,
    peer: `${who.kind} ${who.id}`,
    kind: e.kind,
    reason: e.message,
    ...(e.field ? { field: e.field } : {}),
  });
}
