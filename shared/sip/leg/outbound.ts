/**
 * The outbound call leg: an agent's phone, a callback's customer or another site's trunk (a
 * hand-over); we are the UAC (RFC 3261 §13.2, §9.1, §15).
 *
 * ```
 *   start: INVITE with our offer sent, ring timer started
 *        |
 *        v        1xx with a To tag (an early dialog)
 *    calling ---------------------------------------> ringing
 *        |  \                                            |  \
 *        |   +-- 3xx-6xx, or the INVITE timed out -------|---+----------------------> ended
 *        |                                               |      busy, unavailable, failed
 *        | ring timeout or hangup                        | ring timeout or hangup: CANCEL
 *        | (CANCEL waits for a 1xx)                      v
 *        +-------------------------------------------> cancelling -- 487, any other
 *        |                                               |           final, timeout --> ended
 *        | 2xx: ACK; answered                            | 2xx crossed the CANCEL:      no-answer
 *        v                                               | ACK, then BYE                or cancelled
 *    confirmed -- hangup, session expiry, RTP silence -> ending <--+
 *        |        (BYE)                                    |
 *        +-- BYE: 200 ------------------> ended             +-- BYE final (or its timeout) --> ended
 *
 *   in confirmed: a resent 2xx is ACKed again; a 2xx from another fork is ACKed and hung up
 *   a 422 before any 1xx: the INVITE again with the Min-SE it asked for (once)
 * ```
 *
 * Outcomes: 486 and 600 are `busy`; 404, 408, 480 and a transaction timeout or transport
 * error are `unavailable`; any other final is `failed` with its status. An answer we cannot
 * use (no SDP, no G.711) is ACKed and hung up: `failed` with 488.
 *
 * RFC 3261 §9.1 forbids a CANCEL before a provisional response, so a ring timeout in
 * `calling` waits in `cancelling` for the first 1xx to send it; if none comes the INVITE's
 * own timer B ends it. The session timer runs as the 2xx granted it (session-expires.ts).
 */
import { invalidArgument } from '../../errors.js';
import { buildOffer, readAnswer } from '../../media/sdp.js';
import { SdpNotAcceptable } from '../../media/sdp-refusal.js';
import { readMinSe, readUacResponse, uacRequestHeaders } from '../../media/session-expires.js';
import { sessionTimer } from '../../media/session-timer.js';
import { callId, cseq, fromHeader, toHeader } from '../headers.js';
import { headerValue, type SipHeader, type SipRequest, type SipResponse } from '../message.js';
import { isToken } from '../syntax.js';
import { confirmUacDialog, createUacDialog } from '../dialog/dialog.js';
import { buildCancel, buildInvite } from '../dialog/requests.js';
import { guardLeg } from './illegal-event.js';
import {
  allows,
  hangUpStanding,
  inDialogRequest,
  inDialogRequestFailed,
  inDialogResponse,
  inDialogTimer,
  sessionStep,
} from './in-dialog.js';
import { ALLOW, headersOf, LegStep, SDP_TYPE } from './step.js';
import type { LegEnd, LegEvent, LegOptions, LegState, LegStepResult } from './types.js';

export type OutboundPhase = 'calling' | 'ringing' | 'cancelling' | 'confirmed' | 'ending' | 'ended';

export type OutboundEvent = LegEvent;

/** Whom we call and as whom. */
export interface OutboundTarget {
  readonly requestUri: string;
  readonly toUri: string;
  /** The identity we present (the site's number, or the caller's for an agent's screen). */
  readonly fromUri: string;
  readonly fromDisplayName?: string;
  /** An outbound proxy, pre-loaded as Route (each URI as inside its `<>`). */
  readonly routes?: readonly string[];
  /**
   * Headers of the caller's own to put on the INVITE, after the ones the leg writes (a site's
   * hand-over token, docs/sip.md "Handing a caller to another site"). Kept on the INVITE sent
   * again after a 422. A name that is not a token, a header the leg writes itself, or a value
   * with a CR or LF is refused at the start.
   */
  readonly extraHeaders?: readonly SipHeader[];
}

/** What the leg writes itself: an extra header may not stand in for one of them. */
const OWN_HEADERS = new Set(
  [
    'via',
    'max-forwards',
    'route',
    'from',
    'to',
    'call-id',
    'cseq',
    'contact',
    'content-type',
    'content-length',
    'allow',
    'supported',
    'session-expires',
    'min-se',
  ].concat(['v', 'f', 't', 'i', 'm', 'c', 'l', 'k', 'x']),
);

