import { describe, expect, test } from 'vitest';
import { isDomainError } from '../../errors.js';
import { cseq, toHeader, vias } from '../headers.js';
import { headerValue } from '../message.js';
import { answer, callerRequest, roundTrip } from '../dialog/testing.js';
import { IllegalLegEvent } from './illegal-event.js';
import { agentNotReadyReason, isFarEndHangup, REJECT_STATUS } from './outcomes.js';
import {
  endOfFinal,
  startOutboundLeg,
  stepOutboundLeg,
  type OutboundEvent,
  type OutboundLeg,
  type OutboundTarget,
} from './outbound.js';
import { legOptions, phoneAnswer, requestsIn, summary } from './testing.js';

const PHONE: OutboundTarget = {
  requestUri: 'sip:1001@10.0.0.7:5062',
  toUri: 'sip:1001@site.example',
  fromUri: 'sip:95555@site.example',
  fromDisplayName: 'Bank',
};
const PHONE_CONTACT = 'sip:1001@10.0.0.7:5062';

function calling(): OutboundLeg {
  const { state } = startOutboundLeg(PHONE, legOptions(), 15_000, 0);
  return state;
}

const respond = (
  leg: OutboundLeg,
  status: number,
  opts: Parameters<typeof answer>[2] = {},
): OutboundEvent => ({
  type: 'response',
  response: answer(leg.invite, status, opts),
});
const ok = (leg: OutboundLeg, extra?: string, toTag = 'phone'): OutboundEvent =>
  respond(leg, 200, {
    toTag,
    contact: PHONE_CONTACT,
    body: phoneAnswer(),
    ...(extra === undefined ? {} : { extra }),
  });
const ringing = (): OutboundLeg =>
  stepOutboundLeg(calling(), respond(calling(), 180, { toTag: 'phone' }), 100).state;
const confirmed = (extra?: string): OutboundLeg =>
  stepOutboundLeg(ringing(), ok(ringing(), extra), 2000).state;

