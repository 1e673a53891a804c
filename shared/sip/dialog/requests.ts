/**
 * The requests a user agent builds (RFC 3261 §8.1.1, §12.2.1.1, §13.2.2.4, §9.1), as
 * SipRequest values for the serializer. Pure: the branch and tags are passed in (made by
 * the adapter's random source, `SipIds`), so the same inputs give the same request.
 *
 * - In a dialog (BYE, INFO, re-INVITE, UPDATE): the dialog's Call-ID, our tag on From, the
 *   peer's on To, the next local CSeq, and the route set applied. A loose first route (`;lr`)
 *   leaves the remote target as Request-URI with the route set as Route headers; a strict one
 *   becomes the Request-URI and the remote target goes last in Route (§12.2.1.1).
 * - The ACK of a 2xx: the INVITE's CSeq number with method ACK, a branch of its own (it is a
 *   new transaction of nobody's), routed like any in-dialog request.
 * - A CANCEL: the INVITE's Request-URI, Call-ID, From, To (no tag added), top Via with its
 *   branch, CSeq number and Route; method CANCEL (§9.1).
 */
import { invalidArgument } from '../../errors.js';
import { cseq } from '../headers.js';
import { headerValues } from '../message.js';
import type { SipHeader, SipRequest } from '../message.js';
import { splitList } from '../syntax.js';
import type { Dialog } from './dialog.js';

/** Where our requests say they come from (the top Via we add). */
export interface LocalVia {
  /** `UDP`, `TCP`, `TLS`. */
  readonly transport: string;
  /** host[:port] we listen on. */
  readonly sentBy: string;
}

/** Fresh identifiers; the adapter backs them with a random source. Branches include the cookie. */
export interface SipIds {
  branch(): string;
  tag(): string;
  callId(): string;
}

export interface RequestExtras {
  /** More headers, after the ones built here (Content-Type with a body, Session-Expires...). */
  readonly headers?: readonly SipHeader[];
  readonly body?: Buffer;
}

/** RFC 3261 §8.1.1.6's recommended initial value. */
export const MAX_FORWARDS = '70';

/** Methods whose request refreshes the remote target and carries our Contact (§12.2, RFC 3311). */
const TARGET_REFRESH = new Set(['INVITE', 'UPDATE']);

const uriOf = (uri: string): string => `<${uri}>`;
const withTag = (uri: string, tag: string): string => (tag === '' ? uriOf(uri) : `${uriOf(uri)};tag=${tag}`);

/** A route URI is loose when it carries the `lr` parameter (RFC 3261 §19.1.1). */
export function isLooseRoute(uri: string): boolean {
  const beforeHeaders = uri.split('?', 1)[0]!;
  return /;lr(?:[=;]|$)/i.test(beforeHeaders);
}

/** The Request-URI and Route list of an in-dialog request (RFC 3261 §12.2.1.1). */
export function routeOf(dialog: Dialog): { uri: string; routes: readonly string[] } {
  const [first, ...rest] = dialog.routeSet;
  if (first === undefined) return { uri: dialog.remoteTarget, routes: [] };
  if (isLooseRoute(first)) return { uri: dialog.remoteTarget, routes: dialog.routeSet };
  // A strict router expects to find itself in the Request-URI; headers in a URI are not
  // allowed in a Request-URI, so they go.
  return { uri: first.split('?', 1)[0]!, routes: [...rest, dialog.remoteTarget] };
}

function checkBranch(branch: string): void {
  if (!/^z9hG4bK[A-Za-z0-9.!%*_+`'~-]+$/.test(branch)) {
    throw invalidArgument('branch', `${JSON.stringify(branch)} is not an RFC 3261 branch (z9hG4bK...)`);
  }
}

const via = (local: LocalVia, branch: string): SipHeader => {
  checkBranch(branch);
  return { name: 'Via', value: `SIP/2.0/${local.transport.toUpperCase()} ${local.sentBy};branch=${branch}` };
};

function inDialog(
  dialog: Dialog,
  method: string,
  seq: number,
  local: LocalVia,
  branch: string,
  extras: RequestExtras,
): SipRequest {
  const { uri, routes } = routeOf(dialog);
  const headers: SipHeader[] = [
    via(local, branch),
    { name: 'Max-Forwards', value: MAX_FORWARDS },
    ...routes.map((r) => ({ name: 'Route', value: uriOf(r) })),
    { name: 'From', value: withTag(dialog.localUri, dialog.id.localTag) },
    { name: 'To', value: withTag(dialog.remoteUri, dialog.id.remoteTag) },
    { name: 'Call-ID', value: dialog.id.callId },
    { name: 'CSeq', value: `${seq} ${method}` },
  ];
  if (TARGET_REFRESH.has(method)) headers.push({ name: 'Contact', value: uriOf(dialog.localTarget) });
  headers.push(...(extras.headers ?? []));
  return { kind: 'request', method, uri, headers, body: extras.body ?? Buffer.alloc(0) };
}

/**
 * A new request in the dialog (BYE, INFO, re-INVITE, UPDATE...): the next local CSeq, which
 * the returned dialog records. ACK and CANCEL are not built here (buildAck, buildCancel).
 */
export function buildInDialogRequest(
  dialog: Dialog,
  method: string,
  local: LocalVia,
  branch: string,
  extras: RequestExtras = {},
): { dialog: Dialog; request: SipRequest } {
  if (method === 'ACK' || method === 'CANCEL') {
    throw invalidArgument(
      'method',
      `${method} reuses another request's CSeq; use build${method === 'ACK' ? 'Ack' : 'Cancel'}`,
    );
  }
  if (!/^[A-Z]+$/.test(method))
    throw invalidArgument('method', `${JSON.stringify(method)} is not a method name`);
  // A UAS has no local number until its first request; any start will do (§12.1.1), 1 reads best.
  const seq = (dialog.localSeq ?? 0) + 1;
  return {
    dialog: { ...dialog, localSeq: seq },
    request: inDialog(dialog, method, seq, local, branch, extras),
  };
}

