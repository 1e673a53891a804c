/**
 * A request received inside a dialog (RFC 3261 §12.2.2): does it belong, is it in order,
 * does it move the peer's target. Pure: the dialog (or none) and the request in, a verdict
 * out. A refusal is a SIP answer for the peer, not an exception: the peer's own state
 * decides these, so the adapter answers and logs them once.
 *
 * - No dialog with the request's Call-ID and tags: 481.
 * - A CSeq lower than the highest the peer used: 500, the request is out of order. An equal
 *   one is not refused here: a resent request is absorbed by its server transaction before
 *   it gets this far, and RFC 3261 refuses only lower numbers.
 * - ACK and CANCEL carry the CSeq number of the INVITE they belong to: no check, no update.
 * - A re-INVITE or UPDATE with a Contact moves the remote target (a target refresh, §12.2.2;
 *   RFC 3311 §5.2). The new target is taken when the request is accepted; a UAS that then
 *   refuses the request would, by the letter of §12.2.2, keep the old one, which the leg
 *   never does (it answers refreshes 200 or 491).
 */
import { callId, contacts, cseq } from '../headers.js';
import type { SipRequest } from '../message.js';
import { dialogKey, dialogKeyOfRequest, type Dialog } from './dialog.js';

export type InDialogVerdict =
  | { readonly kind: 'accept'; readonly dialog: Dialog }
  | {
      readonly kind: 'refuse';
      readonly status: 481 | 500;
      /** For the log line: what was wrong, naming the header. */
      readonly problem: string;
    };

const NO_CSEQ_CHECK = new Set(['ACK', 'CANCEL']);
const TARGET_REFRESH = new Set(['INVITE', 'UPDATE']);

export function receiveInDialog(dialog: Dialog | undefined, request: SipRequest): InDialogVerdict {
  const key = dialogKeyOfRequest(request);
  if (dialog === undefined || key === undefined || key !== dialogKey(dialog.id)) {
    return {
      kind: 'refuse',
      status: 481,
      problem: `no dialog with Call-ID ${JSON.stringify(callId(request))} and these tags`,
    };
  }
  if (NO_CSEQ_CHECK.has(request.method)) return { kind: 'accept', dialog };
  const seq = cseq(request).seq;
  if (dialog.remoteSeq !== undefined && seq < dialog.remoteSeq) {
    return {
      kind: 'refuse',
      status: 500,
      problem: `CSeq ${seq} is lower than the peer's last ${dialog.remoteSeq}: out of order`,
    };
  }
  let next: Dialog = { ...dialog, remoteSeq: seq };
  if (TARGET_REFRESH.has(request.method)) {
    const list = contacts(request);
    const target = list === '*' ? undefined : list[0]?.uri;
    if (target !== undefined) next = { ...next, remoteTarget: target };
  }
  return { kind: 'accept', dialog: next };
}
