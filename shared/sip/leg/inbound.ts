/**
 * The inbound call leg: a caller from a trunk, we are the UAS (RFC 3261 §13.3, §15, §9.2).
 *
 * ```
 *   INVITE taken (100 Trying is the transaction's)       refused: 400, 420, 422, 488
 *        |                                               -----------------------------> ended
 *        v        ring: 180
 *    offered ------------------> ringing
 *        |  \                       |   \
 *        |   +---------+            |    +-- hangup: 3xx-6xx final (default 480) ---> ended
 *        |             |            |    +-- CANCEL: 200, 487 to the INVITE --------> ended
 *        | answer: 200 with SDP     | answer
 *        v                          v
 *    answered <---------------------+     2xx resent at T1, 2*T1 ... T2 until the ACK
 *        |  \
 *        |   +-- BYE: 200 ----------------------------------------------------------> ended
 *        |   +-- no ACK in 64*T1: BYE ------------------------+
 *        | ACK (a hang-up meanwhile: BYE now)                 |
 *        v                                                    v
 *    confirmed -- hangup, session expiry, RTP silence: BYE --> ending -- BYE final --> ended
 *        |                                                       (or its timeout)
 *        +-- BYE: 200 --------------------------------------------------------------> ended
 *
 *   in answered and confirmed: INFO (a key) 200; re-INVITE, UPDATE (refresh) 200; OPTIONS 200
 *   CANCEL after our 200: 200 to it, and the call goes on
 * ```
 *
 * No early media: the site answers before its first prompt (the IVR answers first,
 * call-ivr.ts), so a 183 with SDP would only add a path carriers treat unevenly (an
 * unreliable 183 without PRACK, and unanswered prompts billed to nobody). `ring` sends
 * 180 Ringing, without SDP, for a site that takes a moment before answering.
 *
 * The offer is read when the INVITE arrives, so a call we cannot take (no G.711, only SRTP,
 * an interval under our Min-SE, no Contact) is refused at once and never reaches the site.
 * An INVITE without an offer (a late offer, RFC 3261 §13.2.1) is taken: our 200 carries our
 * offer and the ACK the answer, so media starts at the ACK. An ACK without a usable answer
 * ends the call: BYE, `failed` 488.
 */
import { invalidArgument, isDomainError } from '../../errors.js';
import { answerOffer, buildOffer, readAnswer } from '../../media/sdp.js';
import { SdpNotAcceptable } from '../../media/sdp-refusal.js';
import { negotiateAsUas } from '../../media/session-expires.js';
import { sessionTimer } from '../../media/session-timer.js';
import { cseq, supported } from '../headers.js';
import { headerValue, headerValues, type SipHeader, type SipRequest } from '../message.js';
import { buildResponse } from '../response.js';
import { confirmUasDialog, createUasDialog, recordRouteCopy } from '../dialog/dialog.js';
import { receiveInDialog } from '../dialog/incoming.js';
import { guardLeg } from './illegal-event.js';
import {
  allows,
  contactHeader,
  hangUpStanding,
  inDialogRequest,
  inDialogRequestFailed,
  inDialogResponse,
  inDialogTimer,
  sessionStep,
} from './in-dialog.js';
import { ALLOW, headersOf, LegStep, SDP_TYPE } from './step.js';
import type { LegCommand, LegEvent, LegOptions, LegState, LegStepResult } from './types.js';

export type InboundPhase = 'offered' | 'ringing' | 'answered' | 'confirmed' | 'ending' | 'ended';

export type InboundEvent =
  | LegEvent
  /** The site wants the caller to hear ringing: 180. */
  | { readonly type: 'ring' }
  /** The site answers: 200 with our SDP. */
  | { readonly type: 'answer' };

export interface InboundLeg extends LegState<InboundPhase> {
  /** What our 200 says of the session timer, decided from the INVITE. */
  readonly grant: {
    readonly headers: readonly SipHeader[];
    readonly intervalS: number;
    readonly weRefresh: boolean;
  };
  /** The INVITE had no offer: ours goes in the 200, the answer comes in the ACK. */
  readonly lateOffer: boolean;
}

type EventType = InboundEvent['type'];

const ACCEPTS: Readonly<Record<InboundPhase, readonly EventType[]>> = {
  offered: ['ring', 'answer', 'hangup', 'request'],
  ringing: ['answer', 'hangup', 'request'],
  answered: ['hangup', 'request', 'timer', 'media-timeout'],
  confirmed: ['hangup', 'request', 'response', 'request-failed', 'timer', 'media-timeout'],
  ending: ['hangup', 'request', 'response', 'request-failed', 'media-timeout'],
  ended: [],
};