/** The ACK of a 2xx to the INVITE (or re-INVITE) whose CSeq number was `inviteSeq`. */
export function buildAck(
  dialog: Dialog,
  inviteSeq: number,
  local: LocalVia,
  branch: string,
  extras: RequestExtras = {},
): SipRequest {
  return inDialog(dialog, 'ACK', inviteSeq, local, branch, extras);
}

/** The CANCEL of an INVITE we sent and that has not had a final response (RFC 3261 §9.1). */
export function buildCancel(invite: SipRequest): SipRequest {
  if (invite.method !== 'INVITE') {
    throw invalidArgument('request.method', `only an INVITE is cancelled, not ${invite.method}`);
  }
  const topVia = headerValues(invite, 'Via')[0];
  if (topVia === undefined) throw invalidArgument('Via', 'the INVITE has no Via');
  const one = (name: string): string => headerValues(invite, name)[0]!;
  const headers: SipHeader[] = [
    // Only the top Via: ours, with the INVITE's branch, so the server finds the INVITE (§9.1).
    { name: 'Via', value: splitList(topVia, 'Via')[0]! },
    { name: 'Max-Forwards', value: MAX_FORWARDS },
    ...headerValues(invite, 'Route').map((value) => ({ name: 'Route', value })),
    { name: 'From', value: one('From') },
    { name: 'To', value: one('To') },
    { name: 'Call-ID', value: one('Call-ID') },
    { name: 'CSeq', value: `${cseq(invite).seq} CANCEL` },
  ];
  return { kind: 'request', method: 'CANCEL', uri: invite.uri, headers, body: Buffer.alloc(0) };
}

/** The parts of a new INVITE outside any dialog (a dial-out or a call to an agent's phone). */
export interface InviteParts {
  readonly requestUri: string;
  /** Our identity (the caller id we present) and the tag that starts our half of the dialog. */
  readonly fromUri: string;
  readonly fromDisplayName?: string;
  readonly fromTag: string;
  readonly toUri: string;
  readonly callId: string;
  readonly seq: number;
  readonly contact: string;
  /** Pre-loaded route (an outbound proxy), each URI as inside its `<>`. */
  readonly routes?: readonly string[];
}

/** A dialog-creating INVITE (RFC 3261 §8.1.1). */
export function buildInvite(
  parts: InviteParts,
  local: LocalVia,
  branch: string,
  extras: RequestExtras = {},
): SipRequest {
  const from =
    parts.fromDisplayName === undefined
      ? withTag(parts.fromUri, parts.fromTag)
      : `${JSON.stringify(parts.fromDisplayName)} ${withTag(parts.fromUri, parts.fromTag)}`;
  if (parts.fromTag === '') throw invalidArgument('fromTag', 'an INVITE needs a From tag');
  const headers: SipHeader[] = [
    via(local, branch),
    { name: 'Max-Forwards', value: MAX_FORWARDS },
    ...(parts.routes ?? []).map((r) => ({ name: 'Route', value: uriOf(r) })),
    { name: 'From', value: from },
    { name: 'To', value: uriOf(parts.toUri) },
    { name: 'Call-ID', value: parts.callId },
    { name: 'CSeq', value: `${parts.seq} INVITE` },
    { name: 'Contact', value: uriOf(parts.contact) },
    ...(extras.headers ?? []),
  ];
  return {
    kind: 'request',
    method: 'INVITE',
    uri: parts.requestUri,
    headers,
    body: extras.body ?? Buffer.alloc(0),
  };
}
