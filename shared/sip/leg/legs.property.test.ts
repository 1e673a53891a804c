/**
 * Random event sequences against both legs (fast-check; a failure prints the sequence that
 * shrinks to it). Events are drawn from what the leg has done so far, as a peer and the site
 * would send them (answers to the requests it sent, requests in its dialog with CSeq numbers
 * in and out of order, resent 2xx, other forks, timers that run), mixed with events its
 * phase does not take. After every step:
 *
 * - the phase is one of the leg's; an event refused is an IllegalLegEvent and changed nothing;
 * - the timers the state says are running are those the commands started and did not cancel
 *   (nor fired), as an adapter holds them;
 * - `ended` comes once, last, with the state's reason; media stops once after it started;
 * - every 2xx to our INVITE with a To tag is ACKed in the same step, and one that crossed
 *   our CANCEL is followed by a BYE;
 * - every message the leg builds goes through the serializer and back through the parser.
 *
 * Then the site and the peer do their part (hang up, answer the BYE or the INVITE, let the
 * timers fire) and the leg must end within a few steps with no timer left running.
 */
import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { cseq, toHeader } from '../headers.js';
import type { SipRequest } from '../message.js';
import { answer, callerRequest, invite, OFFER, roundTrip } from '../dialog/testing.js';
import { IllegalLegEvent } from './illegal-event.js';
import { startInboundLeg, stepInboundLeg, type InboundEvent, type InboundLeg } from './inbound.js';
import { startOutboundLeg, stepOutboundLeg, type OutboundLeg } from './outbound.js';
import { legOptions, phoneAnswer } from './testing.js';
import type { LegCommand, LegEvent, LegState, LegStepResult, LegTimerName } from './types.js';

type Leg = LegState<string>;
type AnyEvent = InboundEvent | LegEvent;

interface Subject {
  readonly name: string;
  readonly phases: readonly string[];
  start(): LegStepResult<Leg>;
  step(leg: Leg, event: AnyEvent, nowMs: number): LegStepResult<Leg>;
  /** A request from the peer in this leg's dialog. */
  peerRequest(leg: Leg, method: string, seq: number, body?: string): SipRequest;
  /** What the site or peer owes this leg so it can end, if an event does it. */
  owed(leg: Leg, open: readonly SipRequest[]): AnyEvent | undefined;
}

const TIMERS: readonly LegTimerName[] = ['2xx-resend', 'ack-wait', 'ring', 'session'];

/** A request as the caller (inbound) or the phone (outbound) sends it in the leg's dialog. */
function inDialogFromPeer(leg: Leg, method: string, seq: number, body = ''): SipRequest {
  const ours = leg.dialog?.id.localTag ?? 'xt1';
  const r = callerRequest(method, seq, ours, body === '' ? {} : { body });
  if (leg.dialog === undefined || leg.dialog.role === 'uas') return r;
  const d = leg.dialog;
  const headers = r.headers.map((h) =>
    h.name === 'From'
      ? { ...h, value: `<sip:1001@site.example>;tag=${d.id.remoteTag}` }
      : h.name === 'To'
        ? { ...h, value: `<sip:95555@site.example>;tag=${d.id.localTag}` }
        : h.name === 'Call-ID'
          ? { ...h, value: d.id.callId }
          : h,
  );
  return { ...r, headers };
}