/** The extensions we implement (option tags, RFC 3261 §19.2): session timers only. */
const SUPPORTED_EXTENSIONS: ReadonlySet<string> = new Set(['timer']);

/** The option tags of Require, lower-cased (the parser does not read Require; a bad tag is simply not ours). */
const required = (req: SipRequest): string[] =>
  headerValues(req, 'Require')
    .flatMap((v) => v.split(','))
    .map((t) => t.trim().toLowerCase())
    .filter((t) => t !== '');

/** 480 Temporarily Unavailable: the site could not take the call now (RFC 3261 §21.4.18). */
export const DEFAULT_REFUSAL_STATUS = 480;

/** A new INVITE from a trunk: the leg, or the refusal already sent (phase `ended`, reason `refused`). */
export function startInboundLeg(
  invite: SipRequest,
  options: LegOptions,
  _nowMs: number,
): LegStepResult<InboundLeg> {
  if (invite.method !== 'INVITE') {
    throw invalidArgument('request.method', `an inbound leg starts on an INVITE, not ${invite.method}`);
  }
  const localTag = options.ids.tag();
  const base = {
    phase: 'ended' as InboundPhase,
    options,
    invite,
    dialog: undefined,
    timers: {},
    session: sessionTimer(),
    local: options.audio,
    localSdp: '',
    audio: undefined,
    mediaOn: false,
    unacked2xx: undefined,
    lastAck: undefined,
    peerAllowsUpdate: allows(invite, 'UPDATE'),
    refreshSeq: undefined,
    byeSeq: undefined,
    end: undefined,
    byeAfterAck: undefined,
    grant: { headers: [], intervalS: 0, weRefresh: false },
    lateOffer: false,
  } satisfies InboundLeg;
  const refuse = (status: number, detail: string, headers: SipHeader[] = []): LegStepResult<InboundLeg> => {
    const end = { reason: 'refused' as const, status, detail };
    const commands: LegCommand[] = [
      { type: 'send-response', response: buildResponse(invite, status, { toTag: localTag, headers }) },
      { type: 'refusal', method: 'INVITE', status, problem: detail },
      { type: 'ended', end },
    ];
    return { state: { ...base, end }, commands };
  };

  // RFC 3261 §8.2.2.3: an extension the caller requires and we lack is a 420 naming it.
  const lacking = required(invite).filter((tag) => !SUPPORTED_EXTENSIONS.has(tag));
  if (lacking.length > 0) {
    return refuse(420, `Require: ${lacking.join(', ')} not supported`, [
      { name: 'Unsupported', value: lacking.join(', ') },
    ]);
  }
  let dialog;
  let decision;
  try {
    dialog = createUasDialog(invite, { localTag, localTarget: options.contact, state: 'early' });
    decision = negotiateAsUas(
      {
        sessionExpires: headerValue(invite, 'Session-Expires') ?? null,
        minSe: headerValue(invite, 'Min-SE') ?? null,
        uacSupportsTimer: supported(invite).includes('timer'),
      },
      options.sessionTimer,
    );
  } catch (e) {
    if (!isDomainError(e, 'invalid-argument')) throw e;
    return refuse(400, e.message);
  }
  if (decision.kind === 'too-small') {
    return refuse(422, `Session-Expires below our Min-SE ${decision.minSeS}`, [
      { name: 'Min-SE', value: String(decision.minSeS) },
    ]);
  }
  const lateOffer = invite.body.length === 0;
  let answer;
  try {
    answer = lateOffer
      ? { sdp: buildOffer(options.audio), audio: undefined }
      : answerOffer(invite.body.toString('utf8'), options.audio);
  } catch (e) {
    if (!(e instanceof SdpNotAcceptable)) throw e;
    return refuse(488, e.message);
  }
  const state: InboundLeg = {
    ...base,
    phase: 'offered',
    dialog,
    localSdp: answer.sdp,
    audio: answer.audio,
    lateOffer,
    grant: {
      headers: headersOf(decision.headers),
      intervalS: decision.intervalS,
      weRefresh: decision.refresher === 'uas',
    },
  };
  return { state, commands: [] };
}