describe('calling out', () => {
  test('the INVITE carries our offer and session timer, and the ring timer starts', () => {
    const { state, commands } = startOutboundLeg(PHONE, legOptions(), 15_000, 1000);
    expect(summary(commands)).toEqual(['INVITE 1', 'start ring @16000']);
    const inv = roundTrip(requestsIn(commands)[0]!);
    expect(inv.uri).toBe('sip:1001@10.0.0.7:5062');
    expect(inv.body.toString()).toContain('m=audio 30000 RTP/AVP 8 0 101');
    expect(headerValue(inv, 'Supported')).toBe('timer');
    expect(headerValue(inv, 'Session-Expires')).toBe('1800');
    expect(headerValue(inv, 'From')).toBe('"Bank" <sip:95555@site.example>;tag=xt2');
    expect(state.phase).toBe('calling');
  });

  test('extra headers go on the INVITE, and again on the INVITE after a 422', () => {
    const target: OutboundTarget = {
      ...PHONE,
      extraHeaders: [{ name: 'X-CC-Handover-Token', value: 'tok-1' }],
    };
    const { state, commands } = startOutboundLeg(target, legOptions(), 15_000, 0);
    const inv = roundTrip(requestsIn(commands)[0]!);
    expect(headerValue(inv, 'X-CC-Handover-Token')).toBe('tok-1');
    const r = stepOutboundLeg(state, respond(state, 422, { toTag: 'p', extra: 'Min-SE: 1900' }), 100);
    expect(headerValue(roundTrip(requestsIn(r.commands)[0]!), 'X-CC-Handover-Token')).toBe('tok-1');
  });

  test('an extra header that is not a token, one the leg writes, or a value with CR/LF is refused', () => {
    const refusal = (name: string, value: string): string => {
      try {
        startOutboundLeg(
          {
            ...PHONE,
            extraHeaders: [
              { name: 'X-Ok', value: '1' },
              { name, value },
            ],
          },
          legOptions(),
          15_000,
          0,
        );
      } catch (e) {
        if (isDomainError(e, 'invalid-argument')) return `${e.field}: ${e.message}`;
        throw e;
      }
      return 'accepted';
    };
    expect(refusal('X Bad', 'v')).toMatch(/^extraHeaders\[1\]: .*not a token/);
    expect(refusal('call-id', 'v')).toMatch(/^extraHeaders\[1\]: .*written by the leg itself/);
    expect(refusal('i', 'v')).toMatch(/written by the leg itself/);
    expect(refusal('X-CC-Handover-Token', 'a\r\nBYE: x')).toMatch(/^extraHeaders\[1\]: .*CR or LF/);
    expect(refusal('X-CC-Handover-Token', 'tok')).toBe('accepted');
  });

  test('a ring timeout that is not a positive whole number is refused', () => {
    let err: unknown;
    try {
      startOutboundLeg(PHONE, legOptions(), 0, 0);
    } catch (e) {
      err = e;
    }
    expect(isDomainError(err, 'invalid-argument') && err.field).toBe('ringTimeoutMs');
  });

  test('100 changes nothing; a 1xx with a tag makes an early dialog; another fork’s 1xx is ignored', () => {
    const leg = calling();
    expect(stepOutboundLeg(leg, respond(leg, 100), 10).state).toEqual(leg);
    const r = ringing();
    expect(r.phase).toBe('ringing');
    expect(r.dialog).toMatchObject({ state: 'early', id: { remoteTag: 'phone' } });
    const other = stepOutboundLeg(r, respond(r, 183, { toTag: 'fork2' }), 200);
    expect(other.state.dialog!.id.remoteTag).toBe('phone');
    expect(other.commands).toEqual([]);
  });

  test('the 2xx: ACK (same CSeq, new branch), ring timer off, media, answered', () => {
    const leg = ringing();
    const r = stepOutboundLeg(leg, ok(leg), 3000);
    expect(summary(r.commands)).toEqual(['ACK 1', 'cancel ring', 'media-start', 'answered']);
    const ackReq = requestsIn(r.commands)[0]!;
    expect(cseq(ackReq)).toEqual({ seq: 1, method: 'ACK' });
    expect(ackReq.uri).toBe(PHONE_CONTACT);
    expect(vias(ackReq)[0]!.branch).not.toBe(vias(leg.invite)[0]!.branch);
    expect(toHeader(ackReq).tag).toBe('phone');
    expect(r.state.phase).toBe('confirmed');
    expect(r.commands.find((c) => c.type === 'media-start')).toMatchObject({
      audio: { codec: 'PCMU', remotePort: 50000 },
    });
  });

  test('a 2xx straight after the INVITE (no 1xx) confirms too', () => {
    const leg = calling();
    const r = stepOutboundLeg(leg, ok(leg), 3000);
    expect(r.state.phase).toBe('confirmed');
  });

  test('a resent 2xx is ACKed again with the same ACK; a 2xx of another fork is ACKed and hung up', () => {
    const leg = ringing();
    const first = stepOutboundLeg(leg, ok(leg), 3000);
    const again = stepOutboundLeg(first.state, ok(leg), 3500);
    expect(requestsIn(again.commands)).toEqual([requestsIn(first.commands)[0]]);
    const fork = stepOutboundLeg(first.state, ok(leg, undefined, 'fork2'), 3600);
    expect(summary(fork.commands)).toEqual(['ACK 1', 'BYE 2']);
    expect(requestsIn(fork.commands).every((r) => toHeader(r).tag === 'fork2')).toBe(true);
    expect(fork.state.phase).toBe('confirmed');
    // The answer to that BYE matches no dialog of ours and changes nothing.
    const byeOk = answer(requestsIn(fork.commands)[1]!, 200);
    expect(stepOutboundLeg(fork.state, { type: 'response', response: byeOk }, 3700).commands).toEqual([]);
  });

  test('after a refresh, a resend of the first 2xx still gets an ACK (of the first INVITE)', () => {
    const leg = confirmed('Session-Expires: 90;refresher=uac');
    const refresh = stepOutboundLeg(leg, { type: 'timer', name: 'session' }, 47_000);
    const reinvite = requestsIn(refresh.commands)[0]!;
    const done = stepOutboundLeg(
      refresh.state,
      { type: 'response', response: answer(reinvite, 200) },
      47_100,
    );
    // No Session-Expires in that 2xx: no session timer any more (RFC 4028 §7.2).
    expect(summary(done.commands)).toEqual(['ACK 2', 'cancel session']);
    const resend = stepOutboundLeg(done.state, ok(leg), 47_200);
    expect(summary(resend.commands)).toEqual(['ACK 1']);
  });

  test('the session timer runs as the 2xx granted it', () => {
    const leg = confirmed('Session-Expires: 90;refresher=uac');
    expect(leg.timers.session!.atMs).toBe(2000 + 45_000);
    const refresh = stepOutboundLeg(leg, { type: 'timer', name: 'session' }, 47_000);
    expect(summary(refresh.commands)).toEqual(['INVITE 2', 'start session @92000']);
    // The phone allows UPDATE: the refresh is an UPDATE.
    const allowing = confirmed('Session-Expires: 90;refresher=uac\nAllow: INVITE, ACK, BYE, CANCEL, UPDATE');
    const update = stepOutboundLeg(allowing, { type: 'timer', name: 'session' }, 47_000);
    expect(summary(update.commands)).toEqual(['UPDATE 2', 'start session @92000']);
    const theirs = confirmed('Session-Expires: 90;refresher=uas');
    expect(theirs.timers.session!.atMs).toBe(2000 + 60_000);
    expect(confirmed().timers.session).toBeUndefined();
  });

  test('an answer we cannot use: ACK, then BYE; ended failed 488', () => {
    const leg = ringing();
    const r = stepOutboundLeg(
      leg,
      respond(leg, 200, { toTag: 'phone', contact: PHONE_CONTACT, body: 'hello' }),
      3000,
    );
    expect(summary(r.commands)).toEqual(['ACK 1', 'cancel ring', 'BYE 2']);
    const bye = requestsIn(r.commands)[1]!;
    const end = stepOutboundLeg(r.state, { type: 'response', response: answer(bye, 200) }, 3100);
    expect(summary(end.commands)).toEqual(['ended failed 488']);
  });

  test('a 2xx without a To tag cannot be ACKed: ended failed', () => {
    const leg = ringing();
    const r = stepOutboundLeg(leg, respond(leg, 200, { contact: PHONE_CONTACT, body: phoneAnswer() }), 3000);
    expect(summary(r.commands)).toEqual(['cancel ring', 'ended failed 200']);
  });
});

