/**
 * A Kafka broker of the chaos suite's own (KRaft, one node, from $KAFKA_LIB_DIR as
 * deploy/services.sh runs the shared one, on free ports with its own log dir), so the
 * "Kafka stopped" scenario can stop and start it without touching the shared broker.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../support/wait.js';
import { freePort } from './free-port.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const START_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 30_000;

export interface KafkaBroker {
  brokers: string;
  /** Stop the broker (SIGTERM, SIGKILL after 30 s); resolves when it has exited. */
  stop(): Promise<void>;
  /** Start it again on the same ports and log dir; resolves when it answers. */
  start(): Promise<void>;
  remove(): Promise<void>;
}

/**
 * A Metadata v4 request with no topics (the probe deploy/services.sh sends): the broker answers
 * with at least one live broker only once it is caught up and unfenced.
 */
function probe(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(3000, () => done(false));
    sock.on('error', () => done(false));
    sock.on('connect', () =>
      sock.write(Buffer.from('00000014000300040000002a000570726f62650000000000', 'hex')),
    );
    sock.on('data', (d) => {
      chunks.push(d);
      const b = Buffer.concat(chunks);
      if (b.length >= 16) done(b.readInt32BE(4) === 42 && b.readInt32BE(12) !== 0);
    });
  });
}

export async function startKafkaBroker(): Promise<KafkaBroker> {
  const lib = process.env.KAFKA_LIB_DIR;
  if (!lib)
    throw new Error('KAFKA_LIB_DIR is not set: `source .services/env.sh` (deploy/services.sh writes it)');
  const dir = mkdtempSync(join(tmpdir(), 'chaos-kafka-'));
  const [port, controllerPort] = [await freePort(), await freePort()];
  const props = join(dir, 'server.properties');
  writeFileSync(
    props,
    readFileSync(join(ROOT, 'deploy/kafka/server.properties.template'), 'utf8')
      .replaceAll('@KAFKA_PORT@', String(port))
      .replaceAll('@KAFKA_CONTROLLER_PORT@', String(controllerPort))
      .replaceAll('@KAFKA_DATA_DIR@', join(dir, 'data')),
  );
  const log4j = `-Dlog4j.configuration=file:${join(ROOT, 'deploy/kafka/tools-log4j.properties')}`;
  // A Kafka Uuid: 16 random bytes, url-safe base64 without padding.
  const clusterId = randomBytes(16).toString('base64url');
  execFileSync(
    'java',
    ['-Xmx256m', log4j, '-cp', `${lib}/*`, 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', props],
    {
      stdio: 'ignore',
      timeout: 120_000,
    },
  );
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const killOnExit = () => child?.kill('SIGKILL');
  process.on('exit', killOnExit);

  const broker: KafkaBroker = {
    brokers: `127.0.0.1:${port}`,
    async start() {
      if (child) throw new Error('the chaos Kafka broker is already running');
      child = spawn(
        'java',
        [
          '-Xms128m',
          '-Xmx384m',
          '-XX:+UseG1GC',
          `-Dlog4j.configuration=file:${join(ROOT, 'deploy/kafka/log4j.properties')}`,
          `-Dkafka.logs.dir=${join(dir, 'logs')}`,
          '-cp',
          `${lib}/*`,
          'kafka.Kafka',
          props,
        ],
        { stdio: 'ignore' },
      );
      const c = child;
      exited = new Promise((r) => c.on('exit', () => r()));
      let gone = false;
      void exited.then(() => (gone = true));
      await waitFor(
        `the chaos Kafka broker answering on 127.0.0.1:${port}`,
        async () => {
          if (gone) throw new Error('the broker exited during start');
          return probe(port);
        },
        START_TIMEOUT_MS,
        500,
      );
    },
    async stop() {
      const c = child;
      if (!c) return;
      c.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), STOP_TIMEOUT_MS)));
      if ((await Promise.race([exited, late])) === 'late') {
        c.kill('SIGKILL');
        await exited;
      }
      clearTimeout(timer);
      child = undefined;
    },
    async remove() {
      await broker.stop();
      process.off('exit', killOnExit);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await broker.start();
  return broker;
}
