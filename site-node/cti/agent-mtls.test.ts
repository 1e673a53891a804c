/**
 * The agent desk with mTLS (site config `cti.tls`): an agent's certificate
 * (`deploy/pki.sh <dir> node agent <agent id>`) acts only for that agent. Another agent's id,
 * a certificate of another kind, or no certificate at all is refused, and nothing changes.
 */
import { afterAll, beforeAll, test } from 'vitest';
import assert from 'node:assert/strict';
import { credentials } from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import type { DomainError } from '../../shared/errors.js';
import { GrpcServer } from '../../shared/grpc/server.js';
import { mtlsClientCredentials, mtlsServerCredentials } from '../../shared/grpc/tls.js';
import { makeTestPki, type TestPki } from '../../test/support/pki.js';
import { agentsActForThemselves, createAgentService } from './agent-service.js';
import { GrpcAgentDesk } from './grpc-desk-client.js';
import { InMemoryAgentDesk } from './in-memory-desk.js';

let pki: TestPki;
let server: GrpcServer;
let address: string;
const desk = new InMemoryAgentDesk({
  agents: ['a01', 'a02'].map((agentId) => ({ agentId, skills: { retail: 3 } })),
});
const clients: GrpcAgentDesk[] = [];

function deskAs(kind: 'agent' | 'admin' | 'site', id: string): GrpcAgentDesk {
  const d = new GrpcAgentDesk({
    address,
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
    ['admin', 'alice'],
  ]);
  server = new GrpcServer({
    host: '127.0.0.1',
    port: 0,
    credentials: mtlsServerCredentials(pki.material('site', 'chongqing')),
    services: [createAgentService({ desk, authorize: agentsActForThemselves })],
  });
  address = `127.0.0.1:${await server.start()}`;
});

afterAll(async () => {
  for (const c of clients) c.close();
  await server?.stop();
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

test('other kinds of certificate are refused; so is a connection without one', async () => {
  const e = await refused(deskAs('admin', 'alice').login('a01'));
  assert.equal(e.kind, 'permission-denied');
  assert.match(e.message, /needs a certificate of kind agent/);
  const anonymous = new GrpcAgentDesk({
    address,
    deadlineMs: 2000,
    credentials: credentials.createSsl(readFileSync(pki.paths('site', 'chongqing').caPath)),
  });
  clients.push(anonymous);
  const n = await refused(anonymous.login('a01'));
  assert.ok(['unavailable', 'deadline-exceeded'].includes(n.kind), n.kind);
  assert.ok(server.refusedHandshakes >= 1);
});
