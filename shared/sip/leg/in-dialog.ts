/**
 * What both legs do once their dialog stands (inbound from our 200, outbound from the far
 * end's): requests from the peer, responses to our refreshes and BYE, our 2xx resent until
 * its ACK, the session timer, and hanging up.
 *
 * - BYE: 200, and the leg ends `far-end`. INFO: a key (info-dtmf.ts), 200. OPTIONS: 200.
 *   CANCEL: 200 and nothing else (it came too late: the call goes on, RFC 3261 §9.2).
 *   Other methods: 405 with Allow.
 * - A re-INVITE or UPDATE is a session refresh (RFC 4028) and may carry a new offer: 200
 *   with our SDP, unchanged (same o= version) when the answer is the same, else with the
 *   version bumped and `media-update`. Our own re-INVITE still pending: 491 (glare). Our
 *   2xx to an earlier INVITE still unacknowledged: 500 with Retry-After (RFC 3261 §14.2). An
 *   offer we cannot take: 488, and the call goes on as it was. A re-INVITE without an offer
 *   gets ours in the 200; the answer in its ACK is not read (our media stays as it is).
 * - A 2xx to an INVITE is resent at T1, 2*T1... up to T2 until its ACK; none within 64*T1
 *   ends the session with a BYE (RFC 3261 §13.3.1.4).
 * - The session timer (shared/media/session-timer.ts) runs inside the leg: its wake-ups are
 *   the `session` timer, its refreshes our UPDATE (when the peer's Allow lists it) or
 *   re-INVITE (with our SDP unchanged), its BYE ends the leg `timeout`.
 * - Once our BYE is out (`ending`), a BYE from the peer still gets 200, other requests 481;
 *   the leg ends on the BYE's final or its transaction's failure.
 */
import { isDomainError } from '../../errors.js';
import { answerOffer } from '../../media/sdp.js';
import { SdpNotAcceptable } from '../../media/sdp-refusal.js';
import {
  negotiateAsUas,
  readUacResponse,
  uacRequestHeaders,
  writeSessionExpires,
} from '../../media/session-expires.js';
import { stepSessionTimer, type SessionTimerEvent } from '../../media/session-timer.js';
import { contentType, cseq, supported } from '../headers.js';
import { headerValue, headerValues, type SipHeader, type SipRequest, type SipResponse } from '../message.js';
import { createUacDialog, dialogKey, dialogKeyOfResponse } from '../dialog/dialog.js';
import { receiveInDialog } from '../dialog/incoming.js';
import { buildAck, buildInDialogRequest } from '../dialog/requests.js';
import { readInfoDtmf } from './info-dtmf.js';
import { ALLOW, headersOf, SDP_TYPE, type AnyLeg, type LegStep } from './step.js';
import type { LegEnd, LegEvent, LegTimerName } from './types.js';

type Fx = LegStep<AnyLeg>;

/** RFC 3261 §14.2 asks for 0-10 s at random; a fixed short wait keeps the core pure. */
const RETRY_AFTER_S = '2';

export const contactHeader = (fx: Fx): SipHeader => ({ name: 'Contact', value: `<${fx.s.options.contact}>` });

/** Step the session timer and carry out what it asks. */
export function sessionStep(fx: Fx, event: SessionTimerEvent): void {
  const { timer, commands } = stepSessionTimer(fx.s.session, event, fx.nowMs);
  fx.s.session = timer;
  if (timer.state === 'off') fx.cancel('session');
  for (const c of commands) {
    if (c.kind === 'wake-at') fx.start('session', Math.max(0, c.atMs - fx.nowMs));
    else if (c.kind === 'send-refresh') sendRefresh(fx);
    else fx.bye({ reason: 'timeout', detail: `session timer: ${c.reason}` });
  }
}

/** How we refresh: UPDATE when the peer allows it (no offer, no ACK), else a re-INVITE. */
const refreshMethod = (fx: Fx): 'UPDATE' | 'INVITE' => (fx.s.peerAllowsUpdate ? 'UPDATE' : 'INVITE');