describe('no answer', () => {
  test('ring timeout while ringing: CANCEL (§9.1 copy of the INVITE); 487 ends it no-answer', () => {
    const leg = ringing();
    const r = stepOutboundLeg(leg, { type: 'timer', name: 'ring' }, 15_000);
    expect(summary(r.commands)).toEqual(['CANCEL 1']);
    const cancel = requestsIn(r.commands)[0]!;
    expect(vias(cancel)[0]!.branch).toBe(vias(leg.invite)[0]!.branch);
    expect(r.state.phase).toBe('cancelling');
    // The CANCEL's own 200 is absorbed, a second hang-up too.
    expect(
      stepOutboundLeg(
        r.state,
        { type: 'response', response: answer(cancel, 200, { toTag: 'phone' }) },
        15_050,
      ).commands,
    ).toEqual([]);
    expect(stepOutboundLeg(r.state, { type: 'hangup' }, 15_060).commands).toEqual([]);
    const end = stepOutboundLeg(r.state, respond(leg, 487, { toTag: 'phone' }), 15_100);
    expect(summary(end.commands)).toEqual(['ended no-answer']);
    // A phone that answers the CANCEL and never sends its 487: the CANCEL restarted the
    // INVITE's timer B (64*T1, RFC 3261 §9.1), whose failure ends the leg as decided.
    const noFinal = stepOutboundLeg(
      r.state,
      { type: 'request-failed', method: 'INVITE', seq: 1, reason: 'timeout' },
      47_000,
    );
    expect(summary(noFinal.commands)).toEqual(['ended no-answer']);
  });

  test('ring timeout before any 1xx: the CANCEL waits for the first 1xx', () => {
    const r = stepOutboundLeg(calling(), { type: 'timer', name: 'ring' }, 15_000);
    expect(r.commands).toEqual([]);
    const later = stepOutboundLeg(r.state, respond(r.state, 180, { toTag: 'phone' }), 15_500);
    expect(summary(later.commands)).toEqual(['CANCEL 1']);
    expect(later.state.phase).toBe('cancelling');
    // Or no 1xx ever: the INVITE's timer B ends it.
    const timedOut = stepOutboundLeg(
      r.state,
      { type: 'request-failed', method: 'INVITE', seq: 1, reason: 'timeout' },
      32_000,
    );
    expect(summary(timedOut.commands)).toEqual(['ended no-answer']);
  });

  test('a 200 that crossed the CANCEL: ACK, then BYE; ended no-answer', () => {
    const c = stepOutboundLeg(ringing(), { type: 'timer', name: 'ring' }, 15_000).state;
    const r = stepOutboundLeg(c, ok(c), 15_010);
    expect(summary(r.commands)).toEqual(['ACK 1', 'BYE 2']);
    expect(r.state.phase).toBe('ending');
    // The same 200 again: the same ACK again.
    expect(summary(stepOutboundLeg(r.state, ok(c), 15_020).commands)).toEqual(['ACK 1']);
    const bye = requestsIn(r.commands)[1]!;
    expect(
      summary(stepOutboundLeg(r.state, { type: 'response', response: answer(bye, 200) }, 15_100).commands),
    ).toEqual(['ended no-answer']);
  });

  test('the site hangs up while it rings: CANCEL, ended cancelled', () => {
    const r = stepOutboundLeg(ringing(), { type: 'hangup' }, 5000);
    expect(summary(r.commands)).toEqual(['cancel ring', 'CANCEL 1']);
    expect(
      summary(stepOutboundLeg(r.state, respond(r.state, 487, { toTag: 'phone' }), 5100).commands),
    ).toEqual(['ended cancelled']);
  });
});

