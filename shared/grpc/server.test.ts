import { test } from 'vitest';
import assert from 'node:assert/strict';
import { AgentDeskClient } from '../../proto/gen/agent.js';
import { InMemoryAgentDesk } from '../../site-node/cti/in-memory-desk.js';
import { createAgentService } from '../../site-node/cti/agent-service.js';
import { call, clientCredentials } from './client.js';
import { GrpcServer } from './server.js';

test('port 0 binds a free port; start and stop are idempotent; start after stop is refused', async () => {
  const svc = createAgentService({ desk: new InMemoryAgentDesk({ agents: [{ agentId: 'a' }] }) });
  const server = new GrpcServer({ host: '127.0.0.1', port: 0, services: [svc] });
  assert.equal(server.port, undefined);
  const [p1, p2] = await Promise.all([server.start(), server.start()]);
  assert.ok(p1 > 0);
  assert.equal(p1, p2);
  assert.equal(server.address, `127.0.0.1:${p1}`);
  const client = new AgentDeskClient(server.address!, clientCredentials());
  const res = await call(client.getAgent.bind(client), { agentId: 'a' });
  assert.equal(res.agent?.agentId, 'a');
  client.close();
  await Promise.all([server.stop(), server.stop()]);
  await assert.rejects(server.start(), /start after stop/);
  assert.throws(() => new GrpcServer({ host: '127.0.0.1', port: 70000, services: [] }), RangeError);
});

test('stop forces shutdown after the timeout when a stream is never drained', async () => {
  const svc = createAgentService({ desk: new InMemoryAgentDesk({ agents: [{ agentId: 'a' }] }) });
  // Register without the drain hook, so the open stream keeps tryShutdown waiting.
  const server = new GrpcServer({
    host: '127.0.0.1',
    port: 0,
    services: [{ definition: svc.definition, implementation: svc.implementation }],
    shutdownTimeoutMs: 200,
  });
  const port = await server.start();
  const client = new AgentDeskClient(`127.0.0.1:${port}`, clientCredentials());
  const stream = client.events({ agentId: 'a' });
  const closed = new Promise<void>((resolve) => {
    stream.on('error', () => resolve());
    stream.on('end', () => resolve());
  });
  await new Promise<void>((resolve) => stream.once('data', () => resolve()));
  const t0 = Date.now();
  await server.stop();
  const took = Date.now() - t0;
  assert.ok(took >= 150 && took < 2000, `stop took ${took} ms`);
  await closed;
  client.close();
});
