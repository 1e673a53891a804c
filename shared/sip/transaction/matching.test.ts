import { describe, expect, test } from 'vitest';
import { isDomainError } from '../../errors.js';
import {
  branchFor,
  cancelledKey,
  clientKeyOfRequest,
  clientKeyOfResponse,
  isRfc3261Branch,
  MAGIC_COOKIE,
  serverKeyOfRequest,
} from './matching.js';

const B = 'z9hG4bK776asdhds';
const req = (method: string, branch = B, sentBy = 'pc33.atlanta.com:5060') => ({ method, branch, sentBy });

describe('client transaction matching (RFC 3261 §17.1.3)', () => {
  test('a response matches the request with its branch and CSeq method', () => {
    expect(clientKeyOfResponse({ branch: B, cseqMethod: 'INVITE' })).toBe(clientKeyOfRequest(req('INVITE')));
  });

  test('the 200 to a CANCEL does not land in the INVITE it cancels, though the branch is the same', () => {
    expect(clientKeyOfResponse({ branch: B, cseqMethod: 'CANCEL' })).not.toBe(
      clientKeyOfRequest(req('INVITE')),
    );
    expect(clientKeyOfResponse({ branch: B, cseqMethod: 'CANCEL' })).toBe(clientKeyOfRequest(req('CANCEL')));
  });

  test('another branch matches nothing', () => {
    expect(clientKeyOfResponse({ branch: `${B}x`, cseqMethod: 'INVITE' })).not.toBe(
      clientKeyOfRequest(req('INVITE')),
    );
  });

  test('branches we make carry the magic cookie; a non-token is refused', () => {
    expect(branchFor('a1b2c3')).toBe(`${MAGIC_COOKIE}a1b2c3`);
    expect(isRfc3261Branch(branchFor('a1b2c3'))).toBe(true);
    expect(() => branchFor('has space')).toThrow(/branch: "has space" is not a SIP token/);
  });
});

describe('server transaction matching (RFC 3261 §17.2.3)', () => {
  test('a resent request matches its transaction; the sent-by host compares case-insensitively', () => {
    expect(serverKeyOfRequest(req('BYE', B, 'PC33.Atlanta.com:5060'))).toBe(serverKeyOfRequest(req('BYE')));
  });

  test('an ACK matches the INVITE transaction it acknowledges', () => {
    expect(serverKeyOfRequest(req('ACK'))).toBe(serverKeyOfRequest(req('INVITE')));
  });

  test('branch, sent-by and method each tell transactions apart', () => {
    const invite = serverKeyOfRequest(req('INVITE'));
    expect(serverKeyOfRequest(req('INVITE', `${B}2`))).not.toBe(invite);
    expect(serverKeyOfRequest(req('INVITE', B, 'other.example:5060'))).not.toBe(invite);
    expect(serverKeyOfRequest(req('INVITE', B, 'pc33.atlanta.com:5070'))).not.toBe(invite);
    expect(serverKeyOfRequest(req('BYE'))).not.toBe(invite);
  });

  test('a CANCEL is its own transaction and names the INVITE transaction it cancels', () => {
    const cancel = req('CANCEL');
    expect(serverKeyOfRequest(cancel)).not.toBe(serverKeyOfRequest(req('INVITE')));
    expect(cancelledKey(cancel)).toBe(serverKeyOfRequest(req('INVITE')));
    expect(() => cancelledKey(req('BYE'))).toThrow(/request\.method: only a CANCEL/);
  });

  test('a pre-3261 branch (no magic cookie) is refused, naming the Via branch', () => {
    for (const branch of ['776asdhds', '', MAGIC_COOKIE, 'Z9HG4BK776']) {
      try {
        serverKeyOfRequest(req('INVITE', branch));
        expect.unreachable();
      } catch (e) {
        expect(isDomainError(e, 'invalid-argument') && e.field).toBe('Via.branch');
      }
    }
    expect(() => clientKeyOfRequest(req('INVITE', 'old'))).toThrow(/Via\.branch: .*magic cookie/);
  });
});
