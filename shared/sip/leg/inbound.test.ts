import { describe, expect, test } from 'vitest';
import { isDomainError } from '../../errors.js';
import { cseq, routes, toHeader } from '../headers.js';
import { headerValue, headerValues } from '../message.js';
import { callerRequest, invite, OFFER, roundTrip } from '../dialog/testing.js';
import { IllegalLegEvent } from './illegal-event.js';
import { startInboundLeg, stepInboundLeg, type InboundEvent, type InboundLeg } from './inbound.js';
import { legOptions, phoneAnswer, requestsIn, responsesIn, summary } from './testing.js';

const TAG = 'xt1'; // the first id the counting source gives: our To tag

function offered(inv = invite()): InboundLeg {
  const { state, commands } = startInboundLeg(inv, legOptions(), 0);
  expect(commands).toEqual([]);
  expect(state.phase).toBe('offered');
  return state;
}

/** Steps a leg through events, each at its time, returning the last result and all commands. */
function run(leg: InboundLeg, events: [InboundEvent, number][]) {
  let state = leg;
  const all: string[][] = [];
  let last = { state, commands: [] as ReturnType<typeof stepInboundLeg>['commands'] };
  for (const [event, at] of events) {
    last = stepInboundLeg(state, event, at);
    state = last.state;
    all.push(summary(last.commands));
  }
  return { state, all, last };
}

const answered = () => stepInboundLeg(offered(), { type: 'answer' }, 0).state;
const confirmed = () => stepInboundLeg(answered(), ack(101), 100).state;
const ack = (seq: number): InboundEvent => ({ type: 'request', request: callerRequest('ACK', seq, TAG) });
const req = (method: string, seq: number, opts: Parameters<typeof callerRequest>[3] = {}): InboundEvent => ({
  type: 'request',
  request: callerRequest(method, seq, TAG, opts),
});

describe('an INVITE the leg cannot take is refused at once', () => {
  test.each([
    ['an offer of SRTP only', invite({ body: OFFER.replace('RTP/AVP', 'RTP/SAVP') }), 488],
    ['a Session-Expires under our Min-SE', invite({ extra: 'Session-Expires: 60\n' }), 422],
    ['a malformed Min-SE', invite({ extra: 'Min-SE: soon\n' }), 400],
    ['a required extension we lack (100rel)', invite({ extra: 'Require: timer, 100rel\n' }), 420],
  ])('%s', (_what, inv, status) => {
    const { state, commands } = startInboundLeg(inv, legOptions(), 0);
    expect(state.phase).toBe('ended');
    expect(summary(commands)).toEqual([
      `INVITE ${status}`,
      `refusal INVITE ${status}`,
      `ended refused ${status}`,
    ]);
    expect(toHeader(responsesIn(commands)[0]!).tag).toBe(TAG);
    if (status === 422) expect(headerValue(responsesIn(commands)[0]!, 'Min-SE')).toBe('90');
    if (status === 420) expect(headerValue(responsesIn(commands)[0]!, 'Unsupported')).toBe('100rel');
  });

  test('no Contact: 400 naming it', () => {
    const inv = invite();
    const bare = { ...inv, headers: inv.headers.filter((h) => h.name !== 'Contact') };
    const { commands } = startInboundLeg(bare, legOptions(), 0);
    expect(commands.at(-1)).toMatchObject({
      end: { reason: 'refused', status: 400, detail: expect.stringContaining('Contact') as unknown },
    });
  });

  test('Require: timer is ours, so that call is taken', () => {
    offered(invite({ extra: 'Supported: timer\nRequire: timer\nSession-Expires: 1800\n' }));
  });

  test('a request that is not an INVITE is a caller bug', () => {
    expect(() => startInboundLeg(callerRequest('BYE', 1, 'x'), legOptions(), 0)).toThrow(/INVITE/);
  });
});