function checkExtraHeaders(headers: readonly SipHeader[]): void {
  headers.forEach((h, i) => {
    const field = `extraHeaders[${i}]`;
    if (!isToken(h.name)) throw invalidArgument(field, `the name ${JSON.stringify(h.name)} is not a token`);
    if (OWN_HEADERS.has(h.name.toLowerCase())) {
      throw invalidArgument(field, `${h.name} is written by the leg itself`);
    }
    if (/[\r\n]/.test(h.value)) throw invalidArgument(field, `the value of ${h.name} holds a CR or LF`);
  });
}

export interface OutboundLeg extends LegState<OutboundPhase> {
  readonly target: OutboundTarget;
  /** Ring timeout or hang-up before any 1xx: the CANCEL goes when the first 1xx comes. */
  readonly cancelPending: boolean;
  /** We already sent the INVITE again after a 422 (once is enough). */
  readonly retried422: boolean;
}

type Fx = LegStep<OutboundLeg>;

const ACCEPTS: Readonly<Record<OutboundPhase, readonly OutboundEvent['type'][]>> = {
  calling: ['hangup', 'response', 'request', 'request-failed', 'timer'],
  ringing: ['hangup', 'response', 'request', 'request-failed', 'timer'],
  cancelling: ['hangup', 'response', 'request', 'request-failed'],
  confirmed: ['hangup', 'request', 'response', 'request-failed', 'timer', 'media-timeout'],
  ending: ['hangup', 'request', 'response', 'request-failed', 'media-timeout'],
  ended: [],
};

function ourInvite(
  target: OutboundTarget,
  options: LegOptions,
  ids: { callId: string; fromTag: string; seq: number },
  offer: string,
  minSeFrom422: number | null,
): SipRequest {
  return buildInvite(
    {
      ...target,
      fromTag: ids.fromTag,
      callId: ids.callId,
      seq: ids.seq,
      contact: options.contact,
    },
    options.via,
    options.ids.branch(),
    {
      headers: [
        SDP_TYPE,
        ALLOW,
        ...headersOf(uacRequestHeaders(options.sessionTimer, minSeFrom422)),
        ...(target.extraHeaders ?? []),
      ],
      body: Buffer.from(offer),
    },
  );
}

/** Call out: the INVITE with our offer, and the ring timer (the site's, e.g. 15 s). */
export function startOutboundLeg(
  target: OutboundTarget,
  options: LegOptions,
  ringTimeoutMs: number,
  nowMs: number,
): LegStepResult<OutboundLeg> {
  if (!Number.isInteger(ringTimeoutMs) || ringTimeoutMs <= 0) {
    throw invalidArgument('ringTimeoutMs', `must be a positive whole number of ms, not ${ringTimeoutMs}`);
  }
  checkExtraHeaders(target.extraHeaders ?? []);
  const offer = buildOffer(options.audio);
  const invite = ourInvite(
    target,
    options,
    { callId: options.ids.callId(), fromTag: options.ids.tag(), seq: 1 },
    offer,
    null,
  );
  const state: OutboundLeg = {
    phase: 'calling',
    options,
    target,
    invite,
    dialog: undefined,
    timers: {},
    session: sessionTimer(),
    local: options.audio,
    localSdp: offer,
    audio: undefined,
    mediaOn: false,
    unacked2xx: undefined,
    lastAck: undefined,
    peerAllowsUpdate: false,
    refreshSeq: undefined,
    byeSeq: undefined,
    end: undefined,
    byeAfterAck: undefined,
    cancelPending: false,
    retried422: false,
  };
  const fx = new LegStep(state, nowMs);
  fx.sendRequest(invite).start('ring', ringTimeoutMs);
  return fx.result();
}

export function stepOutboundLeg(
  state: OutboundLeg,
  event: OutboundEvent,
  nowMs: number,
): LegStepResult<OutboundLeg> {
  guardLeg('outbound', state.phase, ACCEPTS, event, state.timers);
  const fx = new LegStep<OutboundLeg>(state, nowMs);
  const standing = state.phase === 'confirmed' || state.phase === 'ending';
  switch (event.type) {
    case 'hangup':
      if (standing) hangUpStanding(fx, { reason: 'local' });
      else if (state.phase !== 'cancelling') startCancel(fx, { reason: 'cancelled' });
      break;
    case 'timer':
      if (event.name === 'ring') {
        fx.fired('ring');
        startCancel(fx, { reason: 'no-answer' });
      } else inDialogTimer(fx, event.name);
      break;
    case 'response':
      if (standing) inDialogResponse(fx, event.response);
      else beforeAnswerResponse(fx, event.response);
      break;
    case 'request':
      if (standing) inDialogRequest(fx, event.request);
      else if (event.request.method !== 'ACK') {
        // The callee has no business sending requests before its 2xx.
        fx.respond(event.request, 481);
        fx.refusal(event.request, 481, `${event.request.method} before the call was answered`);
      }
      break;
    case 'request-failed':
      if (standing) inDialogRequestFailed(fx, event);
      else if (event.method === 'INVITE' && event.seq === cseq(state.invite).seq) {
        fx.cancel('ring');
        fx.finish({ reason: 'unavailable', detail: `the INVITE's transaction: ${event.reason}` });
      }
      break;
    case 'media-timeout':
      hangUpStanding(fx, { reason: 'timeout', detail: 'no RTP from the far end' });
      break;
  }
  return fx.result();
}

