/**
 * The agent desk over TLS (site config `cti.tls`, the site's certificate): a client
 * certificate is asked for, not required. Where the site accepts them
 * (`cti.auth.agentCertificates`), an agent's certificate (`deploy/pki.sh <dir> node agent
 * <agent id>`) acts only for that agent, without a password, and only as an agent: never as a
 * supervisor. Another agent's id is refused; a certificate of another kind, one from another
 * CA, one of a supervisor, or none at all is no identity: such a desk must sign in with a
 * password. A site that does not accept agent certificates (the default) refuses them all.
 */
import { afterAll, beforeAll, test } from 'vitest';
import assert from 'node:assert/strict';
import type { DomainError } from '../../shared/errors.js';
import { GrpcServer } from '../../shared/grpc/server.js';
import {
  mtlsClientCredentials,
  optionalClientCertServerCredentials,
  tlsClientCredentials,
} from '../../shared/grpc/tls.js';
import { makeTestPki, type TestPki } from '../../test/support/pki.js';
import { createAgentService } from './agent-service.js';
import { testDeskAuth, testPassword } from './testing.js';
import { GrpcAgentDesk } from './grpc-desk-client.js';
import { InMemoryAgentDesk } from './in-memory-desk.js';

let pki: TestPki;
let server: GrpcServer;
let address: string;
/** The same desk users at a site that does not accept agent certificates (the default). */
let strictServer: GrpcServer;
let strictAddress: string;
const desk = new InMemoryAgentDesk({
  agents: ['a01', 'a02', 'lead'].map((agentId) => ({ agentId, skills: { retail: 3 } })),
});
const clients: GrpcAgentDesk[] = [];

function deskAs(kind: 'agent' | 'admin' | 'site', id: string, at = address): GrpcAgentDesk {
  const d = new GrpcAgentDesk({
    address: at,
    deadlineMs: 3000,
    credentials: mtlsClientCredentials(pki.material(kind, id), {
      expectServer: { kind: 'site', id: 'chongqing' },
    }),
  });
  clients.push(d);
  return d;
}

async function refused(p: Promise<unknown>): Promise<DomainError> {
  return p.then(
    () => assert.fail('must be refused'),
    (e: unknown) => e as DomainError,
  );
}

beforeAll(async () => {
  pki = makeTestPki([
    ['site', 'chongqing'],
    ['agent', 'a01'],
    ['agent', 'lead'],
    ['agent', 's01'],
    ['admin', 'alice'],
  ]);
  const users = {
    agents: ['a01', 'a02', 'lead'],
    supervisors: ['s01'],
    teams: [{ id: 'east', supervisors: ['s01', 'lead'], agents: ['a01', 'a02'] }],
  };
  const { auth } = await testDeskAuth({ ...users, config: { agentCertificates: true } });
  const serve = async (a: typeof auth) => {
    const s = new GrpcServer({
      host: '127.0.0.1',
      port: 0,
      credentials: optionalClientCertServerCredentials(pki.material('site', 'chongqing')),
      services: [createAgentService({ desk, auth: a })],
    });
    return { s, at: `127.0.0.1:${await s.start()}` };
  };
  ({ s: server, at: address } = await serve(auth));
  ({ s: strictServer, at: strictAddress } = await serve((await testDeskAuth(users)).auth));
});

afterAll(async () => {
  for (const c of clients) c.close();
  await server?.stop();
  await strictServer?.stop();
  pki?.cleanup();
});

test('an agent certificate acts for its own agent id', async () => {
  const a01 = deskAs('agent', 'a01');
  assert.equal((await a01.login('a01')).state, 'not-ready');
  assert.equal((await a01.setReady('a01')).state, 'ready');
});

test('an agent cannot act for another agent; nothing changes for that agent', async () => {
  const before = (await desk.agent('a02')).state;
  const e = await refused(deskAs('agent', 'a01').login('a02'));
  assert.equal(e.kind, 'permission-denied');
  assert.match(e.message, /agent "a01" cannot act for agent "a02"/);
  assert.equal((await desk.agent('a02')).state, before);
});

test('another kind of certificate is no desk identity: UNAUTHENTICATED, sign in', async () => {
  const e = await refused(deskAs('admin', 'alice').login('a01'));
  assert.equal(e.kind, 'unauthenticated');
  assert.match(e.message, /admin certificate "alice" is not an agent of this site/);
});

test('a certificate is an agent only: an agent who leads a team is no supervisor by it; a supervisor is nobody', async () => {
  const lead = deskAs('agent', 'lead');
  assert.equal((await lead.login('lead')).state, 'not-ready', 'its own agent, yes');
  const e = await refused(lead.listTeam('lead'));
  assert.equal(e.kind, 'permission-denied');
  assert.equal((await refused(lead.forceLogout('lead', 'a01', 'by certificate'))).kind, 'permission-denied');
  assert.equal(
    (await refused(lead.setPassword('lead', 'a01', 'taken over by a certificate'))).kind,
    'permission-denied',
  );
  const s01 = await refused(deskAs('agent', 's01').listTeam('s01'));
  assert.equal(s01.kind, 'unauthenticated');
  assert.match(s01.message, /agent certificate "s01" is not an agent of this site: sign in/);
  await lead.logout('lead');
});

test('a site that does not accept agent certificates (the default) refuses them: sign in', async () => {
  const e = await refused(deskAs('agent', 'a01', strictAddress).agent('a01'));
  assert.equal(e.kind, 'unauthenticated');
  assert.match(e.message, /does not accept agent certificates \(cti\.auth\.agentCertificates is off\)/);
});

test('without a certificate a desk signs in with a password over TLS', async () => {
  const ca = pki.material('site', 'chongqing').ca;
  const tls = () => tlsClientCredentials(ca, { expectServer: { kind: 'site', id: 'chongqing' } });
  const anonymous = new GrpcAgentDesk({ address, deadlineMs: 3000, credentials: tls() });
  clients.push(anonymous);
  assert.equal((await refused(anonymous.agent('a02'))).kind, 'unauthenticated');
  const withPassword = new GrpcAgentDesk({
    address,
    deadlineMs: 3000,
    credentials: tls(),
    password: testPassword,
  });
  clients.push(withPassword);
  assert.equal((await withPassword.login('a02')).state, 'not-ready');
  await withPassword.logout('a02');
  assert.equal(withPassword.signedIn('a02'), false, 'logout signed it out');
});

test('a certificate from another CA is no identity (the socket is not authorized)', async () => {
  const other = makeTestPki([['agent', 'a01']]);
  try {
    const forged = new GrpcAgentDesk({
      address,
      deadlineMs: 3000,
      credentials: mtlsClientCredentials(
        { ...other.material('agent', 'a01'), ca: pki.material('site', 'chongqing').ca },
        { expectServer: { kind: 'site', id: 'chongqing' } },
      ),
    });
    clients.push(forged);
    const e = await refused(forged.login('a01'));
    assert.equal(e.kind, 'unauthenticated');
    assert.match(e.message, /no session and no agent certificate/);
  } finally {
    other.cleanup();
  }
});
