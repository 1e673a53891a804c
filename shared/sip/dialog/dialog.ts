/**
 * A SIP dialog (RFC 3261 §12): the peer-to-peer relationship an INVITE sets up, and what
 * every later request in it is built from. Pure: messages in, a new Dialog value out.
 *
 * - Its id is the Call-ID and the two tags. Ours is the local tag: the From tag of our
 *   INVITE as UAC, the To tag we add to our 1xx/2xx as UAS.
 * - The local sequence number counts our requests; the remote one is the highest CSeq the
 *   peer used, so a request from the past is refused (requests.ts, incoming.ts). A UAS has
 *   no local number until it sends its first request (§12.1.1), a UAC no remote one until
 *   the peer sends one.
 * - The remote target is the peer's Contact, where in-dialog requests go; a re-INVITE or
 *   UPDATE may move it (a target refresh, incoming.ts).
 * - The route set is the Record-Route of the request (UAS) or of the response, reversed
 *   (UAC): the proxies that asked to stay on the path, in the order our requests visit them.
 *
 * A dialog starts `early` on a 1xx with a To tag and becomes `confirmed` on the 2xx. A UAC
 * whose INVITE forked may see 1xx responses with other To tags; the leg keeps only the first
 * early dialog and lets the others be (leg/outbound.ts).
 */
import { invalidArgument } from '../../errors.js';
import { callId, contacts, cseq, fromHeader, recordRoutes, toHeader } from '../headers.js';
import { headerValues, type SipHeader, type SipRequest, type SipResponse } from '../message.js';

export type DialogState = 'early' | 'confirmed';

export interface DialogId {
  readonly callId: string;
  readonly localTag: string;
  /** Empty when the peer sent no tag (an RFC 2543 peer; §12.1.1 allows a null tag). */
  readonly remoteTag: string;
}

export interface Dialog {
  readonly id: DialogId;
  readonly role: 'uac' | 'uas';
  readonly state: DialogState;
  readonly localSeq: number | undefined;
  readonly remoteSeq: number | undefined;
  /** The From URI of our requests, the To URI of theirs. */
  readonly localUri: string;
  readonly remoteUri: string;
  /** Our Contact URI: what we put in target-refresh requests and in our 2xx. */
  readonly localTarget: string;
  /** The peer's Contact URI: the Request-URI of in-dialog requests (loose routing). */
  readonly remoteTarget: string;
  /** Route URIs in the order our requests visit them (each as inside its `<>`). */
  readonly routeSet: readonly string[];
}

/** One key per dialog, for the adapter's table; the same from either side's messages. */
export type DialogKey = string & { readonly __dialogKey: true };

export const dialogKey = (id: DialogId): DialogKey =>
  `${id.callId}|${id.localTag}|${id.remoteTag}` as DialogKey;

/**
 * The dialog a request we received claims to belong to: our tag is its To tag, the peer's its
 * From tag. Undefined for a request outside any dialog (no To tag): an initial request.
 */
export function dialogKeyOfRequest(request: SipRequest): DialogKey | undefined {
  const localTag = toHeader(request).tag;
  if (localTag === undefined) return undefined;
  return dialogKey({ callId: callId(request), localTag, remoteTag: fromHeader(request).tag ?? '' });
}

/** The dialog a response to our request belongs to (our tag is its From tag). */
export function dialogKeyOfResponse(response: SipResponse): DialogKey | undefined {
  const remoteTag = toHeader(response).tag;
  const localTag = fromHeader(response).tag;
  if (remoteTag === undefined || localTag === undefined) return undefined;
  return dialogKey({ callId: callId(response), localTag, remoteTag });
}

/** The first Contact URI; a dialog-creating message must carry one (RFC 3261 §8.1.1.8, §12.1). */
function contactUri(msg: SipRequest | SipResponse, what: string): string | undefined {
  const list = contacts(msg);
  if (list === '*') throw invalidArgument('Contact', `${what} has Contact "*", which is for REGISTER only`);
  return list[0]?.uri;
}

