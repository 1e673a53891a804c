import { test } from 'vitest';
import assert from 'node:assert/strict';
import { handshakeReason } from './handshake-reason.js';

const withCode = (code: string, message = 'x') => Object.assign(new Error(message), { code });

test('known TLS error codes are named in operator words, not "socket hang up"', () => {
  assert.equal(
    handshakeReason(withCode('ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE')),
    'no client certificate',
  );
  assert.equal(
    handshakeReason(withCode('UNABLE_TO_VERIFY_LEAF_SIGNATURE')),
    'client certificate from an unknown CA',
  );
  assert.equal(handshakeReason(withCode('CERT_HAS_EXPIRED')), 'client certificate expired');
  assert.equal(
    handshakeReason(withCode('ERR_SSL_TLSV1_ALERT_UNKNOWN_CA')),
    "the client does not trust this server's CA",
  );
  assert.equal(
    handshakeReason(withCode('ECONNRESET', 'socket hang up')),
    'the client closed the connection during the handshake',
  );
});

test('an unknown code is named by the code; no code, by the message', () => {
  assert.equal(handshakeReason(withCode('ERR_SOMETHING_NEW')), 'ERR_SOMETHING_NEW');
  assert.equal(handshakeReason(new Error('boom')), 'boom');
  assert.equal(handshakeReason('odd'), 'odd');
});

test('a client certificate that failed verification is named by the verification error, not the hang-up Node reports', () => {
  const hangUp = withCode('ECONNRESET', 'socket hang up');
  assert.equal(
    handshakeReason(hangUp, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'),
    'client certificate from an unknown CA',
  );
  assert.equal(handshakeReason(hangUp, 'CERT_HAS_EXPIRED'), 'client certificate expired');
  assert.equal(
    handshakeReason(hangUp, 'CERT_REVOKED'),
    'client certificate refused: CERT_REVOKED',
    'an unknown verification code is still named',
  );
  assert.equal(
    handshakeReason(hangUp, null),
    'the client closed the connection during the handshake',
    'no verification error: the hang-up is the reason',
  );
});
