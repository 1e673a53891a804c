/**
 * Why a TLS handshake was refused, in words an operator can act on, from the error Node's
 * TLS server gives its `tlsClientError` event (issue 10, finding 4). The code is kept in the
 * log line beside it; an error this table does not know is named by its code or message.
 */
const REASONS: Record<string, string> = {
  ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE: 'no client certificate',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'client certificate from an unknown CA',
  UNABLE_TO_GET_ISSUER_CERT: 'client certificate from an unknown CA',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'client certificate from an unknown CA',
  SELF_SIGNED_CERT_IN_CHAIN: 'client certificate from an unknown CA',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'client certificate from an unknown CA',
  ERR_SSL_CERTIFICATE_VERIFY_FAILED: 'client certificate failed verification',
  CERT_HAS_EXPIRED: 'client certificate expired',
  CERT_NOT_YET_VALID: 'client certificate not yet valid',
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED: "the client says this server's certificate expired",
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: "the client does not trust this server's CA",
  ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE: "the client refused this server's certificate",
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN: "the client refused this server's certificate",
  ERR_SSL_WRONG_VERSION_NUMBER: 'not TLS (a plaintext client?)',
  ERR_SSL_HTTP_REQUEST: 'not TLS (a plaintext client?)',
  ERR_TLS_HANDSHAKE_TIMEOUT: 'handshake timed out',
  // The client hung up mid-handshake; the usual cause is that it refused our certificate
  // without sending an alert.
  ECONNRESET: 'the client closed the connection during the handshake',
};

/**
 * `authorizationError`: the TLS socket's verification result (a code like
 * `UNABLE_TO_VERIFY_LEAF_SIGNATURE`), when it has one. Node verifies a client certificate
 * after the handshake and, when it fails, destroys the socket itself without an alert, so
 * the server's own error is only "socket hang up" (ECONNRESET): the verification result is
 * the real reason and wins over it.
 */
export function handshakeReason(err: unknown, authorizationError?: unknown): string {
  if (typeof authorizationError === 'string' && authorizationError !== '') {
    return REASONS[authorizationError] ?? `client certificate refused: ${authorizationError}`;
  }
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return REASONS[code] ?? code;
  return err instanceof Error ? err.message : String(err);
}