const SUBJECTS: Subject[] = [
  {
    name: 'inbound',
    phases: ['offered', 'ringing', 'answered', 'confirmed', 'ending', 'ended'],
    start: () =>
      startInboundLeg(invite({ extra: 'Supported: timer\nSession-Expires: 90\n' }), legOptions(), 0),
    step: (leg, e, now) => stepInboundLeg(leg as InboundLeg, e, now),
    peerRequest: inDialogFromPeer,
    owed: (leg, open) => {
      if (leg.phase === 'offered' || leg.phase === 'ringing' || leg.phase === 'confirmed')
        return { type: 'hangup' };
      if (leg.phase === 'ending') return byeOwed(leg, open);
      return undefined; // answered: the ACK wait ends it by its timer
    },
  },
  {
    name: 'inbound, late offer, UPDATE allowed',
    phases: ['offered', 'ringing', 'answered', 'confirmed', 'ending', 'ended'],
    start: () =>
      startInboundLeg(
        invite({ body: '', extra: 'Allow: INVITE, ACK, BYE, CANCEL, UPDATE\n' }),
        legOptions(),
        0,
      ),
    step: (leg, e, now) => stepInboundLeg(leg as InboundLeg, e, now),
    peerRequest: inDialogFromPeer,
    owed: (leg, open) => {
      if (leg.phase === 'offered' || leg.phase === 'ringing' || leg.phase === 'confirmed')
        return { type: 'hangup' };
      if (leg.phase === 'ending') return byeOwed(leg, open);
      return undefined;
    },
  },
  {
    name: 'outbound',
    phases: ['calling', 'ringing', 'cancelling', 'confirmed', 'ending', 'ended'],
    start: () =>
      startOutboundLeg(
        {
          requestUri: 'sip:1001@10.0.0.7',
          toUri: 'sip:1001@site.example',
          fromUri: 'sip:95555@site.example',
        },
        legOptions(),
        15_000,
        0,
      ),
    step: (leg, e, now) => stepOutboundLeg(leg as OutboundLeg, e as LegEvent, now),
    peerRequest: inDialogFromPeer,
    owed: (leg, open) => {
      if (leg.phase === 'calling' || leg.phase === 'ringing' || leg.phase === 'confirmed')
        return { type: 'hangup' };
      if (leg.phase === 'cancelling')
        return { type: 'response', response: answer(leg.invite, 487, { toTag: 'phone' }) };
      if (leg.phase === 'ending') return byeOwed(leg, open);
      return undefined;
    },
  },
];

function byeOwed(leg: Leg, open: readonly SipRequest[]): AnyEvent {
  const bye = open.find((r) => r.method === 'BYE' && cseq(r).seq === leg.byeSeq);
  return bye === undefined
    ? { type: 'request-failed', method: 'BYE', seq: leg.byeSeq!, reason: 'timeout' }
    : { type: 'response', response: answer(bye, 200) };
}

/** One random choice, read against the leg's current state. */
const choice = fc.record({ kind: fc.nat(15), a: fc.nat(1000), b: fc.nat(1000) });
type Choice = { kind: number; a: number; b: number };

const pick = <T>(items: readonly T[], n: number): T => items[n % items.length]!;

