/**
 * Who is calling: the pure mapping from a verified peer certificate to a federation identity,
 * and the authorisation helpers built on it (issue 3, docs/architecture.md §5).
 *
 * The identity lives in the certificate's URI SAN `spiffe://province/<kind>/<id>`, issued by
 * `deploy/pki.sh`. The rules (anything else is refused with UNAUTHENTICATED):
 *   - the certificate has exactly one URI SAN, and it is `spiffe://province/<kind>/<id>` with
 *     kind in hub | site | gateway | admin | agent and id matching NODE_ID_RE;
 *   - the subject has exactly one CN and it equals the id; if the subject carries an O, it
 *     equals the kind.
 * Authorisation failures (a site calling an admin RPC, a site acting for another site) are
 * PERMISSION_DENIED and name both sides.
 *
 * Reading the certificate: grpc-js (>= 1.10) exposes the TLS peer certificate on every server
 * call as `call.getAuthContext().sslPeerCertificate` (a Node `tls.PeerCertificate`), and only
 * when the TLS socket is `authorized`, i.e. the chain verified against our CA. With
 * `mtlsServerCredentials` (checkClientCertificate=true) a client without a certificate, or
 * with one from another CA, never gets past the handshake; `peerIdentity` still refuses a
 * call without a certificate (e.g. an insecure server) rather than trusting it.
 */
import { DomainError } from '../errors.js';

/** `agent`: an agent desk client; its id is the agent id (see site-node/cti/agent-service.ts). */
export const NODE_KINDS = ['hub', 'site', 'gateway', 'admin', 'agent'] as const;
export type NodeKind = (typeof NODE_KINDS)[number];

/** Node ids (site ids included): a lowercase letter, then 1..31 of `a-z 0-9 -`. */
export const NODE_ID_RE = /^[a-z][a-z0-9-]{1,31}$/;

/** The SPIFFE trust domain of the province. */
export const TRUST_DOMAIN = 'province';

export interface Identity {
  kind: NodeKind;
  id: string;
  /** `spiffe://province/<kind>/<id>`. */
  uri: string;
}

/**
 * The parts of a certificate we look at: Node's `tls.PeerCertificate` (subject as an object)
 * or `crypto.X509Certificate` (subject as `CN=...\nO=...` text) both fit.
 */
export interface CertificateLike {
  subject?: object | string | null;
  /** Node's format: `URI:spiffe://province/site/x, DNS:localhost, IP Address:127.0.0.1`. */
  subjectaltname?: string | null;
  /** `crypto.X509Certificate` spells it this way (same format). */
  subjectAltName?: string | undefined;
}

export function spiffeUri(kind: NodeKind, id: string): string {
  return `spiffe://${TRUST_DOMAIN}/${kind}/${id}`;
}

export function isNodeKind(s: string): s is NodeKind {
  return (NODE_KINDS as readonly string[]).includes(s);
}

function unauthenticated(message: string): DomainError {
  return new DomainError('unauthenticated', `peer certificate: ${message}`);
}

/**
 * Split Node's subjectaltname string into `[type, value]` pairs. Node joins entries with
 * ", " and, since the 2022 security fix, JSON-quotes values containing separators or other
 * special characters (`URI:"spiffe://a,b"`), so quoted values are decoded, not split.
 */
export function parseSubjectAltName(san: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  let i = 0;
  while (i < san.length) {
    while (san[i] === ' ') i++;
    if (i >= san.length) break;
    const colon = san.indexOf(':', i);
    if (colon < 0) throw unauthenticated(`malformed subjectAltName ${JSON.stringify(san)}`);
    const type = san.slice(i, colon);
    i = colon + 1;
    let value: string;
    if (san[i] === '"') {
      let j = i + 1;
      while (j < san.length && san[j] !== '"') j += san[j] === '\\' ? 2 : 1;
      if (j >= san.length) throw unauthenticated(`unterminated quoted value in subjectAltName`);
      try {
        value = JSON.parse(san.slice(i, j + 1)) as string;
      } catch (e) {
        throw new DomainError('unauthenticated', `peer certificate: malformed quoted subjectAltName value`, {
          cause: e,
        });
      }
      i = j + 1;
    } else {
      const comma = san.indexOf(', ', i);
      const end = comma < 0 ? san.length : comma;
      value = san.slice(i, end);
      i = end;
    }
    out.push([type, value]);
    if (san.startsWith(', ', i)) i += 2;
    else if (i < san.length) throw unauthenticated(`malformed subjectAltName ${JSON.stringify(san)}`);
  }
  return out;
}

/** The values of one subject attribute (`CN`, `O`), from either subject shape. */
function subjectValues(subject: CertificateLike['subject'], attr: string): string[] {
  if (subject == null) return [];
  if (typeof subject === 'string') {
    return subject
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line.startsWith(`${attr}=`))
      .map((line) => line.slice(attr.length + 1));
  }
  const v: unknown = (subject as Record<string, unknown>)[attr];
  if (v === undefined || v === null) return [];
  return (Array.isArray(v) ? v : [v]).map((x) => String(x));
}

const SPIFFE_RE = /^spiffe:\/\/([^/]+)\/([^/]+)\/([^/]+)$/;

/**
 * Map a (verified) peer certificate to its identity, or throw DomainError('unauthenticated')
 * saying exactly what is wrong with it.
 */
