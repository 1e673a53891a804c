/**
 * mTLS credentials for the federation (issue 3): the PEM files made by `deploy/pki.sh`,
 * loaded once at start, turned into grpc-js server and client credentials.
 *
 *   const tls = loadTlsMaterial({ caPath: 'pki/ca.crt', certPath: 'pki/hub-hub.crt', keyPath: 'pki/hub-hub.key' });
 *   new GrpcServer({ ..., credentials: mtlsServerCredentials(tls) });
 *   new FederationClient(addr, mtlsClientCredentials(tls, { expectServer: { kind: 'hub' } }), clientOptions());
 *
 * The server requires and verifies a client certificate (checkClientCertificate=true), so a
 * connection with no certificate, or one from another CA, fails the handshake: the client
 * sees UNAVAILABLE and no handler ever runs. Handlers then read who is calling with
 * `peerIdentity(call)` (shared/grpc/identity.ts).
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { PeerCertificate } from 'node:tls';
import { credentials, experimental, ServerCredentials, type ChannelCredentials } from '@grpc/grpc-js';
import { DomainError } from '../errors.js';
import { identityFromCertificate, type NodeKind } from './identity.js';

export interface TlsPaths {
  /** The provincial CA certificate (PEM): the only issuer trusted for peers. */
  caPath: string;
  /** This node's certificate (PEM). */
  certPath: string;
  /** This node's private key (PEM). */
  keyPath: string;
}

export interface TlsMaterial {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
  /** Where each came from, for messages. */
  paths: TlsPaths;
}

function readPem(field: keyof TlsPaths, path: string, marker: RegExp, what: string): Buffer {
  if (typeof path !== 'string' || path.length === 0) {
    throw new DomainError('invalid-argument', `tls.${field}: a path to the ${what} is required`, {
      field: `tls.${field}`,
    });
  }
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? (e instanceof Error ? e.message : String(e));
    throw new DomainError(
      'failed-precondition',
      `tls.${field}: cannot read the ${what} at ${path} (${code})`,
      {
        field: `tls.${field}`,
        cause: e,
      },
    );
  }
  if (!marker.test(buf.toString('latin1'))) {
    throw new DomainError('failed-precondition', `tls.${field}: ${path} does not contain a PEM ${what}`, {
      field: `tls.${field}`,
    });
  }
  return buf;
}

/** Read the CA, certificate and key (synchronously: this runs once at start). */
export function loadTlsMaterial(paths: TlsPaths): TlsMaterial {
  return {
    ca: readPem('caPath', paths.caPath, /-----BEGIN CERTIFICATE-----/, 'CA certificate'),
    cert: readPem('certPath', paths.certPath, /-----BEGIN CERTIFICATE-----/, 'certificate'),
    key: readPem('keyPath', paths.keyPath, /-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----/, 'private key'),
    paths: { ...paths },
  };
}

/** Server credentials that require a client certificate signed by the provincial CA. */
export function mtlsServerCredentials(material: TlsMaterial): ServerCredentials {
  return ServerCredentials.createSsl(
    material.ca,
    [{ cert_chain: material.cert, private_key: material.key }],
    true,
  );
}

/**
 * Server credentials that ASK for a client certificate signed by the provincial CA but do not
 * require one: a site's agent desk, where an `agent` certificate is an identity and a desk
 * without one signs in with a password (docs/architecture.md §4.3). `createSsl` cannot say
 * this (its flag sets both asking and requiring), so the certificates go through grpc-js's
 * certificate-provider credentials with `requireClientCertificate` false. A certificate that
 * does not verify (another CA, expired) then does not fail the handshake, but the socket is
 * not `authorized` and grpc-js shows no peer certificate to handlers, so `peerIdentity`
 * finds none: such a caller is anonymous, never trusted.
 */
export function optionalClientCertServerCredentials(material: TlsMaterial): ServerCredentials {
  // The server adds its watcher only after registering with the provider, so the provider
  // answers on the next microtask, when the watcher is there to hear it.
  const provider: experimental.CertificateProvider = {
    addCaCertificateListener: (l) => queueMicrotask(() => l({ caCertificate: material.ca })),
    removeCaCertificateListener: () => undefined,
    addIdentityCertificateListener: (l) =>
      queueMicrotask(() => l({ certificate: material.cert, privateKey: material.key })),
    removeIdentityCertificateListener: () => undefined,
  };
  // One provider in both places: grpc-js's declaration and implementation disagree on the
  // order of the two provider arguments.
  return experimental.createCertificateProviderServerCredentials(provider, provider, false);
}

export interface MtlsClientOptions {
  /**
   * Check the server by its federation identity instead of by hostname: the server's
   * certificate must carry `spiffe://province/<kind>/<id>` (id optional; a list accepts any
   * of its ids: a leading hub and its standby, docs/architecture.md §6.6). Use this when the
   * dialled name is not in the certificate (only `localhost`/127.0.0.1 are). Without it,
   * Node's usual hostname check applies.
   */
  expectServer?: { kind: NodeKind; id?: string | readonly string[] };
}

/** Client credentials presenting this node's certificate and trusting only the provincial CA. */
export function mtlsClientCredentials(
  material: TlsMaterial,
  opts: MtlsClientOptions = {},
): ChannelCredentials {
  return tlsCredentials(material.ca, material, opts);
}

/**
 * Client credentials trusting only the provincial CA and presenting no certificate: a desk
 * that signs in with a password (a site's agent desk asks for a certificate, does not
 * require one: `optionalClientCertServerCredentials`).
 */
export function tlsClientCredentials(ca: Buffer, opts: MtlsClientOptions = {}): ChannelCredentials {
  return tlsCredentials(ca, undefined, opts);
}

function tlsCredentials(
  ca: Buffer,
  own: { key: Buffer; cert: Buffer } | undefined,
  opts: MtlsClientOptions,
): ChannelCredentials {
  const expect = opts.expectServer;
  if (!expect) return credentials.createSsl(ca, own?.key ?? null, own?.cert ?? null);
  return credentials.createSsl(ca, own?.key ?? null, own?.cert ?? null, {
    checkServerIdentity: (_host: string, cert: PeerCertificate): Error | undefined => {
      try {
        const who = identityFromCertificate(cert);
        const ids =
          expect.id === undefined ? undefined : typeof expect.id === 'string' ? [expect.id] : expect.id;
        if (who.kind !== expect.kind || (ids !== undefined && !ids.includes(who.id))) {
          const wanted =
            ids === undefined
              ? `kind ${expect.kind}`
              : `${expect.kind} ${ids.map((i) => JSON.stringify(i)).join(' or ')}`;
          return new Error(
            `server is ${who.kind} ${JSON.stringify(who.id)} (${who.uri}), expected ${wanted}`,
          );
        }
        return undefined;
      } catch (e) {
        return e instanceof Error ? e : new Error(String(e));
      }
    },
  });
}

/**
 * Channel options for dialling `address` over TLS. Node deprecates an IP address as the TLS
 * server name (RFC 6066: SNI carries host names only), so when the hub is dialled by IP the
 * name sent is `localhost` instead. The server is still checked by its federation identity
 * (`expectServer`), not by that name.
 */
export function tlsTargetOptions(address: string): Record<string, string> {
  const host = address.startsWith('[') ? address.slice(1, address.indexOf(']')) : address.split(':')[0]!;
  return isIP(host) === 0 ? {} : { 'grpc.ssl_target_name_override': 'localhost' };
}
