/**
 * Real mTLS on loopback: a CA and node certificates made by deploy/pki.sh, a grpc-js server
 * with mtlsServerCredentials, and a tiny hand-written JSON service whose handler answers with
 * the caller's identity from peerIdentity(call).
 */
import { afterAll, beforeAll, test } from 'vitest';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  credentials,
  makeGenericClientConstructor,
  type ChannelCredentials,
  type Client,
  type ServiceDefinition,
} from '@grpc/grpc-js';
import { DomainError } from '../errors.js';
import { call, clientOptions, type UnaryMethod } from './client.js';
import { createLogger } from '../log.js';
import { GrpcServer } from './server.js';
import { unary } from './status.js';
import {
  identityFromCertificate,
  peerIdentity,
  requireKind,
  requireSelf,
  type Identity,
} from './identity.js';
import { loadTlsMaterial, mtlsClientCredentials, mtlsServerCredentials, type TlsMaterial } from './tls.js';

const PKI = fileURLToPath(new URL('../../deploy/pki.sh', import.meta.url));

function pki(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('bash', [PKI, ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function pkiOk(...args: string[]): string {
  return execFileSync('bash', [PKI, ...args], { encoding: 'utf8' });
}

const sha256 = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

// ---- the test service: WhoAmI({ actAs?, adminOnly? }) -> Identity -------------------------

interface WhoAmIRequest {
  actAs?: string;
  adminOnly?: boolean;
}

const json = {
  serialize: (v: unknown): Buffer => Buffer.from(JSON.stringify(v)),
  deserialize: (b: Buffer): unknown => JSON.parse(b.toString('utf8')),
};

const whoDefinition: ServiceDefinition = {
  whoAmI: {
    path: '/test.Who/WhoAmI',
    requestStream: false,
    responseStream: false,
    requestSerialize: json.serialize,
    requestDeserialize: json.deserialize,
    responseSerialize: json.serialize,
    responseDeserialize: json.deserialize,
  },
};

type WhoClient = Client & { whoAmI: UnaryMethod<WhoAmIRequest, Identity> };
const WhoClientCtor = makeGenericClientConstructor(whoDefinition, 'Who') as unknown as new (
  address: string,
  creds: ChannelCredentials,
  options?: object,
) => WhoClient;

let handlerCalls = 0;
const logLines: string[] = [];
const refusedLogged = (): Array<{ peer: string; err: { message: string } }> =>
  logLines
    .map((l) => JSON.parse(l) as { msg: string; peer: string; err: { message: string } })
    .filter((l) => l.msg === 'tls handshake refused');
const whoImplementation = {
  whoAmI: unary<WhoAmIRequest, Identity>((req, c) => {
    handlerCalls++;
    const who = peerIdentity(c);
    if (req.adminOnly) requireKind(who, 'admin');
    if (req.actAs !== undefined) requireSelf(who, req.actAs);
    return who;
  }),
};

// ---- fixtures ---------------------------------------------------------------------------

let root: string;
let dir: string;
let otherDir: string;
let server: GrpcServer;
let address: string;
const clients: Client[] = [];

function material(d: string, name: string): TlsMaterial {
  return loadTlsMaterial({
    caPath: join(d, 'ca.crt'),
    certPath: join(d, `${name}.crt`),
    keyPath: join(d, `${name}.key`),
  });
}

function client(creds: ChannelCredentials): WhoClient {
  const c = new WhoClientCtor(
    address,
    creds,
    clientOptions({
      'grpc.use_local_subchannel_pool': 1,
      // Present SNI "localhost" (a DNS SAN of every node cert) instead of the IP we dial.
      'grpc.ssl_target_name_override': 'localhost',
    }),
  );
  clients.push(c);
  return c;
}

function whoAmI(c: WhoClient, req: WhoAmIRequest = {}): Promise<Identity> {
  return call(c.whoAmI.bind(c), req, { deadlineMs: 3000 });
}

async function refused(p: Promise<unknown>, kinds: string[]): Promise<DomainError> {
  const before = handlerCalls;
  const err = await p.then(
    () => assert.fail('the call should have been refused'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof DomainError, String(err));
  assert.ok(kinds.includes(err.kind), `unexpected kind ${err.kind}: ${err.message}`);
  assert.equal(handlerCalls, before, 'the handler must not run for a refused connection');
  return err;
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'pcc-pki-'));
  dir = join(root, 'province');
  otherDir = join(root, 'other');
  pkiOk(dir, 'ca');
  pkiOk(dir, 'node', 'hub', 'hub');
  pkiOk(dir, 'node', 'site', 'chongqing');
  pkiOk(dir, 'node', 'admin', 'ops');
  pkiOk(otherDir, 'ca');
  pkiOk(otherDir, 'node', 'site', 'chongqing');
  server = new GrpcServer({
    host: '127.0.0.1',
    port: 0,
    services: [{ definition: whoDefinition, implementation: whoImplementation }],
    credentials: mtlsServerCredentials(material(dir, 'hub-hub')),
    log: createLogger({}, { write: (line) => logLines.push(line) }),
  });
  await server.start();
  address = server.address!;
});

afterAll(async () => {
  for (const c of clients) c.close();
  await server?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
});

// ---- mTLS on loopback -------------------------------------------------------------------

test('a site certificate is recognised as that site', async () => {
  const site = client(mtlsClientCredentials(material(dir, 'site-chongqing')));
  assert.deepEqual(await whoAmI(site), {
    kind: 'site',
    id: 'chongqing',
    uri: 'spiffe://province/site/chongqing',
  });
});

test('an admin certificate is recognised as admin; a site is refused an admin-only call', async () => {
  const admin = client(mtlsClientCredentials(material(dir, 'admin-ops')));
  assert.deepEqual(await whoAmI(admin, { adminOnly: true }), {
    kind: 'admin',
    id: 'ops',
    uri: 'spiffe://province/admin/ops',
  });
  const site = client(mtlsClientCredentials(material(dir, 'site-chongqing')));
  await assert.rejects(
    whoAmI(site, { adminOnly: true }),
    (e: unknown) =>
      e instanceof DomainError &&
      e.kind === 'permission-denied' &&
      /needs a certificate of kind admin/.test(e.message),
  );
});

test('a site asking to act for another site is PERMISSION_DENIED, naming both ids', async () => {
  const site = client(mtlsClientCredentials(material(dir, 'site-chongqing')));
  assert.equal((await whoAmI(site, { actAs: 'chongqing' })).id, 'chongqing');
  await assert.rejects(whoAmI(site, { actAs: 'chengdu' }), (e: unknown) => {
    assert.ok(e instanceof DomainError);
    assert.equal(e.kind, 'permission-denied');
    assert.equal(e.field, 'siteId');
    assert.match(e.message, /site "chongqing" cannot act for site "chengdu"/);
    return true;
  });
});

test('a client with no certificate is refused at the handshake, and the refusal is logged', async () => {
  const ca = readFileSync(join(dir, 'ca.crt'));
  const before = server.refusedHandshakes;
  await refused(whoAmI(client(credentials.createSsl(ca))), ['unavailable', 'deadline-exceeded']);
  assert.ok(server.refusedHandshakes > before, 'the refused handshake is counted');
  const logged = refusedLogged().at(-1);
  assert.ok(logged, 'a "tls handshake refused" line is logged');
  assert.match(logged.peer, /^127\.0\.0\.1:\d+$/);
  assert.match(logged.err.message, /certificate/i);
  await refused(whoAmI(client(credentials.createInsecure())), [
    'unavailable',
    'deadline-exceeded',
    'internal',
  ]);
});

test('a client whose certificate comes from another CA is refused', async () => {
  // It trusts our CA (so it would accept the server) but presents a certificate from another CA
  // with the very same name: the identity is only as good as the issuer.
  const foreign = material(otherDir, 'site-chongqing');
  const creds = credentials.createSsl(readFileSync(join(dir, 'ca.crt')), foreign.key, foreign.cert);
  const before = server.refusedHandshakes;
  await refused(whoAmI(client(creds)), ['unavailable', 'deadline-exceeded']);
  assert.ok(server.refusedHandshakes > before, 'the refused handshake is counted and logged');
});

test('expectServer checks the server by its federation identity, not by hostname', async () => {
  const site = material(dir, 'site-chongqing');
  assert.equal(
    (await whoAmI(client(mtlsClientCredentials(site, { expectServer: { kind: 'hub', id: 'hub' } })))).id,
    'chongqing',
  );
  await refused(whoAmI(client(mtlsClientCredentials(site, { expectServer: { kind: 'admin' } }))), [
    'unavailable',
    'deadline-exceeded',
  ]);
  // The server also refuses to be trusted when the client trusts another CA.
  const wrongTrust = { ...site, ca: readFileSync(join(otherDir, 'ca.crt')) };
  await refused(whoAmI(client(mtlsClientCredentials(wrongTrust))), ['unavailable', 'deadline-exceeded']);
});

// ---- pki.sh -----------------------------------------------------------------------------

test('pki.sh certificates carry the identity, usages, lifetimes and file modes promised', () => {
  const ca = new X509Certificate(readFileSync(join(dir, 'ca.crt')));
  assert.equal(ca.ca, true);
  assert.equal(ca.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  const caYears = (Date.parse(ca.validTo) - Date.parse(ca.validFrom)) / (365.25 * 86_400_000);
  assert.ok(caYears > 9.9 && caYears < 10.1, `CA valid ${caYears} years`);

  const site = new X509Certificate(readFileSync(join(dir, 'site-chongqing.crt')));
  assert.equal(site.ca, false);
  assert.ok(site.verify(ca.publicKey), 'signed by the CA');
  assert.deepEqual(site.keyUsage?.sort(), ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
  assert.equal(
    site.subjectAltName,
    'URI:spiffe://province/site/chongqing, DNS:localhost, IP Address:127.0.0.1',
  );
  assert.deepEqual(identityFromCertificate(site), {
    kind: 'site',
    id: 'chongqing',
    uri: 'spiffe://province/site/chongqing',
  });
  const years = (Date.parse(site.validTo) - Date.parse(site.validFrom)) / (365.25 * 86_400_000);
  assert.ok(years > 1.9 && years < 2.1, `node cert valid ${years} years`);

  for (const key of ['ca.key', 'site-chongqing.key', 'admin-ops.key']) {
    assert.equal(statSync(join(dir, key)).mode & 0o777, 0o600, `${key} is 0600`);
  }
});

test('pki.sh is idempotent: the CA is never replaced, a node cert is reused unless --force', () => {
  const caHash = sha256(join(dir, 'ca.crt'));
  const caKeyHash = sha256(join(dir, 'ca.key'));
  const out = pkiOk(dir, 'ca');
  assert.match(out, /CA already exists, keeping it/);
  assert.equal(pki('--force', dir, 'ca').status, 0);
  assert.equal(sha256(join(dir, 'ca.crt')), caHash);
  assert.equal(sha256(join(dir, 'ca.key')), caKeyHash);

  pkiOk(dir, 'node', 'gateway', 'wanzhou');
  const gwHash = sha256(join(dir, 'gateway-wanzhou.crt'));
  assert.match(pkiOk(dir, 'node', 'gateway', 'wanzhou'), /reusing existing/);
  assert.equal(sha256(join(dir, 'gateway-wanzhou.crt')), gwHash);
  assert.match(pkiOk('--force', dir, 'node', 'gateway', 'wanzhou'), /issuing gateway-wanzhou/);
  assert.notEqual(sha256(join(dir, 'gateway-wanzhou.crt')), gwHash);

  const listed = pkiOk(dir, 'list');
  assert.match(listed, /gateway-wanzhou\.crt/);
  assert.match(listed, /URI:spiffe:\/\/province\/gateway\/wanzhou/);
});

test('pki.sh refuses bad arguments with a clear message and a non-zero exit', () => {
  const cases: Array<[string[], RegExp]> = [
    [[dir, 'node', 'robot', 'chongqing'], /bad kind 'robot': expected one of: hub site gateway admin/],
    [[dir, 'node', 'site', 'Chongqing'], /bad id 'Chongqing'/],
    [[dir, 'node', 'site', 'x'], /bad id 'x'/],
    [[dir, 'node', 'site', 'a'.repeat(33)], /bad id/],
    [[dir, 'node', 'site', '../evil'], /bad id/],
    [[dir, 'node', 'site'], /needs <kind> <id>/],
    [[dir, 'sign'], /unknown command 'sign'/],
    [[dir], /expected <dir> and a command/],
    [[dir, 'ca', '--bogus'], /unknown option '--bogus'/],
    [[join(root, 'empty'), 'node', 'site', 'chongqing'], /no CA in .*run 'pki.sh .* ca' first/],
  ];
  for (const [args, message] of cases) {
    const r = pki(...args);
    assert.notEqual(r.status, 0, `pki.sh ${args.join(' ')} should fail`);
    assert.match(r.stderr, message, `pki.sh ${args.join(' ')}`);
  }
  // A node certificate from another CA lying in the directory is not silently reused.
  writeFileSync(join(dir, 'site-chengdu.crt'), readFileSync(join(otherDir, 'site-chongqing.crt')));
  writeFileSync(join(dir, 'site-chengdu.key'), readFileSync(join(otherDir, 'site-chongqing.key')), {
    mode: 0o600,
  });
  const r = pki(dir, 'node', 'site', 'chengdu');
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /does not verify against .*ca\.crt.*--force/);
});

test('loadTlsMaterial names the missing or wrong file', () => {
  const paths = {
    caPath: join(dir, 'ca.crt'),
    certPath: join(dir, 'site-chongqing.crt'),
    keyPath: join(dir, 'site-chongqing.key'),
  };
  assert.equal(loadTlsMaterial(paths).paths.certPath, paths.certPath);
  const missing = join(dir, 'nope.crt');
  assert.throws(
    () => loadTlsMaterial({ ...paths, certPath: missing }),
    (e: unknown) =>
      e instanceof DomainError &&
      e.kind === 'failed-precondition' &&
      e.field === 'tls.certPath' &&
      e.message.includes(missing) &&
      /ENOENT/.test(e.message),
  );
  assert.throws(
    () => loadTlsMaterial({ ...paths, keyPath: paths.certPath }),
    (e: unknown) =>
      e instanceof DomainError && e.message.includes(`${paths.certPath} does not contain a PEM private key`),
  );
  assert.throws(
    () => loadTlsMaterial({ ...paths, caPath: '' }),
    (e: unknown) => e instanceof DomainError && e.kind === 'invalid-argument' && e.field === 'tls.caPath',
  );
});