function startCancel(fx: Fx, end: LegEnd): void {
  fx.decide(end).cancel('ring');
  const provisional = fx.s.phase === 'ringing';
  fx.s.phase = 'cancelling';
  if (provisional) sendCancel(fx);
  else fx.s.cancelPending = true;
}

function sendCancel(fx: Fx): void {
  fx.s.cancelPending = false;
  fx.sendRequest(buildCancel(fx.s.invite));
}

function beforeAnswerResponse(fx: Fx, res: SipResponse): void {
  const { seq, method } = cseq(res);
  // The CANCEL's own 200, and strays, are absorbed.
  if (method !== 'INVITE' || seq !== cseq(fx.s.invite).seq || res.status === 100) return;
  if (res.status < 200) {
    if (fx.s.dialog === undefined && toHeader(res).tag !== undefined) {
      fx.s.dialog = createUacDialog(fx.s.invite, res);
    }
    if (fx.s.phase === 'calling') fx.s.phase = 'ringing';
    if (fx.s.cancelPending) sendCancel(fx);
    return;
  }
  if (res.status < 300) return answered(fx, res);
  if (res.status === 422 && fx.s.phase !== 'cancelling' && !fx.s.retried422 && retryAfter422(fx, res)) return;
  fx.cancel('ring');
  fx.finish(endOfFinal(res.status));
}

/** What a 3xx-6xx final to our INVITE means for the site (an end already decided wins). */
export function endOfFinal(status: number): LegEnd {
  if (status === 486 || status === 600) return { reason: 'busy', status };
  if (status === 404 || status === 408 || status === 480) return { reason: 'unavailable', status };
  return { reason: 'failed', status };
}

/** RFC 4028 §7.4: the INVITE again, with the Min-SE the 422 named and the next CSeq. */
function retryAfter422(fx: Fx, res: SipResponse): boolean {
  const minSeText = headerValue(res, 'Min-SE');
  let minSe: number;
  try {
    minSe = readMinSe(minSeText ?? '');
  } catch {
    return false; // no usable Min-SE: the 422 is a failure like any other
  }
  const old = fx.s.invite;
  fx.s.invite = ourInvite(
    fx.s.target,
    fx.s.options,
    { callId: callId(old), fromTag: fromHeader(old).tag!, seq: cseq(old).seq + 1 },
    fx.s.localSdp,
    minSe,
  );
  fx.s.retried422 = true;
  fx.s.dialog = undefined;
  fx.s.phase = 'calling';
  fx.sendRequest(fx.s.invite);
  return true;
}

function answered(fx: Fx, res: SipResponse): void {
  const tag = toHeader(res).tag;
  if (tag === undefined) {
    // Nothing to ACK it in: the far end gives up resending it and hangs up by itself.
    fx.cancel('ring');
    fx.finish(fx.s.end ?? { reason: 'failed', status: res.status, detail: 'a 2xx without a To tag' });
    return;
  }
  const early = fx.s.dialog;
  const dialog =
    early !== undefined && early.id.remoteTag === tag
      ? confirmUacDialog(early, fx.s.invite, res)
      : createUacDialog(fx.s.invite, res);
  fx.s.dialog = dialog;
  fx.ack(dialog, cseq(res).seq).cancel('ring');
  if (fx.s.phase === 'cancelling') {
    // The 200 crossed our CANCEL: the call is up at the far end, and nobody wants it.
    fx.bye(fx.s.end!);
    return;
  }
  let audio;
  try {
    audio = readAnswer(res.body.toString('utf8'), fx.s.local);
  } catch (e) {
    if (!(e instanceof SdpNotAcceptable)) throw e;
    fx.bye({ reason: 'failed', status: 488, detail: e.message });
    return;
  }
  fx.s.audio = audio;
  fx.s.peerAllowsUpdate = allows(res, 'UPDATE');
  fx.s.mediaOn = true;
  fx.s.phase = 'confirmed';
  fx.push({ type: 'media-start', audio }).push({ type: 'answered' });
  let granted: ReturnType<typeof readUacResponse>;
  try {
    granted = readUacResponse(headerValue(res, 'Session-Expires') ?? null);
  } catch {
    granted = { kind: 'no-timer' };
  }
  if (granted.kind === 'timer') {
    sessionStep(fx, {
      kind: 'refreshed',
      intervalS: granted.intervalS,
      weRefresh: granted.refresher === 'uac',
    });
  }
}