describe('refused calls', () => {
  test.each([
    [486, 'busy'],
    [600, 'busy'],
    [404, 'unavailable'],
    [408, 'unavailable'],
    [480, 'unavailable'],
    [503, 'failed'],
    [403, 'failed'],
  ])('%i ends it %s', (status, reason) => {
    const leg = ringing();
    const r = stepOutboundLeg(leg, respond(leg, status, { toTag: 'phone' }), 3000);
    expect(summary(r.commands)).toEqual(['cancel ring', `ended ${reason} ${status}`]);
    expect(endOfFinal(status).reason).toBe(reason);
  });

  test('the INVITE timed out or could not be sent: unavailable', () => {
    const r = stepOutboundLeg(
      calling(),
      { type: 'request-failed', method: 'INVITE', seq: 1, reason: 'transport-error' },
      10,
    );
    expect(summary(r.commands)).toEqual(['cancel ring', 'ended unavailable']);
    // A failure of another request (the CANCEL) changes nothing.
    expect(
      stepOutboundLeg(calling(), { type: 'request-failed', method: 'CANCEL', seq: 1, reason: 'timeout' }, 10)
        .commands,
    ).toEqual([]);
  });

  test('422: the INVITE again with the Min-SE it named, once', () => {
    const leg = calling();
    const r = stepOutboundLeg(leg, respond(leg, 422, { toTag: 'p', extra: 'Min-SE: 1900' }), 100);
    expect(summary(r.commands)).toEqual(['INVITE 2']);
    const retry = requestsIn(r.commands)[0]!;
    expect(headerValue(retry, 'Min-SE')).toBe('1900');
    expect(headerValue(retry, 'Call-ID')).toBe(headerValue(leg.invite, 'Call-ID'));
    const again = stepOutboundLeg(r.state, respond(r.state, 422, { toTag: 'p', extra: 'Min-SE: 3600' }), 200);
    expect(summary(again.commands)).toEqual(['cancel ring', 'ended failed 422']);
    // A 422 without a usable Min-SE is a failure at once; so is the old INVITE's late answer ignored.
    const bare = stepOutboundLeg(leg, respond(leg, 422, { toTag: 'p' }), 100);
    expect(summary(bare.commands)).toEqual(['cancel ring', 'ended failed 422']);
    expect(stepOutboundLeg(r.state, respond(leg, 486, { toTag: 'p' }), 150).commands).toEqual([]);
  });

  test('a request before the answer is 481', () => {
    const r = stepOutboundLeg(ringing(), { type: 'request', request: callerRequest('INFO', 1, 'xt2') }, 10);
    expect(summary(r.commands)).toEqual(['INFO 481', 'refusal INFO 481']);
    expect(
      stepOutboundLeg(ringing(), { type: 'request', request: callerRequest('ACK', 1, 'xt2') }, 10).commands,
    ).toEqual([]);
  });
});