const isSipToken = (s: string): boolean => /^[A-Za-z0-9.!%*_+`'~-]+$/.test(s);

/**
 * The dialog we set up as UAS by answering `invite` with a 1xx or 2xx carrying `localTag`
 * (confirmed when that answer is the 2xx). `localTarget` is the Contact URI we answer with.
 */
export function createUasDialog(
  invite: SipRequest,
  opts: { localTag: string; localTarget: string; state: DialogState },
): Dialog {
  if (invite.method !== 'INVITE') {
    throw invalidArgument('request.method', `a dialog is created by an INVITE, not ${invite.method}`);
  }
  if (!isSipToken(opts.localTag)) {
    throw invalidArgument('localTag', `${JSON.stringify(opts.localTag)} is not a SIP token`);
  }
  const remoteTarget = contactUri(invite, 'the INVITE');
  if (remoteTarget === undefined) throw invalidArgument('Contact', 'the INVITE has no Contact');
  const from = fromHeader(invite);
  return {
    id: { callId: callId(invite), localTag: opts.localTag, remoteTag: from.tag ?? '' },
    role: 'uas',
    state: opts.state,
    localSeq: undefined,
    remoteSeq: cseq(invite).seq,
    localUri: toHeader(invite).uri,
    remoteUri: from.uri,
    localTarget: opts.localTarget,
    remoteTarget,
    // The UAS keeps the Record-Route order: its requests go back towards the caller.
    routeSet: recordRoutes(invite).map((r) => r.uri),
  };
}

/**
 * The dialog a response with a To tag to our INVITE sets up as UAC: early on a 101-199,
 * confirmed on a 2xx. A response without Contact (some 18x do) gets the INVITE's
 * Request-URI as remote target until the 2xx names one.
 */
export function createUacDialog(invite: SipRequest, response: SipResponse): Dialog {
  checkUacResponse(invite, response);
  const remoteTag = toHeader(response).tag!;
  return {
    id: { callId: callId(invite), localTag: fromHeader(invite).tag!, remoteTag },
    role: 'uac',
    state: response.status >= 200 ? 'confirmed' : 'early',
    localSeq: cseq(invite).seq,
    remoteSeq: undefined,
    localUri: fromHeader(invite).uri,
    remoteUri: toHeader(invite).uri,
    localTarget: contactUri(invite, 'our INVITE') ?? invite.uri,
    remoteTarget: contactUri(response, `the ${response.status}`) ?? invite.uri,
    routeSet: recordRoutes(response)
      .map((r) => r.uri)
      .reverse(),
  };
}

/**
 * An early UAC dialog confirmed by the 2xx of the same To tag: the route set and remote
 * target are taken again from the 2xx (RFC 3261 §13.2.2.4), which is authoritative.
 */
export function confirmUacDialog(dialog: Dialog, invite: SipRequest, response: SipResponse): Dialog {
  const fresh = createUacDialog(invite, response);
  if (dialogKey(fresh.id) !== dialogKey(dialog.id)) {
    throw invalidArgument(
      'To.tag',
      `the ${response.status} has To tag ${JSON.stringify(fresh.id.remoteTag)}, not this dialog's ${JSON.stringify(dialog.id.remoteTag)}`,
    );
  }
  if (fresh.state !== 'confirmed') return dialog;
  return { ...dialog, state: 'confirmed', remoteTarget: fresh.remoteTarget, routeSet: fresh.routeSet };
}

/**
 * The Record-Route headers of a dialog-creating request, for our 1xx/2xx to it: RFC 3261
 * §12.1.1 has the UAS copy them, values and order as received, so each proxy on the path
 * sees itself and the caller builds the same route set.
 */
export const recordRouteCopy = (request: SipRequest): SipHeader[] =>
  headerValues(request, 'Record-Route').map((value) => ({ name: 'Record-Route', value }));

/** A UAS dialog made confirmed by our 2xx (only the state changes). */
export const confirmUasDialog = (dialog: Dialog): Dialog =>
  dialog.state === 'confirmed' ? dialog : { ...dialog, state: 'confirmed' };

function checkUacResponse(invite: SipRequest, response: SipResponse): void {
  if (invite.method !== 'INVITE') {
    throw invalidArgument('request.method', `a dialog is created by an INVITE, not ${invite.method}`);
  }
  if (response.status <= 100 || response.status >= 300) {
    throw invalidArgument('response.status', `a ${response.status} creates no dialog (101-299 do)`);
  }
  if (toHeader(response).tag === undefined) throw invalidArgument('To.tag', 'the response has no To tag');
  if (fromHeader(invite).tag === undefined) throw invalidArgument('From.tag', 'our INVITE has no From tag');
  if (callId(response) !== callId(invite) || cseq(response).seq !== cseq(invite).seq) {
    throw invalidArgument('response', 'the response does not answer this INVITE (Call-ID or CSeq differ)');
  }
}