export function identityFromCertificate(cert: CertificateLike | null | undefined): Identity {
  const san = cert?.subjectaltname ?? cert?.subjectAltName;
  if (!cert || (cert.subject == null && san == null)) {
    throw unauthenticated('none presented (mTLS client certificate required)');
  }
  if (!san) {
    throw unauthenticated(`no subjectAltName; expected a URI SAN ${spiffeUri('site', '<id>')}`);
  }
  const uris = parseSubjectAltName(san)
    .filter(([type]) => type === 'URI')
    .map(([, value]) => value);
  if (uris.length === 0) {
    throw unauthenticated(
      `no URI SAN; expected exactly one of the form spiffe://${TRUST_DOMAIN}/<kind>/<id>`,
    );
  }
  if (uris.length > 1) {
    throw unauthenticated(`${uris.length} URI SANs (${uris.join(', ')}); expected exactly one`);
  }
  const uri = uris[0]!;
  const m = SPIFFE_RE.exec(uri);
  if (!m) {
    throw unauthenticated(
      `URI SAN ${JSON.stringify(uri)} is not of the form spiffe://${TRUST_DOMAIN}/<kind>/<id>`,
    );
  }
  const [, domain, kind, id] = m as unknown as [string, string, string, string];
  if (domain !== TRUST_DOMAIN) {
    throw unauthenticated(`URI SAN ${uri} is in trust domain ${JSON.stringify(domain)}, not ${TRUST_DOMAIN}`);
  }
  if (!isNodeKind(kind)) {
    throw unauthenticated(
      `URI SAN ${uri} has unknown kind ${JSON.stringify(kind)}; expected ${NODE_KINDS.join(' | ')}`,
    );
  }
  if (!NODE_ID_RE.test(id)) {
    throw unauthenticated(
      `URI SAN ${uri} has a malformed id ${JSON.stringify(id)}; expected ${NODE_ID_RE.source}`,
    );
  }
  const cns = subjectValues(cert.subject, 'CN');
  if (cns.length !== 1) {
    throw unauthenticated(
      `subject must have exactly one CN (found ${cns.length}) equal to the id ${JSON.stringify(id)}`,
    );
  }
  if (cns[0] !== id) {
    throw unauthenticated(
      `subject CN ${JSON.stringify(cns[0])} does not match the id ${JSON.stringify(id)} of ${uri}`,
    );
  }
  const orgs = subjectValues(cert.subject, 'O');
  if (orgs.length > 0 && (orgs.length !== 1 || orgs[0] !== kind)) {
    throw unauthenticated(
      `subject O ${JSON.stringify(orgs.join(','))} does not match the kind ${JSON.stringify(kind)} of ${uri}`,
    );
  }
  return { kind, id, uri };
}

/** The TLS view of a grpc-js server call (every server call type has these). */
export interface CallWithAuthContext {
  getAuthContext?: () => { sslPeerCertificate?: CertificateLike | undefined } | null | undefined;
  getPeer?: () => string;
}

/**
 * The identity of the caller of a grpc-js server call, from its verified TLS client
 * certificate. Throws DomainError('unauthenticated') when there is none.
 */
export function peerIdentity(call: CallWithAuthContext): Identity {
  if (typeof call.getAuthContext !== 'function') {
    throw new DomainError(
      'internal',
      'grpc-js call has no getAuthContext(); @grpc/grpc-js >= 1.10 is required',
    );
  }
  const cert = call.getAuthContext()?.sslPeerCertificate;
  if (!cert) {
    const peer = typeof call.getPeer === 'function' ? ` from ${call.getPeer()}` : '';
    throw new DomainError(
      'unauthenticated',
      `no verified client certificate on the connection${peer}; mTLS is required`,
    );
  }
  // Parsing the certificate is most of a small RPC's own cost; a verified certificate's
  // identity never changes, so remember it by fingerprint (bounded).
  const fp = (cert as { fingerprint256?: unknown }).fingerprint256;
  if (typeof fp !== 'string') return identityFromCertificate(cert);
  const known = identityCache.get(fp);
  if (known) return known;
  const who = identityFromCertificate(cert);
  if (identityCache.size >= 1024) identityCache.delete(identityCache.keys().next().value!);
  identityCache.set(fp, who);
  return who;
}

const identityCache = new Map<string, Identity>();

function describe(identity: Identity): string {
  return `${identity.kind} ${JSON.stringify(identity.id)}`;
}

/** Require one of `kinds`; returns the identity narrowed. PERMISSION_DENIED otherwise. */
export function requireKind<K extends NodeKind>(identity: Identity, ...kinds: K[]): Identity & { kind: K } {
  if ((kinds as NodeKind[]).includes(identity.kind)) return identity as Identity & { kind: K };
  throw new DomainError(
    'permission-denied',
    `${describe(identity)} may not make this call: it needs a certificate of kind ${kinds.join(' or ')}`,
  );
}

/**
 * "A site can never speak for another": the caller must be the site `siteId` itself.
 * PERMISSION_DENIED naming both ids otherwise (field `siteId`).
 */
export function requireSelf(identity: Identity, siteId: string): Identity & { kind: 'site' } {
  if (identity.kind !== 'site') {
    throw new DomainError(
      'permission-denied',
      `${describe(identity)} cannot act as site ${JSON.stringify(siteId)}: only that site's own certificate can`,
      { field: 'siteId' },
    );
  }
  if (identity.id !== siteId) {
    throw new DomainError(
      'permission-denied',
      `site ${JSON.stringify(identity.id)} cannot act for site ${JSON.stringify(siteId)}: a site can only speak for itself`,
      { field: 'siteId' },
    );
  }
  return identity as Identity & { kind: 'site' };
}
