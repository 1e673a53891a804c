import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { isDomainError } from '../../errors.js';
import { cseq, fromHeader, routes, toHeader, vias } from '../headers.js';
import { headerValue, headerValues } from '../message.js';
import {
  confirmUacDialog,
  confirmUasDialog,
  createUacDialog,
  createUasDialog,
  dialogKey,
  dialogKeyOfRequest,
  dialogKeyOfResponse,
  type Dialog,
} from './dialog.js';
import { receiveInDialog } from './incoming.js';
import {
  buildAck,
  buildCancel,
  buildInDialogRequest,
  buildInvite,
  isLooseRoute,
  routeOf,
} from './requests.js';
import { answer, callerRequest, invite, LOCAL_CONTACT, LOCAL_VIA, roundTrip } from './testing.js';

const uas = (): Dialog =>
  createUasDialog(invite(), { localTag: 'site-tag', localTarget: LOCAL_CONTACT, state: 'confirmed' });

const ourInvite = () =>
  roundTrip(
    buildInvite(
      {
        requestUri: 'sip:1001@10.0.0.7:5062',
        fromUri: 'sip:95555@site.example',
        fromDisplayName: 'Bank',
        fromTag: 'our-tag',
        toUri: 'sip:1001@site.example',
        callId: 'out-1@10.0.0.5',
        seq: 1,
        contact: LOCAL_CONTACT,
      },
      LOCAL_VIA,
      'z9hG4bKinv1',
    ),
  );

const errorField = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (e) {
    if (isDomainError(e)) return e.field;
    throw e;
  }
  return 'no error';
};

describe('a dialog as UAS', () => {
  test('takes its id, sequence numbers, URIs, target and route set from the INVITE', () => {
    const d = uas();
    expect(d).toEqual({
      id: { callId: 'call-1@192.0.2.10', localTag: 'site-tag', remoteTag: 'caller-tag' },
      role: 'uas',
      state: 'confirmed',
      localSeq: undefined,
      remoteSeq: 101,
      localUri: 'sip:95555@site.example',
      remoteUri: 'sip:13800138000@carrier.example',
      localTarget: LOCAL_CONTACT,
      remoteTarget: 'sip:13800138000@192.0.2.10:5060',
      routeSet: ['sip:p2.carrier.example;lr', 'sip:p1.carrier.example;lr'],
    });
    expect(dialogKeyOfRequest(callerRequest('BYE', 102, 'site-tag'))).toBe(dialogKey(d.id));
  });

  test('starts early and is confirmed by our 2xx', () => {
    const early = createUasDialog(invite(), { localTag: 't', localTarget: LOCAL_CONTACT, state: 'early' });
    expect(early.state).toBe('early');
    expect(confirmUasDialog(early).state).toBe('confirmed');
    const c = confirmUasDialog(early);
    expect(confirmUasDialog(c)).toBe(c);
  });

  test('refuses an INVITE without Contact, a request that is not an INVITE, a bad tag', () => {
    const noContact = invite({ extra: '' });
    const stripped = { ...noContact, headers: noContact.headers.filter((h) => h.name !== 'Contact') };
    expect(
      errorField(() => createUasDialog(stripped, { localTag: 't', localTarget: 'sip:x', state: 'early' })),
    ).toBe('Contact');
    const star = { ...noContact, headers: [...stripped.headers, { name: 'Contact', value: '*' }] };
    expect(
      errorField(() => createUasDialog(star, { localTag: 't', localTarget: 'sip:x', state: 'early' })),
    ).toBe('Contact');
    const bye = callerRequest('BYE', 1, 'x');
    expect(
      errorField(() => createUasDialog(bye, { localTag: 't', localTarget: 'sip:x', state: 'early' })),
    ).toBe('request.method');
    expect(
      errorField(() => createUasDialog(invite(), { localTag: 'a b', localTarget: 'sip:x', state: 'early' })),
    ).toBe('localTag');
  });
});

