import { test } from 'vitest';
import assert from 'node:assert/strict';
import { DomainError } from '../errors.js';
import {
  identityFromCertificate,
  parseSubjectAltName,
  peerIdentity,
  requireKind,
  requireSelf,
  spiffeUri,
  type Identity,
} from './identity.js';

const SITE_SAN = 'URI:spiffe://province/site/chongqing, DNS:localhost, IP Address:127.0.0.1';

function rejects(fn: () => unknown, kind: DomainError['kind'], message: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof DomainError, `expected a DomainError, got ${String(e)}`);
    assert.equal(e.kind, kind);
    assert.match(e.message, message);
    return true;
  });
}

test('a well-formed site certificate maps to its identity (object and X509Certificate subject shapes)', () => {
  const want: Identity = { kind: 'site', id: 'chongqing', uri: 'spiffe://province/site/chongqing' };
  assert.deepEqual(
    identityFromCertificate({ subject: { CN: 'chongqing', O: 'site' }, subjectaltname: SITE_SAN }),
    want,
  );
  assert.deepEqual(
    identityFromCertificate({ subject: 'O=site\nCN=chongqing', subjectaltname: SITE_SAN }),
    want,
  );
  // O is optional; the URI may come anywhere among the SANs.
  assert.deepEqual(
    identityFromCertificate({
      subject: { CN: 'ops' },
      subjectaltname: 'DNS:localhost, URI:spiffe://province/admin/ops',
    }),
    { kind: 'admin', id: 'ops', uri: spiffeUri('admin', 'ops') },
  );
});

test('no certificate, or one without SANs, is unauthenticated', () => {
  rejects(() => identityFromCertificate(undefined), 'unauthenticated', /none presented/);
  rejects(() => identityFromCertificate({}), 'unauthenticated', /none presented/);
  rejects(
    () => identityFromCertificate({ subject: { CN: 'chongqing' } }),
    'unauthenticated',
    /no subjectAltName/,
  );
  rejects(
    () =>
      identityFromCertificate({
        subject: { CN: 'chongqing' },
        subjectaltname: 'DNS:localhost, IP Address:127.0.0.1',
      }),
    'unauthenticated',
    /no URI SAN/,
  );
});

test('two URI SANs are refused, naming both', () => {
  rejects(
    () =>
      identityFromCertificate({
        subject: { CN: 'chongqing' },
        subjectaltname: 'URI:spiffe://province/site/chongqing, URI:spiffe://province/site/chengdu',
      }),
    'unauthenticated',
    /2 URI SANs \(spiffe:\/\/province\/site\/chongqing, spiffe:\/\/province\/site\/chengdu\); expected exactly one/,
  );
});

test('wrong scheme, wrong trust domain, unknown kind, bad id, extra path segments are refused', () => {
  const cert = (uri: string, cn = 'chongqing') => ({ subject: { CN: cn }, subjectaltname: `URI:${uri}` });
  rejects(
    () => identityFromCertificate(cert('https://province/site/chongqing')),
    'unauthenticated',
    /not of the form/,
  );
  rejects(
    () => identityFromCertificate(cert('spiffe://elsewhere/site/chongqing')),
    'unauthenticated',
    /trust domain "elsewhere"/,
  );
  rejects(
    () => identityFromCertificate(cert('spiffe://province/robot/chongqing')),
    'unauthenticated',
    /unknown kind "robot"/,
  );
  rejects(
    () => identityFromCertificate(cert('spiffe://province/site/Chong_Qing', 'Chong_Qing')),
    'unauthenticated',
    /malformed id/,
  );
  rejects(
    () => identityFromCertificate(cert('spiffe://province/site/chongqing/x')),
    'unauthenticated',
    /not of the form/,
  );
});

test('the CN must agree with the id (and O, when present, with the kind)', () => {
  rejects(
    () => identityFromCertificate({ subject: { CN: 'chengdu' }, subjectaltname: SITE_SAN }),
    'unauthenticated',
    /CN "chengdu" does not match the id "chongqing"/,
  );
  rejects(
    () => identityFromCertificate({ subject: { CN: ['chongqing', 'chengdu'] }, subjectaltname: SITE_SAN }),
    'unauthenticated',
    /exactly one CN \(found 2\)/,
  );
  rejects(
    () => identityFromCertificate({ subject: { O: 'site' }, subjectaltname: SITE_SAN }),
    'unauthenticated',
    /found 0/,
  );
  rejects(
    () => identityFromCertificate({ subject: { CN: 'chongqing', O: 'admin' }, subjectaltname: SITE_SAN }),
    'unauthenticated',
    /O "admin" does not match the kind "site"/,
  );
});

test('parseSubjectAltName decodes Node-quoted values instead of splitting them', () => {
  assert.deepEqual(parseSubjectAltName(SITE_SAN), [
    ['URI', 'spiffe://province/site/chongqing'],
    ['DNS', 'localhost'],
    ['IP Address', '127.0.0.1'],
  ]);
  // A URI smuggling ", URI:..." inside one SAN stays one value (and is then refused as malformed).
  const sneaky = 'URI:"spiffe://province/site/a, URI:spiffe://province/admin/root", DNS:localhost';
  assert.deepEqual(parseSubjectAltName(sneaky), [
    ['URI', 'spiffe://province/site/a, URI:spiffe://province/admin/root'],
    ['DNS', 'localhost'],
  ]);
  rejects(
    () => identityFromCertificate({ subject: { CN: 'a' }, subjectaltname: sneaky }),
    'unauthenticated',
    /not of the form/,
  );
  rejects(() => parseSubjectAltName('URI:"unterminated'), 'unauthenticated', /unterminated/);
  rejects(() => parseSubjectAltName('garbage'), 'unauthenticated', /malformed subjectAltName/);
});

test('peerIdentity reads getAuthContext().sslPeerCertificate and refuses a call without one', () => {
  const cert = { subject: { CN: 'chongqing', O: 'site' }, subjectaltname: SITE_SAN };
  assert.equal(peerIdentity({ getAuthContext: () => ({ sslPeerCertificate: cert }) }).id, 'chongqing');
  rejects(
    () => peerIdentity({ getAuthContext: () => ({}), getPeer: () => '127.0.0.1:5555' }),
    'unauthenticated',
    /no verified client certificate on the connection from 127\.0\.0\.1:5555/,
  );
  rejects(() => peerIdentity({}), 'internal', /getAuthContext/);
});

test('requireKind and requireSelf: a site can never speak for another', () => {
  const site: Identity = { kind: 'site', id: 'chongqing', uri: spiffeUri('site', 'chongqing') };
  const admin: Identity = { kind: 'admin', id: 'ops', uri: spiffeUri('admin', 'ops') };
  assert.equal(requireKind(admin, 'admin').id, 'ops');
  assert.equal(requireKind(site, 'site', 'gateway').kind, 'site');
  rejects(
    () => requireKind(site, 'admin'),
    'permission-denied',
    /site "chongqing" may not make this call: it needs a certificate of kind admin/,
  );
  assert.equal(requireSelf(site, 'chongqing'), site);
  assert.throws(
    () => requireSelf(site, 'chengdu'),
    (e: unknown) =>
      e instanceof DomainError &&
      e.kind === 'permission-denied' &&
      e.field === 'siteId' &&
      /site "chongqing" cannot act for site "chengdu"/.test(e.message),
  );
  rejects(
    () => requireSelf(admin, 'chongqing'),
    'permission-denied',
    /admin "ops" cannot act as site "chongqing"/,
  );
});