describe('before the answer', () => {
  test('ring sends 180 with our tag and Contact, once', () => {
    const r = stepInboundLeg(offered(), { type: 'ring' }, 0);
    expect(summary(r.commands)).toEqual(['INVITE 180']);
    expect(toHeader(responsesIn(r.commands)[0]!).tag).toBe(TAG);
    expect(headerValue(responsesIn(r.commands)[0]!, 'Contact')).toBe('<sip:site@10.0.0.5:5060>');
    // RFC 3261 §12.1.1: the Record-Route of the INVITE, copied in order.
    expect(headerValues(responsesIn(r.commands)[0]!, 'Record-Route')).toEqual([
      '<sip:p2.carrier.example;lr>, <sip:p1.carrier.example;lr>',
    ]);
    expect(r.state.phase).toBe('ringing');
    expect(() => stepInboundLeg(r.state, { type: 'ring' }, 0)).toThrow(IllegalLegEvent);
  });

  test('CANCEL: 200 to it, 487 to the INVITE, ended cancelled', () => {
    const r = stepInboundLeg(
      offered(),
      { type: 'request', request: callerRequest('CANCEL', 101, 'none') },
      5,
    );
    expect(summary(r.commands)).toEqual(['CANCEL 200', 'INVITE 487', 'ended cancelled']);
    expect(r.state.phase).toBe('ended');
  });

  test('hangup refuses with the site status (default 480), and a non-final status is refused', () => {
    expect(summary(stepInboundLeg(offered(), { type: 'hangup', status: 486 }, 0).commands)).toEqual([
      'INVITE 486',
      'ended local 486',
    ]);
    expect(summary(stepInboundLeg(offered(), { type: 'hangup' }, 0).commands)).toEqual([
      'INVITE 480',
      'ended local 480',
    ]);
    const leg = offered();
    let err: unknown;
    try {
      stepInboundLeg(leg, { type: 'hangup', status: 200 }, 0);
    } catch (e) {
      err = e;
    }
    expect(isDomainError(err, 'invalid-argument') && err.field).toBe('status');
    expect(leg.phase).toBe('offered');
  });

  test('a BYE on the early dialog ends it (200, 487); UPDATE meets our pending answer (491); INFO is a key', () => {
    const ringing = stepInboundLeg(offered(), { type: 'ring' }, 0).state;
    expect(summary(stepInboundLeg(ringing, req('BYE', 102), 0).commands)).toEqual([
      'BYE 200',
      'INVITE 487',
      'ended far-end',
    ]);
    expect(summary(stepInboundLeg(ringing, req('UPDATE', 102), 0).commands)).toEqual(['UPDATE 491']);
    const info = req('INFO', 102, {
      body: 'Signal=7\r\nDuration=160\r\n',
      contentType: 'application/dtmf-relay',
    });
    expect(summary(stepInboundLeg(ringing, info, 0).commands)).toEqual(['INFO 200', 'dtmf 7']);
    expect(summary(stepInboundLeg(ringing, ack(101), 0).commands)).toEqual([]);
    expect(
      summary(
        stepInboundLeg(ringing, { type: 'request', request: callerRequest('BYE', 102, 'zz') }, 0).commands,
      ),
    ).toEqual(['BYE 481', 'refusal BYE 481']);
  });
});

describe('a late offer (an INVITE without SDP)', () => {
  const lateAnswered = () => stepInboundLeg(offered(invite({ body: '' })), { type: 'answer' }, 0).state;
  const ackWith = (body: string): InboundEvent => ({
    type: 'request',
    request: callerRequest('ACK', 101, TAG, { body }),
  });

  test('our 200 carries our offer, and media waits for the answer in the ACK', () => {
    const r = stepInboundLeg(offered(invite({ body: '' })), { type: 'answer' }, 0);
    expect(summary(r.commands)).not.toContain('media-start');
    expect(responsesIn(r.commands)[0]!.body.toString()).toContain('m=audio 30000 RTP/AVP 8 0 101');
    const acked = stepInboundLeg(r.state, ackWith(phoneAnswer()), 100);
    expect(summary(acked.commands)).toEqual(['media-start', 'cancel 2xx-resend', 'cancel ack-wait']);
    expect(acked.state.phase).toBe('confirmed');
    expect(acked.commands[0]).toMatchObject({ audio: { codec: 'PCMU', remotePort: 50000 } });
  });

  test('an ACK without a usable answer: BYE, failed 488; a stray ACK is absorbed', () => {
    const r = stepInboundLeg(lateAnswered(), ackWith(''), 100);
    expect(summary(r.commands)).toEqual(['cancel 2xx-resend', 'cancel ack-wait', 'cancel session', 'BYE 1']);
    expect(r.state.end).toMatchObject({ reason: 'failed', status: 488 });
    const stray = {
      type: 'request',
      request: callerRequest('ACK', 99, TAG, { body: phoneAnswer() }),
    } as const;
    expect(stepInboundLeg(lateAnswered(), stray, 100).commands).toEqual([]);
  });

  test('a hang-up before the ACK: media starts with the ACK and stops with the BYE', () => {
    const waiting = stepInboundLeg(lateAnswered(), { type: 'hangup' }, 50).state;
    const r = stepInboundLeg(waiting, ackWith(phoneAnswer()), 100);
    expect(summary(r.commands)).toEqual([
      'media-start',
      'cancel 2xx-resend',
      'cancel ack-wait',
      'cancel session',
      'media-stop',
      'BYE 1',
    ]);
  });
});