describe('a dialog as UAC', () => {
  test('takes the route set reversed from the response, and its Contact as target', () => {
    const inv = ourInvite();
    const ringing = answer(inv, 180, {
      toTag: 'phone-tag',
      recordRoute: '<sip:p1.example;lr>, <sip:p2.example;lr>',
    });
    const early = createUacDialog(inv, ringing);
    expect(early.state).toBe('early');
    expect(early.routeSet).toEqual(['sip:p2.example;lr', 'sip:p1.example;lr']);
    // No Contact in the 180: the Request-URI stands in until the 2xx.
    expect(early.remoteTarget).toBe('sip:1001@10.0.0.7:5062');
    expect(early.localSeq).toBe(1);
    expect(early.remoteSeq).toBeUndefined();
    expect(dialogKeyOfResponse(ringing)).toBe(dialogKey(early.id));

    const ok = answer(inv, 200, {
      toTag: 'phone-tag',
      contact: 'sip:1001@10.0.0.7:5062;ob',
      recordRoute: '<sip:p9.example;lr>',
    });
    const confirmed = confirmUacDialog(early, inv, ok);
    expect(confirmed.state).toBe('confirmed');
    expect(confirmed.remoteTarget).toBe('sip:1001@10.0.0.7:5062;ob');
    expect(confirmed.routeSet).toEqual(['sip:p9.example;lr']);
    // A second 1xx of the same dialog changes nothing.
    expect(confirmUacDialog(early, inv, ringing)).toBe(early);
  });

  test('refuses a response without a To tag, of another INVITE, of another fork, or not 101-299', () => {
    const inv = ourInvite();
    expect(errorField(() => createUacDialog(inv, answer(inv, 180)))).toBe('To.tag');
    expect(errorField(() => createUacDialog(inv, answer(inv, 100, { toTag: 'a' })))).toBe('response.status');
    expect(errorField(() => createUacDialog(inv, answer(inv, 486, { toTag: 'a' })))).toBe('response.status');
    const other = {
      ...inv,
      headers: inv.headers.map((h) => (h.name === 'CSeq' ? { ...h, value: '9 INVITE' } : h)),
    };
    expect(errorField(() => createUacDialog(inv, answer(other, 200, { toTag: 'a' })))).toBe('response');
    const early = createUacDialog(inv, answer(inv, 180, { toTag: 'a' }));
    expect(errorField(() => confirmUacDialog(early, inv, answer(inv, 200, { toTag: 'b' })))).toBe('To.tag');
    const bye = callerRequest('BYE', 1, 'x');
    expect(errorField(() => createUacDialog(bye, answer(inv, 200, { toTag: 'a' })))).toBe('request.method');
    const untagged = {
      ...inv,
      headers: inv.headers.map((h) => (h.name === 'From' ? { ...h, value: '<sip:a@b>' } : h)),
    };
    expect(errorField(() => createUacDialog(untagged, answer(untagged, 200, { toTag: 'a' })))).toBe(
      'From.tag',
    );
    expect(dialogKeyOfResponse(answer(inv, 180))).toBeUndefined();
  });
});