export function stepInboundLeg(
  state: InboundLeg,
  event: InboundEvent,
  nowMs: number,
): LegStepResult<InboundLeg> {
  guardLeg('inbound', state.phase, ACCEPTS, event, state.timers);
  if (event.type === 'hangup' && event.status !== undefined && !isRefusalStatus(event.status)) {
    throw invalidArgument('status', `a refusal is a 3xx-6xx final, not ${event.status}`);
  }
  const fx = new LegStep<InboundLeg>(state, nowMs);
  const beforeAnswer = state.phase === 'offered' || state.phase === 'ringing';
  switch (event.type) {
    case 'ring':
      fx.respond(state.invite, 180, { headers: [...recordRouteCopy(state.invite), contactHeader(fx)] });
      fx.s.phase = 'ringing';
      break;
    case 'answer':
      answer(fx);
      break;
    case 'hangup':
      if (beforeAnswer) {
        const status = event.status ?? DEFAULT_REFUSAL_STATUS;
        fx.respond(state.invite, status);
        fx.finish({ reason: 'local', status });
      } else hangUpStanding(fx, { reason: 'local' });
      break;
    case 'request':
      if (beforeAnswer) beforeAnswerRequest(fx, event.request);
      else if (state.phase === 'answered' && state.lateOffer && event.request.method === 'ACK') {
        ackWithAnswer(fx, event.request);
      } else inDialogRequest(fx, event.request);
      break;
    case 'response':
      inDialogResponse(fx, event.response);
      break;
    case 'request-failed':
      inDialogRequestFailed(fx, event);
      break;
    case 'timer':
      inDialogTimer(fx, event.name);
      break;
    case 'media-timeout':
      hangUpStanding(fx, { reason: 'timeout', detail: 'no RTP from the far end' });
      break;
  }
  return fx.result();
}

const isRefusalStatus = (status: number): boolean =>
  Number.isInteger(status) && status >= 300 && status <= 699;

function answer(fx: LegStep<InboundLeg>): void {
  const { invite, grant, options } = fx.s;
  fx.s.dialog = confirmUasDialog(fx.s.dialog!);
  const response = fx.respond(invite, 200, {
    headers: [
      ...recordRouteCopy(invite),
      contactHeader(fx),
      ALLOW,
      { name: 'Supported', value: 'timer' },
      ...grant.headers,
      SDP_TYPE,
    ],
    body: Buffer.from(fx.s.localSdp),
  });
  fx.s.unacked2xx = { response, seq: cseq(invite).seq };
  fx.start('2xx-resend', options.timers.t1Ms).start('ack-wait', 64 * options.timers.t1Ms);
  if (!fx.s.lateOffer) {
    fx.s.mediaOn = true;
    fx.push({ type: 'media-start', audio: fx.s.audio! });
  }
  fx.s.phase = 'answered';
  sessionStep(fx, { kind: 'refreshed', intervalS: grant.intervalS, weRefresh: grant.weRefresh });
}

/**
 * Before our 200: a CANCEL or a BYE on the early dialog ends the call (the INVITE gets 487,
 * RFC 3261 §9.2, §15.1.2); an UPDATE or re-INVITE meets our answer still pending (491, RFC
 * 3311 §5.2); INFO is taken (a key pressed while it rings); a stray ACK is absorbed.
 */
function beforeAnswerRequest(fx: LegStep<InboundLeg>, req: SipRequest): void {
  if (req.method === 'ACK') return;
  if (req.method === 'CANCEL') {
    fx.respond(req, 200);
    fx.respond(fx.s.invite, 487);
    fx.finish({ reason: 'cancelled' });
    return;
  }
  const verdict = receiveInDialog(fx.s.dialog, req);
  if (verdict.kind === 'refuse') {
    fx.respond(req, verdict.status);
    fx.refusal(req, verdict.status, verdict.problem);
    return;
  }
  fx.s.dialog = verdict.dialog;
  switch (req.method) {
    case 'BYE':
      fx.respond(req, 200);
      fx.respond(fx.s.invite, 487);
      fx.finish({ reason: 'far-end' });
      return;
    case 'INVITE':
    case 'UPDATE':
      fx.respond(req, 491);
      return;
    default:
      // INFO, OPTIONS and the rest are handled as in a standing dialog.
      inDialogRequest(fx, req);
  }
}

/** The ACK of our 200 after a late offer: it carries the answer to the offer in our 200. */
function ackWithAnswer(fx: LegStep<InboundLeg>, ack: SipRequest): void {
  const pending = fx.s.unacked2xx!;
  // A stray ACK (another CSeq, another dialog) is absorbed as inDialogRequest would.
  if (cseq(ack).seq !== pending.seq || receiveInDialog(fx.s.dialog, ack).kind !== 'accept') return;
  let problem: string | undefined;
  try {
    fx.s.audio = readAnswer(ack.body.toString('utf8'), fx.s.local);
    fx.s.mediaOn = true;
    fx.push({ type: 'media-start', audio: fx.s.audio });
  } catch (e) {
    if (!(e instanceof SdpNotAcceptable)) throw e;
    problem = e.message;
  }
  inDialogRequest(fx, ack);
  if (problem !== undefined && fx.s.phase === 'confirmed') {
    fx.bye({ reason: 'failed', status: 488, detail: `the ACK's answer: ${problem}` });
  }
}