describe('answering', () => {
  test('200 with our SDP, Contact and session timer; the 2xx timers and the session timer start; media starts', () => {
    const r = stepInboundLeg(offered(), { type: 'answer' }, 0);
    expect(summary(r.commands)).toEqual([
      'INVITE 200',
      'start 2xx-resend @500',
      'start ack-wait @32000',
      'media-start',
      'start session @900000',
    ]);
    const ok = roundTrip(responsesIn(r.commands)[0]!);
    expect(toHeader(ok).tag).toBe(TAG);
    expect(ok.body.toString()).toContain('m=audio 30000 RTP/AVP 8');
    expect(headerValues(ok, 'Record-Route')).toEqual([
      '<sip:p2.carrier.example;lr>, <sip:p1.carrier.example;lr>',
    ]);
    // The caller does not support timers: we refresh.
    expect(headerValue(ok, 'Session-Expires')).toBe('1800;refresher=uas');
    expect(r.state.phase).toBe('answered');
    expect(r.commands.find((c) => c.type === 'media-start')).toMatchObject({
      audio: { codec: 'PCMA', remotePort: 40000 },
    });
  });

  test('the 200 is resent at T1 doubling to T2 until the ACK, which stops it', () => {
    let state = answered();
    const resentAt: number[] = [];
    for (let i = 0; i < 6; i++) {
      const at = state.timers['2xx-resend']!.atMs;
      const r = stepInboundLeg(state, { type: 'timer', name: '2xx-resend' }, at);
      expect(summary(r.commands)[0]).toBe('INVITE 200');
      resentAt.push(at);
      state = r.state;
    }
    expect(resentAt).toEqual([500, 1500, 3500, 7500, 11500, 15500]);
    const r = stepInboundLeg(state, ack(101), 16000);
    expect(summary(r.commands)).toEqual(['cancel 2xx-resend', 'cancel ack-wait']);
    expect(r.state.phase).toBe('confirmed');
    // A resent ACK is absorbed.
    expect(stepInboundLeg(r.state, ack(101), 16001).commands).toEqual([]);
  });

  test('no ACK within 64*T1: BYE, and the leg ends timeout when the BYE is answered', () => {
    const { state, all } = run(answered(), [[{ type: 'timer', name: 'ack-wait' }, 32000]]);
    expect(all[0]).toEqual(['cancel 2xx-resend', 'cancel session', 'media-stop', 'BYE 1']);
    expect(state.phase).toBe('ending');
    const bye = requestsIn(
      stepInboundLeg(answered(), { type: 'timer', name: 'ack-wait' }, 32000).commands,
    )[0]!;
    expect(bye.uri).toBe('sip:13800138000@192.0.2.10:5060');
    expect(routes(bye).map((r) => r.uri)).toEqual(['sip:p2.carrier.example;lr', 'sip:p1.carrier.example;lr']);
    const end = stepInboundLeg(state, { type: 'response', response: okTo(bye) }, 32100);
    expect(summary(end.commands)).toEqual(['ended timeout']);
  });

  test('a CANCEL racing our 200: 200 to the CANCEL, and the call goes on', () => {
    const r = stepInboundLeg(
      answered(),
      { type: 'request', request: callerRequest('CANCEL', 101, 'none') },
      10,
    );
    expect(summary(r.commands)).toEqual(['CANCEL 200']);
    expect(r.state.phase).toBe('answered');
  });

  test('a hang-up before the ACK waits for it, then BYE (RFC 3261 §15)', () => {
    const { state, all } = run(answered(), [
      [{ type: 'hangup' }, 10],
      [{ type: 'hangup' }, 11],
      [ack(101), 20],
    ]);
    expect(all).toEqual([
      [],
      [],
      ['cancel 2xx-resend', 'cancel ack-wait', 'cancel session', 'media-stop', 'BYE 1'],
    ]);
    expect(state.end).toEqual({ reason: 'local' });
  });

  test('a hang-up whose ACK never comes still ends local', () => {
    const { state } = run(answered(), [
      [{ type: 'media-timeout' }, 10],
      [{ type: 'timer', name: 'ack-wait' }, 32000],
    ]);
    expect(state.phase).toBe('ending');
    expect(state.end).toMatchObject({ reason: 'timeout' });
  });

  test('a BYE before the ACK: 200, ended far-end', () => {
    const r = stepInboundLeg(answered(), req('BYE', 102), 10);
    expect(summary(r.commands)).toEqual([
      'BYE 200',
      'cancel 2xx-resend',
      'cancel ack-wait',
      'cancel session',
      'media-stop',
      'ended far-end',
    ]);
  });
});