describe('requests in a dialog', () => {
  test('a BYE: next CSeq, tags, loose route set as Route, remote target as Request-URI', () => {
    const { dialog, request } = buildInDialogRequest(uas(), 'BYE', LOCAL_VIA, 'z9hG4bKbye1');
    const bye = roundTrip(request);
    expect(dialog.localSeq).toBe(1);
    expect(bye.method).toBe('BYE');
    expect(bye.uri).toBe('sip:13800138000@192.0.2.10:5060');
    expect(routes(bye).map((r) => r.uri)).toEqual(['sip:p2.carrier.example;lr', 'sip:p1.carrier.example;lr']);
    expect(fromHeader(bye)).toMatchObject({ uri: 'sip:95555@site.example', tag: 'site-tag' });
    expect(toHeader(bye)).toMatchObject({ uri: 'sip:13800138000@carrier.example', tag: 'caller-tag' });
    expect(cseq(bye)).toEqual({ seq: 1, method: 'BYE' });
    expect(vias(bye)[0]).toMatchObject({ transport: 'UDP', sentBy: '10.0.0.5:5060', branch: 'z9hG4bKbye1' });
    expect(headerValue(bye, 'Contact')).toBeUndefined();
    const next = buildInDialogRequest(dialog, 'INFO', LOCAL_VIA, 'z9hG4bKinfo');
    expect(cseq(next.request).seq).toBe(2);
  });

  test('a re-INVITE and an UPDATE carry our Contact and the extras', () => {
    const body = Buffer.from('v=0\r\n');
    const { request } = buildInDialogRequest(uas(), 'INVITE', LOCAL_VIA, 'z9hG4bKre', {
      headers: [{ name: 'Content-Type', value: 'application/sdp' }],
      body,
    });
    expect(headerValue(roundTrip(request), 'Contact')).toBe(`<${LOCAL_CONTACT}>`);
    expect(roundTrip(request).body.toString()).toBe('v=0\r\n');
    expect(headerValue(buildInDialogRequest(uas(), 'UPDATE', LOCAL_VIA, 'z9hG4bKu').request, 'Contact')).toBe(
      `<${LOCAL_CONTACT}>`,
    );
  });

  test('a strict first route becomes the Request-URI and the target goes last', () => {
    const d = { ...uas(), routeSet: ['sip:strict.example?X=1', 'sip:p1.example;lr'] };
    expect(routeOf(d)).toEqual({ uri: 'sip:strict.example', routes: ['sip:p1.example;lr', d.remoteTarget] });
    expect(isLooseRoute('sip:a;lr=on')).toBe(true);
    expect(isLooseRoute('sip:a;lrx')).toBe(false);
    expect(isLooseRoute('sip:a?lr')).toBe(false);
    expect(routeOf({ ...d, routeSet: [] })).toEqual({ uri: d.remoteTarget, routes: [] });
  });

  test('ACK and CANCEL are refused there, and so is a bad method or branch', () => {
    expect(errorField(() => buildInDialogRequest(uas(), 'ACK', LOCAL_VIA, 'z9hG4bKa'))).toBe('method');
    expect(errorField(() => buildInDialogRequest(uas(), 'CANCEL', LOCAL_VIA, 'z9hG4bKa'))).toBe('method');
    expect(errorField(() => buildInDialogRequest(uas(), 'bye me', LOCAL_VIA, 'z9hG4bKa'))).toBe('method');
    expect(errorField(() => buildInDialogRequest(uas(), 'BYE', LOCAL_VIA, 'nocookie'))).toBe('branch');
  });

  test('the ACK of a 2xx: the INVITE CSeq number, a new branch, the route set', () => {
    const inv = ourInvite();
    const d = createUacDialog(
      inv,
      answer(inv, 200, { toTag: 'pt', contact: 'sip:1001@10.0.0.7:5062', recordRoute: '<sip:p.example;lr>' }),
    );
    const ack = roundTrip(buildAck(d, 1, LOCAL_VIA, 'z9hG4bKack1'));
    expect(ack.method).toBe('ACK');
    expect(cseq(ack)).toEqual({ seq: 1, method: 'ACK' });
    expect(vias(ack)[0]!.branch).toBe('z9hG4bKack1');
    expect(ack.uri).toBe('sip:1001@10.0.0.7:5062');
    expect(headerValues(ack, 'Route')).toEqual(['<sip:p.example;lr>']);
    expect(toHeader(ack).tag).toBe('pt');
    expect(fromHeader(ack).tag).toBe('our-tag');
  });

  test('a CANCEL copies what RFC 3261 §9.1 says, and cancels only an INVITE', () => {
    const inv = roundTrip(
      buildInvite(
        {
          requestUri: 'sip:1001@10.0.0.7',
          fromUri: 'sip:95555@site.example',
          fromTag: 'ft',
          toUri: 'sip:1001@site.example',
          callId: 'c1',
          seq: 7,
          contact: LOCAL_CONTACT,
          routes: ['sip:outbound.example;lr'],
        },
        LOCAL_VIA,
        'z9hG4bKinv7',
      ),
    );
    const cancel = roundTrip(buildCancel(inv));
    expect(cancel.method).toBe('CANCEL');
    expect(cancel.uri).toBe(inv.uri);
    expect(vias(cancel)).toHaveLength(1);
    expect(vias(cancel)[0]!.branch).toBe('z9hG4bKinv7');
    expect(cseq(cancel)).toEqual({ seq: 7, method: 'CANCEL' });
    for (const h of ['From', 'To', 'Call-ID']) expect(headerValue(cancel, h)).toBe(headerValue(inv, h));
    expect(toHeader(cancel).tag).toBeUndefined();
    expect(headerValues(cancel, 'Route')).toEqual(['<sip:outbound.example;lr>']);
    expect(errorField(() => buildCancel(callerRequest('BYE', 1, 'x')))).toBe('request.method');
    expect(
      errorField(() => buildCancel({ ...inv, headers: inv.headers.filter((h) => h.name !== 'Via') })),
    ).toBe('Via');
  });

  test('an INVITE without From tag is refused', () => {
    expect(
      errorField(() =>
        buildInvite(
          {
            requestUri: 'sip:a@b',
            fromUri: 'sip:c@d',
            fromTag: '',
            toUri: 'sip:a@b',
            callId: 'c',
            seq: 1,
            contact: 'sip:e@f',
          },
          LOCAL_VIA,
          'z9hG4bKx',
        ),
      ),
    ).toBe('fromTag');
  });
});