/** Whether a message's Allow lists a method (the parser does not read Allow). */
export const allows = (msg: SipRequest | SipResponse, method: string): boolean =>
  headerValues(msg, 'Allow').some((v) => v.split(',').some((m) => m.trim().toUpperCase() === method));

/**
 * Our session refresh, saying we stay the refresher: an UPDATE without a body (RFC 4028 §7.4
 * lets a refresh carry no offer), or a re-INVITE with our SDP unchanged (a pure refresh).
 */
function sendRefresh(fx: Fx): void {
  const intervalS = Math.round(fx.s.session.intervalMs / 1000);
  const timerHeaders = headersOf({
    ...uacRequestHeaders(fx.s.options.sessionTimer),
    'Session-Expires': writeSessionExpires({ deltaSeconds: intervalS, refresher: 'uac' }),
  });
  if (refreshMethod(fx) === 'UPDATE') fx.inDialog('UPDATE', { headers: [ALLOW, ...timerHeaders] });
  else
    fx.inDialog('INVITE', { headers: [SDP_TYPE, ALLOW, ...timerHeaders], body: Buffer.from(fx.s.localSdp) });
  fx.s.refreshSeq = fx.s.dialog!.localSeq;
}

/** A request from the peer once the dialog stands (answered, confirmed, ending). */
export function inDialogRequest(fx: Fx, req: SipRequest): void {
  if (req.method === 'ACK') return onAck(fx, req);
  if (req.method === 'CANCEL') {
    fx.respond(req, 200);
    return;
  }
  const verdict = receiveInDialog(fx.s.dialog, req);
  if (verdict.kind === 'refuse') {
    fx.respond(req, verdict.status);
    fx.refusal(req, verdict.status, verdict.problem);
    return;
  }
  fx.s.dialog = verdict.dialog;
  if (fx.s.phase === 'ending') {
    fx.respond(req, req.method === 'BYE' ? 200 : 481);
    return;
  }
  switch (req.method) {
    case 'BYE':
      fx.respond(req, 200);
      fx.finish({ reason: 'far-end' });
      return;
    case 'INFO':
      return onInfo(fx, req);
    case 'INVITE':
    case 'UPDATE':
      return onRefresh(fx, req);
    case 'OPTIONS':
      fx.respond(req, 200, { headers: [ALLOW] });
      return;
    default:
      fx.respond(req, 405, { headers: [ALLOW] });
      fx.refusal(req, 405, `method ${req.method} is not taken in a call`);
  }
}

function onAck(fx: Fx, ack: SipRequest): void {
  const pending = fx.s.unacked2xx;
  const dialog = fx.s.dialog;
  // A resent ACK, or one for a 2xx already acknowledged, is absorbed.
  if (pending === undefined || dialog === undefined || cseq(ack).seq !== pending.seq) return;
  if (receiveInDialog(dialog, ack).kind !== 'accept') return;
  fx.cancel('2xx-resend', 'ack-wait');
  fx.s.unacked2xx = undefined;
  if (fx.s.phase === 'answered') fx.s.phase = 'confirmed';
  const waiting = fx.s.byeAfterAck;
  if (waiting !== undefined) fx.bye(waiting);
}

function onInfo(fx: Fx, req: SipRequest): void {
  const info = readInfoDtmf(contentType(req)?.mediaType, req.body);
  switch (info.kind) {
    case 'digit':
      fx.respond(req, 200);
      fx.push({ type: 'dtmf', digit: info.digit });
      return;
    case 'empty':
      fx.respond(req, 200);
      return;
    case 'unreadable':
      fx.respond(req, 400);
      fx.refusal(req, 400, info.problem);
      return;
    case 'unsupported':
      fx.respond(req, 415, {
        headers: [{ name: 'Accept', value: 'application/dtmf-relay, application/dtmf' }],
      });
      fx.refusal(req, 415, `INFO of type ${info.mediaType}`);
  }
}