describe('a confirmed outbound call', () => {
  /** A request from the phone in our dialog (the phone's From tag is `phone`, ours is the To tag). */
  const fromPhone = (leg: OutboundLeg, method: string, seq: number): OutboundEvent => {
    const r = callerRequest(method, seq, leg.dialog!.id.localTag);
    const headers = r.headers.map((h) =>
      h.name === 'From'
        ? { ...h, value: '<sip:1001@site.example>;tag=phone' }
        : h.name === 'To'
          ? { ...h, value: `<sip:95555@site.example>;tag=${leg.dialog!.id.localTag}` }
          : h.name === 'Call-ID'
            ? { ...h, value: leg.dialog!.id.callId }
            : h,
    );
    return { type: 'request', request: { ...r, headers } };
  };

  test('the phone hangs up: 200, ended far-end', () => {
    const leg = confirmed();
    const r = stepOutboundLeg(leg, fromPhone(leg, 'BYE', 1), 9000);
    expect(summary(r.commands)).toEqual(['BYE 200', 'media-stop', 'ended far-end']);
  });

  test('the site hangs up: BYE; the BYE times out: ended local', () => {
    const r = stepOutboundLeg(confirmed(), { type: 'hangup' }, 9000);
    expect(summary(r.commands)).toEqual(['media-stop', 'BYE 2']);
    const end = stepOutboundLeg(
      r.state,
      { type: 'request-failed', method: 'BYE', seq: 2, reason: 'timeout' },
      41_000,
    );
    expect(summary(end.commands)).toEqual(['ended local']);
  });

  test('RTP silence: BYE, timeout', () => {
    const r = stepOutboundLeg(confirmed(), { type: 'media-timeout' }, 9000);
    expect(r.state.end).toMatchObject({ reason: 'timeout' });
  });

  test('events a phase does not take are refused and change nothing', () => {
    expect(() => stepOutboundLeg(calling(), { type: 'media-timeout' }, 0)).toThrow(IllegalLegEvent);
    expect(() => stepOutboundLeg(confirmed(), { type: 'timer', name: 'ring' }, 0)).toThrow(/not running/);
    const c = stepOutboundLeg(ringing(), { type: 'hangup' }, 5000).state;
    expect(() => stepOutboundLeg(c, { type: 'timer', name: 'ring' }, 0)).toThrow(IllegalLegEvent);
  });
});

describe('what the site hears', () => {
  test('far-end hang-ups, reject statuses, agent not-ready reasons', () => {
    expect(isFarEndHangup({ reason: 'far-end' })).toBe(true);
    expect(isFarEndHangup({ reason: 'timeout' })).toBe(true);
    expect(isFarEndHangup({ reason: 'cancelled' })).toBe(true);
    expect(isFarEndHangup({ reason: 'failed', status: 488 })).toBe(true);
    expect(isFarEndHangup({ reason: 'local' })).toBe(false);
    expect(REJECT_STATUS).toEqual({ busy: 486, unavailable: 503 });
    expect(agentNotReadyReason({ reason: 'no-answer' })).toBe('phone-no-answer');
    expect(agentNotReadyReason({ reason: 'busy', status: 486 })).toBe('phone-busy');
    expect(agentNotReadyReason({ reason: 'unavailable' })).toBe('phone-unreachable');
    expect(agentNotReadyReason({ reason: 'failed', status: 403 })).toBe('phone-failed-403');
    expect(agentNotReadyReason({ reason: 'failed' })).toBe('phone-failed');
  });
});
