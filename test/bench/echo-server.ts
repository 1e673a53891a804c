/**
 * The roaming-lookup benchmark's floor as its own process (like the hub), on the hub's
 * certificate, so a round trip to it costs what any round trip to the hub costs before the
 * hub does any work:
 *
 *   node --import tsx test/bench/echo-server.ts --ca CA --cert CRT --key KEY --answer FILE.json
 *
 * prints `{"event":"ready","port":N}` and serves until SIGTERM.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { GrpcServer } from '../../shared/grpc/server.js';
import { unary } from '../../shared/grpc/status.js';
import { loadTlsMaterial, mtlsServerCredentials } from '../../shared/grpc/tls.js';
import { echoDefinition, type EchoRequest } from './echo-service.js';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      ca: { type: 'string' },
      cert: { type: 'string' },
      key: { type: 'string' },
      answer: { type: 'string' },
    },
  });
  const missing = (['ca', 'cert', 'key', 'answer'] as const).filter((k) => !values[k]);
  if (missing.length > 0) throw new Error(`echo-service: missing --${missing.join(', --')}`);
  const answer: unknown = JSON.parse(readFileSync(values.answer!, 'utf8'));
  const server = new GrpcServer({
    host: '127.0.0.1',
    port: 0,
    services: [
      { definition: echoDefinition, implementation: { echo: unary<EchoRequest, unknown>(() => answer) } },
    ],
    credentials: mtlsServerCredentials(
      loadTlsMaterial({ caPath: values.ca!, certPath: values.cert!, keyPath: values.key! }),
    ),
  });
  const port = await server.start();
  process.stdout.write(`${JSON.stringify({ event: 'ready', port, pid: process.pid })}\n`);
  const stop = () => void server.stop().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