function onRefresh(fx: Fx, req: SipRequest): void {
  const isInvite = req.method === 'INVITE';
  if (fx.s.refreshSeq !== undefined) {
    fx.respond(req, 491);
    return;
  }
  if (isInvite && fx.s.unacked2xx !== undefined) {
    fx.respond(req, 500, { headers: [{ name: 'Retry-After', value: RETRY_AFTER_S }] });
    return;
  }
  let decision: ReturnType<typeof negotiateAsUas>;
  try {
    decision = negotiateAsUas(
      {
        sessionExpires: headerValue(req, 'Session-Expires') ?? null,
        minSe: headerValue(req, 'Min-SE') ?? null,
        uacSupportsTimer: supported(req).includes('timer'),
      },
      fx.s.options.sessionTimer,
    );
  } catch (e) {
    if (!isDomainError(e, 'invalid-argument')) throw e;
    fx.respond(req, 400);
    fx.refusal(req, 400, e.message);
    return;
  }
  if (decision.kind === 'too-small') {
    fx.respond(req, 422, { headers: [{ name: 'Min-SE', value: String(decision.minSeS) }] });
    fx.refusal(req, 422, `Session-Expires below our Min-SE ${decision.minSeS}`);
    return;
  }
  let body = Buffer.alloc(0);
  if (req.body.length > 0) {
    if (!takeOffer(fx, req)) return;
    body = Buffer.from(fx.s.localSdp);
  } else if (isInvite) {
    body = Buffer.from(fx.s.localSdp);
  }
  const response = fx.respond(req, 200, {
    headers: [
      contactHeader(fx),
      ALLOW,
      { name: 'Supported', value: 'timer' },
      ...headersOf(decision.headers),
      ...(body.length > 0 ? [SDP_TYPE] : []),
    ],
    body,
  });
  if (isInvite) {
    fx.s.unacked2xx = { response, seq: cseq(req).seq };
    fx.start('2xx-resend', fx.s.options.timers.t1Ms).start('ack-wait', 64 * fx.s.options.timers.t1Ms);
  }
  sessionStep(fx, {
    kind: 'refreshed',
    intervalS: decision.intervalS,
    weRefresh: decision.refresher === 'uas',
  });
}

/** A new offer in a refresh: answered from our same local audio; false when refused (488 sent). */
function takeOffer(fx: Fx, req: SipRequest): boolean {
  const offer = req.body.toString('utf8');
  let answer: ReturnType<typeof answerOffer>;
  try {
    answer = answerOffer(offer, fx.s.local);
  } catch (e) {
    if (!(e instanceof SdpNotAcceptable)) throw e;
    fx.respond(req, 488);
    fx.refusal(req, 488, e.message);
    return false;
  }
  if (answer.sdp !== fx.s.localSdp) {
    // A changed description is a new version of ours (RFC 3264 §8); a pure refresh keeps it.
    const local = { ...fx.s.local, sessionVersion: fx.s.local.sessionVersion + 1 };
    answer = answerOffer(offer, local);
    fx.s.local = local;
    fx.s.localSdp = answer.sdp;
  }
  if (JSON.stringify(answer.audio) !== JSON.stringify(fx.s.audio)) {
    fx.s.audio = answer.audio;
    if (fx.s.mediaOn) fx.push({ type: 'media-update', audio: answer.audio });
  }
  return true;
}

/** A response to a request the leg sent, once the dialog stands. */
export function inDialogResponse(fx: Fx, res: SipResponse): void {
  if (res.status < 200) return;
  const { seq, method } = cseq(res);
  const dialog = fx.s.dialog!;
  const key = dialogKeyOfResponse(res);
  const ours = key === dialogKey(dialog.id);
  if (ours && seq === fx.s.refreshSeq && method === refreshMethod(fx)) {
    fx.s.refreshSeq = undefined;
    if (res.status >= 300) sessionStep(fx, { kind: 'refresh-failed', status: res.status });
    else onRefreshAnswered(fx, res, seq);
    return;
  }
  if (method === 'INVITE' && res.status < 300) {
    if (ours && seq <= (dialog.localSeq ?? 0)) {
      // One of our INVITEs answered again: our ACK was lost or crossed the resend. The last
      // ACK is sent again as it was; an older INVITE's (a refresh since) is built afresh.
      const last = fx.s.lastAck;
      const { via, ids } = fx.s.options;
      fx.sendRequest(last?.seq === seq ? last.request : buildAck(dialog, seq, via, ids.branch()));
      return;
    }
    // A 2xx without a To tag has no dialog to ACK or hang up: nothing can be done with it.
    if (!ours && key !== undefined && dialog.role === 'uac' && seq === cseq(fx.s.invite).seq)
      hangUpFork(fx, res);
    return;
  }
  if (method === 'BYE' && ours && fx.s.phase === 'ending' && fx.s.byeSeq === seq) fx.finish();
}