describe('a request received in a dialog', () => {
  test('of no known dialog is 481', () => {
    expect(receiveInDialog(undefined, callerRequest('BYE', 102, 'site-tag'))).toMatchObject({ status: 481 });
    expect(receiveInDialog(uas(), callerRequest('BYE', 102, 'other-tag'))).toMatchObject({ status: 481 });
  });

  test('with a CSeq lower than the last is 500; equal or higher is taken and remembered', () => {
    expect(receiveInDialog(uas(), callerRequest('BYE', 100, 'site-tag'))).toMatchObject({
      kind: 'refuse',
      status: 500,
      problem: expect.stringContaining('CSeq 100') as unknown,
    });
    const v = receiveInDialog(uas(), callerRequest('INFO', 105, 'site-tag'));
    expect(v.kind === 'accept' && v.dialog.remoteSeq).toBe(105);
  });

  test('ACK and CANCEL pass without a CSeq check', () => {
    const d = uas();
    expect(receiveInDialog(d, callerRequest('ACK', 1, 'site-tag'))).toEqual({ kind: 'accept', dialog: d });
  });

  test('a re-INVITE or UPDATE with a Contact moves the remote target; a BYE does not', () => {
    for (const method of ['INVITE', 'UPDATE']) {
      const v = receiveInDialog(
        uas(),
        callerRequest(method, 102, 'site-tag', { contact: 'sip:new@192.0.2.99' }),
      );
      expect(v.kind === 'accept' && v.dialog.remoteTarget).toBe('sip:new@192.0.2.99');
    }
    const v = receiveInDialog(
      uas(),
      callerRequest('INFO', 102, 'site-tag', { contact: 'sip:new@192.0.2.99' }),
    );
    expect(v.kind === 'accept' && v.dialog.remoteTarget).toBe('sip:13800138000@192.0.2.10:5060');
  });

  test('property: a request is refused exactly when its CSeq is below the highest taken so far', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 50 }), { maxLength: 30 }), (seqs) => {
        let d = uas();
        let highest = d.remoteSeq!;
        for (const seq of seqs) {
          const v = receiveInDialog(d, callerRequest('INFO', seq + 90, 'site-tag'));
          expect(v.kind === 'refuse').toBe(seq + 90 < highest);
          if (v.kind === 'accept') {
            d = v.dialog;
            highest = seq + 90;
          }
          expect(d.remoteSeq).toBe(highest);
        }
      }),
    );
  });
});