function eventOf(
  subject: Subject,
  leg: Leg,
  c: Choice,
  open: readonly SipRequest[],
  peerSeq: number,
): AnyEvent {
  const running = TIMERS.filter((t) => leg.timers[t] !== undefined);
  switch (c.kind) {
    case 0:
    case 1: {
      // The peer answers one of our requests (the INVITE most of the time, before the answer).
      const target = open.length === 0 || c.b % 3 === 0 ? leg.invite : pick(open, c.b);
      const status = pick([100, 180, 183, 200, 200, 200, 486, 487, 404, 503, 422, 481, 491, 408], c.a);
      const toTag = pick(['phone', 'phone', 'phone', 'fork2', undefined], c.b);
      const isInvite2xx = target.method === 'INVITE' && status < 300 && status >= 200;
      const body = isInvite2xx ? (c.a % 7 === 0 ? 'garbage' : phoneAnswer()) : '';
      const extra =
        status === 422 ? 'Min-SE: 1800' : c.a % 2 === 0 ? 'Session-Expires: 90;refresher=uac' : undefined;
      return {
        type: 'response',
        response: answer(target, status, {
          ...(toTag === undefined || toHeader(target).tag !== undefined ? {} : { toTag }),
          ...(isInvite2xx ? { contact: 'sip:1001@10.0.0.7' } : {}),
          body,
          ...(extra === undefined ? {} : { extra }),
        }),
      };
    }
    case 2:
    case 3: {
      if (running.length === 0) return { type: 'timer', name: pick(TIMERS, c.a) }; // refused: nothing runs
      // Mostly the one due first, as a clock fires them; sometimes any (an adapter's late fire).
      const due = [...running].sort((x, y) => leg.timers[x]!.atMs - leg.timers[y]!.atMs);
      return { type: 'timer', name: c.a % 4 === 0 ? pick(running, c.b) : due[0]! };
    }
    case 4:
    case 5: {
      // The ACK our 2xx waits for comes often, as it does in a real exchange.
      const method =
        leg.unacked2xx !== undefined && c.a % 2 === 0
          ? 'ACK'
          : pick(['BYE', 'INFO', 'INVITE', 'UPDATE', 'OPTIONS', 'CANCEL', 'ACK', 'REFER'], c.a);
      const seq =
        method === 'ACK'
          ? (leg.unacked2xx?.seq ?? cseq(leg.invite).seq)
          : method === 'CANCEL'
            ? cseq(leg.invite).seq
            : peerSeq + (c.b % 4) - 1;
      // A re-INVITE with or without an offer; an ACK with the answer to a late offer, or none.
      const body =
        method === 'INVITE' && c.b % 2 === 0 ? OFFER : method === 'ACK' && c.b % 2 === 0 ? phoneAnswer() : '';
      return { type: 'request', request: subject.peerRequest(leg, method, seq, body) };
    }
    case 6:
      return { type: 'hangup', ...(c.a % 2 === 0 ? { status: pick([486, 480, 503], c.b) } : {}) };
    case 7:
      return { type: 'media-timeout' };
    case 8: {
      const r = open.length === 0 ? leg.invite : pick(open, c.a);
      return {
        type: 'request-failed',
        method: r.method,
        seq: cseq(r).seq,
        reason: c.b % 2 ? 'timeout' : 'transport-error',
      };
    }
    case 9:
      return { type: 'ring' };
    case 10:
    case 11:
      return { type: 'answer' };
    default:
      // The same 2xx again (a resend), or a 1xx: the common case in a real exchange.
      return {
        type: 'response',
        response: answer(leg.invite, c.a % 2 ? 200 : 180, {
          toTag: 'phone',
          contact: 'sip:1001@10.0.0.7',
          body: c.a % 2 ? phoneAnswer() : '',
        }),
      };
  }
}

/** What the adapter holds, fed by the commands. */
class Observer {
  readonly timers = new Map<LegTimerName, number>();
  open: SipRequest[] = [];
  ended = 0;
  mediaStarts = 0;
  mediaStops = 0;

  take(commands: readonly LegCommand[], event: AnyEvent | undefined): void {
    if (event?.type === 'timer') this.timers.delete(event.name);
    commands.forEach((c, i) => {
      switch (c.type) {
        case 'start-timer':
          this.timers.set(c.name, c.atMs);
          break;
        case 'cancel-timer':
          expect(this.timers.has(c.name), `cancel of ${c.name}, not running`).toBe(true);
          this.timers.delete(c.name);
          break;
        case 'send-request':
          roundTrip(c.request); // what the leg builds, the parser takes
          if (c.request.method !== 'ACK') this.open.push(c.request);
          break;
        case 'send-response':
          roundTrip(c.response);
          break;
        case 'media-start':
          expect(this.mediaStarts, 'media starts once').toBe(0);
          this.mediaStarts++;
          break;
        case 'media-stop':
          expect(this.mediaStops, 'media stops once, after it started').toBeLessThan(this.mediaStarts);
          this.mediaStops++;
          break;
        case 'ended':
          this.ended++;
          expect(i, 'ended is the last command').toBe(commands.length - 1);
          break;
      }
    });
  }

  /** A final (or failure) for a request closes it. */
  answered(event: AnyEvent): void {
    if (event.type === 'response' && event.response.status >= 200) {
      const { seq, method } = cseq(event.response);
      this.open = this.open.filter((r) => !(r.method === method && cseq(r).seq === seq));
    }
    if (event.type === 'request-failed') {
      this.open = this.open.filter((r) => !(r.method === event.method && cseq(r).seq === event.seq));
    }
  }
}

