import { test } from 'vitest';
import assert from 'node:assert/strict';
import {
  makeGenericClientConstructor,
  type ChannelCredentials,
  type Client,
  type ClientReadableStream,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceDefinition,
} from '@grpc/grpc-js';
import { call, clientCredentials, type UnaryMethod } from './client.js';
import { GrpcServer, type ServiceRegistration } from './server.js';

// A tiny service of the test's own (JSON on the wire): a unary call, and a server stream that
// sends one message and stays open until the server ends it.
const json = {
  serialize: (v: unknown): Buffer => Buffer.from(JSON.stringify(v)),
  deserialize: (b: Buffer): unknown => JSON.parse(b.toString('utf8')),
};
const method = (name: string, responseStream: boolean) => ({
  path: `/test.Probe/${name}`,
  requestStream: false,
  responseStream,
  requestSerialize: json.serialize,
  requestDeserialize: json.deserialize,
  responseSerialize: json.serialize,
  responseDeserialize: json.deserialize,
});
const definition: ServiceDefinition = { get: method('Get', false), watch: method('Watch', true) };

interface Probe {
  id: string;
}
type ProbeClient = Client & {
  get: UnaryMethod<Probe, Probe>;
  watch: (request: Probe) => ClientReadableStream<Probe>;
};
const ProbeClient = makeGenericClientConstructor(definition, 'Probe') as unknown as new (
  address: string,
  credentials: ChannelCredentials,
) => ProbeClient;

/** The probe service; `drain` ends the open watch streams (what a real service does at stop). */
function probeService(): Required<ServiceRegistration> {
  const open = new Set<ServerWritableStream<Probe, Probe>>();
  return {
    definition,
    implementation: {
      get: (c: ServerUnaryCall<Probe, Probe>, done: sendUnaryData<Probe>) => done(null, { id: c.request.id }),
      watch: (s: ServerWritableStream<Probe, Probe>) => {
        open.add(s);
        s.on('cancelled', () => open.delete(s));
        s.write({ id: s.request.id });
      },
    },
    drain: () => {
      for (const s of open) s.end();
      open.clear();
    },
  };
}

test('port 0 binds a free port; start and stop are idempotent; start after stop is refused', async () => {
  const server = new GrpcServer({ host: '127.0.0.1', port: 0, services: [probeService()] });
  assert.equal(server.port, undefined);
  const [p1, p2] = await Promise.all([server.start(), server.start()]);
  assert.ok(p1 > 0);
  assert.equal(p1, p2);
  assert.equal(server.address, `127.0.0.1:${p1}`);
  const client = new ProbeClient(server.address!, clientCredentials());
  const res = await call(client.get.bind(client), { id: 'a' });
  assert.equal(res.id, 'a');
  client.close();
  await Promise.all([server.stop(), server.stop()]);
  await assert.rejects(server.start(), /start after stop/);
  assert.throws(() => new GrpcServer({ host: '127.0.0.1', port: 70000, services: [] }), RangeError);
});

test('stop drains open streams first, so it does not wait for them', async () => {
  const server = new GrpcServer({
    host: '127.0.0.1',
    port: 0,
    services: [probeService()],
    shutdownTimeoutMs: 5_000,
  });
  const port = await server.start();
  const client = new ProbeClient(`127.0.0.1:${port}`, clientCredentials());
  const stream = client.watch({ id: 'a' });
  const ended = new Promise<void>((resolve) => stream.on('end', () => resolve()));
  stream.on('error', () => undefined);
  await new Promise<void>((resolve) => stream.once('data', () => resolve()));
  const t0 = Date.now();
  await server.stop();
  const took = Date.now() - t0;
  assert.ok(took < 2000, `stop took ${took} ms`);
  await ended;
  client.close();
});

test('stop forces shutdown after the timeout when a stream is never drained', async () => {
  const svc = probeService();
  // Register without the drain hook, so the open stream keeps tryShutdown waiting.
  const server = new GrpcServer({
    host: '127.0.0.1',
    port: 0,
    services: [{ definition: svc.definition, implementation: svc.implementation }],
    shutdownTimeoutMs: 200,
  });
  const port = await server.start();
  const client = new ProbeClient(`127.0.0.1:${port}`, clientCredentials());
  const stream = client.watch({ id: 'a' });
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
