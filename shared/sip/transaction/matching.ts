/**
 * Which transaction a message belongs to (RFC 3261 §17.1.3, §17.2.3, §9.2). The key is a
 * string the adapter uses in its transaction table.
 *
 * - Client side, for a response: the top Via branch (which we generated) and the CSeq
 *   method, so the 200 to a CANCEL never lands in the INVITE it cancels (same branch).
 * - Server side, for a request: branch, sent-by and method, where an ACK counts as INVITE
 *   (it acknowledges a 3xx-6xx final of that INVITE transaction). A CANCEL is its own
 *   transaction; `cancelledKey` names the INVITE transaction it asks to cancel.
 *
 * Only RFC 3261 branches (starting with the magic cookie `z9hG4bK`, unique per transaction)
 * are matched. An RFC 2543 peer's branch is not unique, and matching its requests needs the
 * whole dialog identity (§17.2.3's long rule); this stack refuses such requests instead, so
 * the adapter answers 400 naming the Via header.
 */
import { invalidArgument } from '../../errors.js';
import type { TxRequest, TxResponse } from './types.js';

export const MAGIC_COOKIE = 'z9hG4bK';

export type TransactionKey = string & { readonly __transactionKey: true };

export const isRfc3261Branch = (branch: string): boolean =>
  branch.startsWith(MAGIC_COOKIE) && branch.length > MAGIC_COOKIE.length;

/**
 * A branch for a request we send: the cookie and `unique`, which the caller makes unique
 * per transaction (a random id). Refuses a `unique` that is not a SIP token (RFC 3261 §25.1).
 */
export function branchFor(unique: string): string {
  if (!/^[A-Za-z0-9.!%*_+`'~-]+$/.test(unique)) {
    throw invalidArgument('branch', `${JSON.stringify(unique)} is not a SIP token`);
  }
  return MAGIC_COOKIE + unique;
}

const key = (...parts: string[]): TransactionKey => parts.join('|') as TransactionKey;

/** sent-by compares with the host case-insensitively (a host name is); the port as written. */
const normalSentBy = (sentBy: string): string => sentBy.toLowerCase();

function checkBranch(branch: string): void {
  if (!isRfc3261Branch(branch)) {
    throw invalidArgument(
      'Via.branch',
      `${JSON.stringify(branch)} lacks the RFC 3261 magic cookie ${MAGIC_COOKIE}; pre-RFC 3261 peers are not supported`,
    );
  }
}

/** The client transaction a request we send creates. */
export function clientKeyOfRequest(request: Pick<TxRequest<unknown>, 'branch' | 'method'>): TransactionKey {
  checkBranch(request.branch);
  return key('c', request.branch, request.method);
}

/**
 * The client transaction a received response belongs to. No refusal here: a response whose
 * branch is not one of ours simply matches nothing and is dropped as a stray (RFC 6026 §7.2).
 */
export const clientKeyOfResponse = (
  response: Pick<TxResponse<unknown>, 'branch' | 'cseqMethod'>,
): TransactionKey => key('c', response.branch, response.cseqMethod);

/** The server transaction a received request belongs to (or creates). Throws for a pre-3261 branch. */
export function serverKeyOfRequest(
  request: Pick<TxRequest<unknown>, 'branch' | 'sentBy' | 'method'>,
): TransactionKey {
  checkBranch(request.branch);
  const method = request.method === 'ACK' ? 'INVITE' : request.method;
  return key('s', request.branch, normalSentBy(request.sentBy), method);
}

/** The INVITE server transaction a CANCEL asks to cancel (RFC 3261 §9.2): same branch and sent-by. */
export function cancelledKey(
  cancel: Pick<TxRequest<unknown>, 'branch' | 'sentBy' | 'method'>,
): TransactionKey {
  if (cancel.method !== 'CANCEL') {
    throw invalidArgument('request.method', `only a CANCEL cancels a transaction, not ${cancel.method}`);
  }
  return serverKeyOfRequest({ ...cancel, method: 'INVITE' });
}