const snapshot = (leg: Leg): string => JSON.stringify({ ...leg, options: undefined });

function check(subject: Subject, leg: Leg, seen: Observer): void {
  expect(subject.phases).toContain(leg.phase);
  const running = new Map(Object.entries(leg.timers).map(([n, t]) => [n as LegTimerName, t.atMs]));
  expect(running).toEqual(seen.timers);
  expect(seen.ended).toBe(leg.phase === 'ended' ? 1 : 0);
  if (leg.phase === 'ended') {
    expect(seen.timers.size).toBe(0);
    expect(seen.mediaStops).toBe(seen.mediaStarts);
  }
}

function checkAcks(before: Leg, event: AnyEvent, commands: readonly LegCommand[]): void {
  if (before.dialog?.role === 'uas' || event.type !== 'response') return;
  const r = event.response;
  const { seq, method } = cseq(r);
  const ours = method === 'INVITE' && seq === cseq(before.invite).seq;
  if (!ours || r.status < 200 || r.status >= 300 || toHeader(r).tag === undefined) return;
  const sent = commands.flatMap((c) => (c.type === 'send-request' ? [c.request] : []));
  const ack = sent.findIndex((q) => q.method === 'ACK' && cseq(q).seq === seq);
  expect(ack, 'a 2xx to our INVITE is ACKed').toBeGreaterThanOrEqual(0);
  if (before.phase === 'cancelling') {
    expect(
      sent.findIndex((q, i) => i > ack && q.method === 'BYE'),
      'a 2xx that crossed our CANCEL is followed by a BYE',
    ).toBeGreaterThan(ack);
  }
}

describe.each(SUBJECTS)('the $name leg under random events', (subject) => {
  test('stays legal, keeps its timers straight, ACKs every 2xx, ends once', () => {
    fc.assert(
      fc.property(fc.array(choice, { maxLength: 60, size: 'max' }), (choices) => {
        const seen = new Observer();
        const first = subject.start();
        seen.take(first.commands, undefined);
        let leg = first.state;
        check(subject, leg, seen);
        let now = 0;
        let peerSeq = 102;
        const apply = (event: AnyEvent): void => {
          if (event.type === 'timer' && leg.timers[event.name])
            now = Math.max(now, leg.timers[event.name]!.atMs);
          const before = snapshot(leg);
          let result: LegStepResult<Leg>;
          try {
            result = subject.step(leg, event, now);
          } catch (e) {
            expect(e).toBeInstanceOf(IllegalLegEvent);
            expect(snapshot(leg)).toBe(before);
            return;
          }
          seen.take(result.commands, event);
          seen.answered(event);
          checkAcks(leg, event, result.commands);
          leg = result.state;
          check(subject, leg, seen);
        };
        for (const c of choices) {
          now += c.b % 50;
          const event = eventOf(subject, leg, c, seen.open, peerSeq);
          if (
            event.type === 'request' &&
            event.request.method !== 'ACK' &&
            event.request.method !== 'CANCEL'
          ) {
            peerSeq = Math.max(peerSeq, cseq(event.request).seq + 1);
          }
          apply(event);
        }
        // The site and the peer do their part; timers fire at their time.
        for (let i = 0; i < 12 && leg.phase !== 'ended'; i++) {
          const owed = subject.owed(leg, seen.open);
          const next = TIMERS.filter((t) => leg.timers[t] !== undefined).sort(
            (a, b) => leg.timers[a]!.atMs - leg.timers[b]!.atMs,
          )[0];
          apply(owed ?? { type: 'timer', name: next! });
          if (owed?.type === 'hangup' && leg.phase !== 'ended' && next !== undefined && leg.timers[next]) {
            apply({ type: 'timer', name: next });
          }
        }
        expect(leg.phase).toBe('ended');
        expect(seen.timers.size).toBe(0);
      }),
      { numRuns: 200 },
    );
  });
});