function onRefreshAnswered(fx: Fx, res: SipResponse, seq: number): void {
  if (cseq(res).method === 'INVITE') fx.ack(fx.s.dialog!, seq);
  let granted: ReturnType<typeof readUacResponse>;
  try {
    granted = readUacResponse(headerValue(res, 'Session-Expires') ?? null);
  } catch {
    // Unreadable: keep the interval we asked for and keep refreshing it ourselves.
    granted = { kind: 'timer', intervalS: Math.round(fx.s.session.intervalMs / 1000), refresher: 'uac' };
  }
  sessionStep(
    fx,
    granted.kind === 'no-timer'
      ? { kind: 'cleared' }
      : { kind: 'refreshed', intervalS: granted.intervalS, weRefresh: granted.refresher === 'uac' },
  );
}

/**
 * Our INVITE forked and a second branch answered too: ACK it and hang it up at once (RFC
 * 3261 §13.2.2.4); the leg keeps the first. Its BYE's answer matches no dialog of ours.
 */
function hangUpFork(fx: Fx, res: SipResponse): void {
  const { via, ids } = fx.s.options;
  const other = createUacDialog(fx.s.invite, res);
  fx.sendRequest(buildAck(other, cseq(res).seq, via, ids.branch()));
  fx.sendRequest(buildInDialogRequest(other, 'BYE', via, ids.branch()).request);
}

/** A client transaction of ours gave up (timeout or transport error) once the dialog stands. */
export function inDialogRequestFailed(fx: Fx, event: Extract<LegEvent, { type: 'request-failed' }>): void {
  if (event.method === 'BYE' && fx.s.phase === 'ending' && event.seq === fx.s.byeSeq) {
    fx.finish();
    return;
  }
  if (event.method === refreshMethod(fx) && event.seq === fx.s.refreshSeq) {
    fx.s.refreshSeq = undefined;
    // RFC 4028 §10 counts a refresh that timed out like a 408: the dialog is gone.
    sessionStep(fx, { kind: 'refresh-failed', status: 408 });
  }
}

export function inDialogTimer(fx: Fx, name: LegTimerName): void {
  const running = fx.s.timers[name]!;
  fx.fired(name);
  switch (name) {
    case '2xx-resend': {
      fx.push({ type: 'send-response', response: fx.s.unacked2xx!.response });
      fx.start('2xx-resend', Math.min(running.intervalMs * 2, fx.s.options.timers.t2Ms));
      return;
    }
    case 'ack-wait':
      fx.cancel('2xx-resend');
      fx.s.unacked2xx = undefined;
      // A hang-up that was waiting for this ACK keeps its own reason.
      fx.bye(fx.s.byeAfterAck ?? { reason: 'timeout', detail: 'no ACK for our 2xx within 64*T1' });
      return;
    case 'session':
      sessionStep(fx, { kind: 'tick' });
      return;
    // 'ring': outbound's, cancelled before its dialog stands, so it never fires here.
  }
}

/**
 * The site hangs up, or the media went silent. Before the ACK of our 2xx the BYE waits for
 * it (RFC 3261 §15: the callee may not send BYE until then, or until the wait ends).
 */
export function hangUpStanding(fx: Fx, end: LegEnd): void {
  if (fx.s.phase === 'ending') return;
  if (fx.s.phase === 'answered') {
    fx.s.byeAfterAck ??= end;
    return;
  }
  fx.bye(end);
}
