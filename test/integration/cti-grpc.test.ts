/**
 * End to end over real gRPC: simulated agents drive a remote desk through GrpcAgentDesk
 * (the AgentDesk port as a gRPC client, each agent signed in) against the agent service on 127.0.0.1, with the
 * in-memory desk behind it and a real scheduler sped up 100x. Needs no external services.
 */
import { afterAll, beforeAll, test } from 'vitest';
import assert from 'node:assert/strict';
import { GrpcServer } from '../../shared/grpc/server.js';
import { Random } from '../../shared/random.js';
import { RealScheduler } from '../../shared/scheduler.js';
import { createAgentService } from '../../site-node/cti/agent-service.js';
import { GrpcAgentDesk } from '../../site-node/cti/grpc-desk-client.js';
import { InMemoryAgentDesk } from '../../site-node/cti/in-memory-desk.js';
import { SimAgents } from '../../site-node/cti/sim-agents.js';
import { testDeskAuth, testPassword } from '../../site-node/cti/testing.js';
import { waitFor } from '../support/wait.js';

const scheduler = new RealScheduler({ speed: 100 });
const agentIds = ['g1', 'g2', 'g3', 'g4'];
const desk = new InMemoryAgentDesk({
  agents: agentIds.map((agentId) => ({ agentId })),
  scheduler,
  ringTimeoutMs: 30_000,
});
let server: GrpcServer;
let remote: GrpcAgentDesk;

beforeAll(async () => {
  // The agents sign in with their passwords (site-node/cti/testing.ts) as real desks do.
  const { auth } = await testDeskAuth({ agents: agentIds });
  server = new GrpcServer({ host: '127.0.0.1', port: 0, services: [createAgentService({ desk, auth })] });
  const port = await server.start();
  remote = new GrpcAgentDesk({ address: `127.0.0.1:${port}`, password: testPassword });
});

afterAll(async () => {
  remote.close();
  await server.stop();
  scheduler.cancelAll();
});

test('simulated agents serve calls through the gRPC agent service', async () => {
  const sim = new SimAgents(
    { desk: remote, scheduler },
    {
      agentIds,
      seed: 17,
      ringDelay: { kind: 'uniform', minMs: 500, maxMs: 2000 },
      handleTime: { kind: 'exponential', meanMs: 20_000 },
      wrapupTime: { kind: 'fixed', ms: 3000 },
      noAnswerProbability: 0.1,
    },
  );
  await sim.start();
  // Wait until every agent's stream is open and it is ready.
  await waitFor('streams opened', () => agentIds.every((id) => desk.subscriberCount(id) > 0), 5000);
  const rng = new Random(1);
  const N = 30;
  let at = 0;
  for (let i = 0; i < N; i++) {
    at += rng.exponential(8000);
    scheduler.after(at, () => desk.enqueueCall({ callId: `cq-${i}`, ani: '+861380000', ivrPath: ['main'] }));
  }
  // 30 calls * ~25 s over 4 agents plus arrivals: ~4-5 simulated minutes = ~3 s real at speed 100.
  try {
    await waitFor(`all ${N} calls completed`, () => desk.counts.completed >= N, 15_000);
  } finally {
    await sim.stop();
  }

  const { total } = sim.stats();
  assert.equal(desk.counts.completed, N, 'every call served and wrapped up');
  assert.equal(total.answered, N);
  assert.equal(total.offers, desk.counts.offered);
  // Offers left ringing all lapse; on a loaded machine a slow answer may lapse too.
  assert.ok(total.letRing <= desk.counts.ringNoAnswer);
  for (const id of agentIds) {
    assert.equal((await desk.agent(id)).state, 'logged-out');
  }
  // The streams are gone once the agents unsubscribed (cancel travels over the wire).
  await waitFor('streams closed', () => agentIds.every((id) => desk.subscriberCount(id) === 0), 3000);
});