const okTo = (request: ReturnType<typeof requestsIn>[number], status = 200) => {
  const lines = request.headers
    .filter((h) => ['Via', 'From', 'To', 'Call-ID', 'CSeq'].includes(h.name))
    .map((h) => ({ ...h }));
  return { kind: 'response' as const, status, reason: 'X', headers: lines, body: Buffer.alloc(0) };
};

describe('a confirmed call', () => {
  test('far-end BYE: 200, media and timers stopped, ended far-end', () => {
    const r = stepInboundLeg(confirmed(), req('BYE', 102), 1000);
    expect(summary(r.commands)).toEqual(['BYE 200', 'cancel session', 'media-stop', 'ended far-end']);
    expect(r.state.timers).toEqual({});
  });

  test('our hang-up: BYE, ending; its final or its timeout ends the leg local', () => {
    const r = stepInboundLeg(confirmed(), { type: 'hangup', status: 486 }, 1000);
    expect(summary(r.commands)).toEqual(['cancel session', 'media-stop', 'BYE 1']);
    const bye = requestsIn(r.commands)[0]!;
    expect(cseq(bye)).toEqual({ seq: 1, method: 'BYE' });
    // A hang-up while ending is absorbed; a BYE crossing ours gets 200; other requests 481.
    expect(stepInboundLeg(r.state, { type: 'hangup' }, 1001).commands).toEqual([]);
    expect(summary(stepInboundLeg(r.state, req('BYE', 102), 1001).commands)).toEqual(['BYE 200']);
    expect(summary(stepInboundLeg(r.state, req('INFO', 102), 1001).commands)).toEqual(['INFO 481']);
    expect(stepInboundLeg(r.state, { type: 'media-timeout' }, 1001).commands).toEqual([]);
    const failed = stepInboundLeg(
      r.state,
      { type: 'request-failed', method: 'BYE', seq: 1, reason: 'timeout' },
      33000,
    );
    expect(summary(failed.commands)).toEqual(['ended local']);
    // A 1xx or someone else's answer does not end it.
    expect(stepInboundLeg(r.state, { type: 'response', response: okTo(bye, 100) }, 1002).commands).toEqual(
      [],
    );
    expect(
      stepInboundLeg(r.state, { type: 'request-failed', method: 'INFO', seq: 9, reason: 'timeout' }, 1002)
        .commands,
    ).toEqual([]);
  });

  test('RTP silence: BYE, ended timeout', () => {
    const r = stepInboundLeg(confirmed(), { type: 'media-timeout' }, 1000);
    expect(summary(r.commands)).toEqual(['cancel session', 'media-stop', 'BYE 1']);
    expect(r.state.end).toMatchObject({ reason: 'timeout' });
  });

  test('INFO keys: dtmf-relay and dtmf taken, others 415, unreadable 400, empty 200', () => {
    const leg = confirmed();
    const info = (body: string, contentType?: string) =>
      summary(
        stepInboundLeg(
          leg,
          req('INFO', 102, { body, ...(contentType === undefined ? {} : { contentType }) }),
          1,
        ).commands,
      );
    expect(info('Signal=#\r\nDuration=100\r\n', 'application/dtmf-relay')).toEqual(['INFO 200', 'dtmf #']);
    expect(info('signal= 11', 'application/dtmf-relay')).toEqual(['INFO 200', 'dtmf #']);
    expect(info('b', 'application/dtmf')).toEqual(['INFO 200', 'dtmf B']);
    expect(info('Signal=X', 'application/dtmf-relay')).toEqual(['INFO 400', 'refusal INFO 400']);
    expect(info('Duration=1', 'application/dtmf-relay')).toEqual(['INFO 400', 'refusal INFO 400']);
    expect(info('99', 'application/dtmf')).toEqual(['INFO 400', 'refusal INFO 400']);
    expect(info('<xml/>', 'application/xml')).toEqual(['INFO 415', 'refusal INFO 415']);
    expect(info('')).toEqual(['INFO 200']);
  });

  test('OPTIONS 200, an unknown method 405, a request out of order 500, of another dialog 481', () => {
    const leg = confirmed();
    expect(summary(stepInboundLeg(leg, req('OPTIONS', 102), 1).commands)).toEqual(['OPTIONS 200']);
    expect(summary(stepInboundLeg(leg, req('REFER', 102), 1).commands)).toEqual([
      'REFER 405',
      'refusal REFER 405',
    ]);
    expect(summary(stepInboundLeg(leg, req('INFO', 100), 1).commands)).toEqual([
      'INFO 500',
      'refusal INFO 500',
    ]);
    expect(
      summary(
        stepInboundLeg(leg, { type: 'request', request: callerRequest('BYE', 102, 'nope') }, 1).commands,
      ),
    ).toEqual(['BYE 481', 'refusal BYE 481']);
  });

  test('a pure refresh re-INVITE: 200 with the very same SDP, resent until its ACK', () => {
    const leg = confirmed();
    const r = stepInboundLeg(leg, req('INVITE', 102, { body: OFFER, contact: 'sip:moved@192.0.2.11' }), 5000);
    expect(summary(r.commands)).toEqual([
      'INVITE 200',
      'start 2xx-resend @5500',
      'start ack-wait @37000',
      'start session @905000',
    ]);
    expect(responsesIn(r.commands)[0]!.body.toString()).toBe(leg.localSdp);
    expect(r.state.dialog!.remoteTarget).toBe('sip:moved@192.0.2.11');
    // A second re-INVITE before the ACK: 500 with Retry-After.
    const again = stepInboundLeg(r.state, req('INVITE', 103, { body: OFFER }), 5001);
    expect(summary(again.commands)).toEqual(['INVITE 500']);
    expect(headerValue(responsesIn(again.commands)[0]!, 'Retry-After')).toBe('2');
    expect(summary(stepInboundLeg(r.state, ack(102), 5100).commands)).toEqual([
      'cancel 2xx-resend',
      'cancel ack-wait',
    ]);
    // BYE after the refresh's ACK goes to the moved target.
    const byeState = stepInboundLeg(stepInboundLeg(r.state, ack(102), 5100).state, { type: 'hangup' }, 6000);
    expect(requestsIn(byeState.commands)[0]!.uri).toBe('sip:moved@192.0.2.11');
  });

  test('a re-INVITE with a changed offer: our version goes up and the media follows; a bad one is 488', () => {
    const leg = confirmed();
    const moved = OFFER.replace('m=audio 40000', 'm=audio 40002').replace('o=carrier 1 1', 'o=carrier 1 2');
    const r = stepInboundLeg(leg, req('INVITE', 102, { body: moved }), 5000);
    // Their port moved, our description did not: same SDP, same version, media follows.
    expect(summary(r.commands)).toContain('media-update');
    expect(r.state.local.sessionVersion).toBe(1);
    expect(r.state.audio).toMatchObject({ remotePort: 40002 });
    const held = OFFER.replace('a=ptime:20', 'a=ptime:20\r\na=sendonly');
    const h = stepInboundLeg(leg, req('INVITE', 102, { body: held }), 5000);
    // Put on hold, our answer changes (recvonly): a new version of it.
    expect(responsesIn(h.commands)[0]!.body.toString()).toContain('a=recvonly');
    expect(h.state.local.sessionVersion).toBe(2);
    expect(responsesIn(h.commands)[0]!.body.toString()).toMatch(/o=\S+ 42 2 IN IP4/);
    const bad = stepInboundLeg(
      leg,
      req('INVITE', 102, { body: OFFER.replace(/RTP\/AVP 8 0 101/, 'RTP/AVP 18') }),
      5000,
    );
    expect(summary(bad.commands)).toEqual(['INVITE 488', 'refusal INVITE 488']);
    expect(bad.state.phase).toBe('confirmed');
  });

  test('an UPDATE refresh without an offer: 200 without a body; a too short one: 422', () => {
    const r = stepInboundLeg(
      confirmed(),
      req('UPDATE', 102, { extra: 'Supported: timer\nSession-Expires: 600;refresher=uac\n' }),
      5000,
    );
    expect(summary(r.commands)).toEqual(['UPDATE 200', 'start session @573000']);
    expect(responsesIn(r.commands)[0]!.body.length).toBe(0);
    expect(headerValue(responsesIn(r.commands)[0]!, 'Session-Expires')).toBe('600;refresher=uac');
    const short = stepInboundLeg(confirmed(), req('UPDATE', 102, { extra: 'Session-Expires: 30\n' }), 5000);
    expect(summary(short.commands)).toEqual(['UPDATE 422', 'refusal UPDATE 422']);
    const bad = stepInboundLeg(confirmed(), req('UPDATE', 102, { extra: 'Min-SE: x\n' }), 5000);
    expect(summary(bad.commands)).toEqual(['UPDATE 400', 'refusal UPDATE 400']);
  });

  test('a re-INVITE without an offer gets ours', () => {
    const r = stepInboundLeg(confirmed(), req('INVITE', 102), 5000);
    expect(responsesIn(r.commands)[0]!.body.toString()).toBe(confirmed().localSdp);
  });

  test('we refresh at half the interval with a re-INVITE of the same SDP; its 2xx is ACKed', () => {
    const leg = confirmed();
    const r = stepInboundLeg(leg, { type: 'timer', name: 'session' }, 900_000);
    expect(summary(r.commands)).toEqual(['INVITE 1', 'start session @1800000']);
    const reinvite = requestsIn(r.commands)[0]!;
    expect(reinvite.body.toString()).toBe(leg.localSdp);
    expect(headerValue(reinvite, 'Session-Expires')).toBe('1800;refresher=uac');
    // The peer's re-INVITE crossing ours: 491.
    expect(summary(stepInboundLeg(r.state, req('INVITE', 102, { body: OFFER }), 900_001).commands)).toEqual([
      'INVITE 491',
    ]);
    const ok = {
      ...okTo(reinvite),
      headers: [...okTo(reinvite).headers, { name: 'Session-Expires', value: '1800;refresher=uac' }],
    };
    ok.headers = ok.headers.map((h) => (h.name === 'To' ? { ...h, value: `${h.value}` } : h));
    const done = stepInboundLeg(r.state, { type: 'response', response: ok }, 900_100);
    expect(summary(done.commands)).toEqual(['ACK 1', 'start session @1800100']);
    // The same 2xx again: the same ACK again.
    const again = stepInboundLeg(done.state, { type: 'response', response: ok }, 900_200);
    expect(requestsIn(again.commands)).toEqual(requestsIn(done.commands));
  });

  test('a peer that allows UPDATE is refreshed with an UPDATE without a body, and no ACK', () => {
    const inv = invite({ extra: 'Allow: INVITE, ACK, CANCEL, BYE, UPDATE\n' });
    const up = stepInboundLeg(stepInboundLeg(offered(inv), { type: 'answer' }, 0).state, ack(101), 10).state;
    const r = stepInboundLeg(up, { type: 'timer', name: 'session' }, 900_000);
    expect(summary(r.commands)).toEqual(['UPDATE 1', 'start session @1800000']);
    const update = requestsIn(r.commands)[0]!;
    expect(update.body.length).toBe(0);
    expect(headerValue(update, 'Session-Expires')).toBe('1800;refresher=uac');
    const ok = {
      ...okTo(update),
      headers: [...okTo(update).headers, { name: 'Session-Expires', value: '1800;refresher=uac' }],
    };
    expect(summary(stepInboundLeg(r.state, { type: 'response', response: ok }, 900_100).commands)).toEqual([
      'start session @1800100',
    ]);
    expect(
      summary(stepInboundLeg(r.state, { type: 'response', response: okTo(update, 408) }, 900_100).commands),
    ).toEqual(['cancel session', 'media-stop', 'BYE 2']);
    const failed = stepInboundLeg(
      r.state,
      { type: 'request-failed', method: 'UPDATE', seq: 1, reason: 'transport-error' },
      900_100,
    );
    expect(summary(failed.commands)).toEqual(['cancel session', 'media-stop', 'BYE 2']);
    // A 2xx of an INVITE numbered like the UPDATE is not its answer: it is ACKed, the UPDATE still waits.
    const stray = {
      ...ok,
      headers: ok.headers.map((h) => (h.name === 'CSeq' ? { ...h, value: '1 INVITE' } : h)),
    };
    const strayStep = stepInboundLeg(r.state, { type: 'response', response: stray }, 900_100);
    expect(summary(strayStep.commands)).toEqual(['ACK 1']);
    expect(strayStep.state.refreshSeq).toBe(1);
  });

  test('a refresh answered 481 (or timed out) means the dialog is gone: BYE, ended timeout', () => {
    const r = stepInboundLeg(confirmed(), { type: 'timer', name: 'session' }, 900_000);
    const reinvite = requestsIn(r.commands)[0]!;
    const gone = stepInboundLeg(r.state, { type: 'response', response: okTo(reinvite, 481) }, 900_100);
    expect(summary(gone.commands)).toEqual(['cancel session', 'media-stop', 'BYE 2']);
    expect(gone.state.end).toMatchObject({ reason: 'timeout' });
    const timedOut = stepInboundLeg(
      r.state,
      { type: 'request-failed', method: 'INVITE', seq: 1, reason: 'timeout' },
      932_000,
    );
    expect(summary(timedOut.commands)).toEqual(['cancel session', 'media-stop', 'BYE 2']);
    // A 491 (glare) is retried later, the call goes on.
    const glare = stepInboundLeg(r.state, { type: 'response', response: okTo(reinvite, 491) }, 900_100);
    expect(summary(glare.commands)).toEqual(['start session @1350050']);
  });

  test('the caller refreshes: with no refresh in time, BYE before expiry', () => {
    const inv = invite({ extra: 'Supported: timer\nSession-Expires: 1800\n' });
    let state = stepInboundLeg(offered(inv), { type: 'answer' }, 0).state;
    state = stepInboundLeg(state, ack(101), 10).state;
    expect(state.timers.session!.atMs).toBe(1_768_000);
    const r = stepInboundLeg(state, { type: 'timer', name: 'session' }, 1_768_000);
    expect(summary(r.commands)).toEqual(['media-stop', 'BYE 1']);
    expect(r.state.end).toEqual({ reason: 'timeout', detail: 'session timer: session-expired' });
  });
});

describe('events a phase does not take', () => {
  test('are refused with IllegalLegEvent and change nothing', () => {
    const leg = offered();
    for (const e of [
      { type: 'response', response: okTo(requestsIn([])[0] ?? callerRequest('BYE', 1, 'x')) },
      { type: 'timer', name: 'ack-wait' },
      { type: 'media-timeout' },
    ] as InboundEvent[]) {
      expect(() => stepInboundLeg(leg, e, 0)).toThrow(IllegalLegEvent);
    }
    expect(() => stepInboundLeg(confirmed(), { type: 'timer', name: 'ack-wait' }, 0)).toThrow(/not running/);
    const ended = stepInboundLeg(leg, { type: 'hangup' }, 0).state;
    expect(() => stepInboundLeg(ended, { type: 'hangup' }, 0)).toThrow(/the leg is over/);
    expect(leg.phase).toBe('offered');
  });
});
