/**
 * Proves that every real service deploy/services.sh provides starts and answers, for real:
 * PostgreSQL (SELECT 1), Kafka (create a topic, produce one record, consume it back with the
 * Kafka CLI classes), toxiproxy (a proxy in front of Postgres that works, then breaks the
 * connection, then is removed) and SIPp (one successful call between a UAC and a UAS).
 *
 * Reads the contract written to .services/env.sh: TEST_PG_URL, KAFKA_BROKERS, KAFKA_LIB_DIR,
 * KAFKA_TOOLS_LOG4J, TOXIPROXY_URL, SIPP_BIN. A missing service fails its test with a message
 * that says what to run; nothing is skipped.
 */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { waitFor } from '../support/wait.js';

function requireEnv(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(
      `${name} is not set: start the services and load their addresses with ` +
        '`bash deploy/services.sh up && source .services/env.sh` (or run `npm test`, which does both)',
    );
  }
  return value;
}

interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Runs a command to completion, feeding `input` on stdin; kills it after `timeoutMs`. */
function run(
  cmd: string,
  args: string[],
  opts: { input?: string; timeoutMs: number; cwd?: string },
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`could not run ${cmd}: ${err.message}`, { cause: err }));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}

function describe(what: string, r: RunResult): string {
  const how = r.timedOut ? 'timed out' : `exited with ${r.code ?? r.signal}`;
  return `${what} ${how}\n--- stdout\n${r.stdout.slice(-2000)}\n--- stderr\n${r.stderr.slice(-2000)}`;
}

/** A TCP port nobody listens on right now (the kernel picks it). */
function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** A UDP port nobody is bound to right now (the kernel picks it). */
function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const sock = createSocket('udp4');
    sock.once('error', reject);
    sock.bind(0, '127.0.0.1', () => {
      const { port } = sock.address();
      sock.close(() => resolve(port));
    });
  });
}

/**
 * Whether a socket is bound to 127.0.0.1:`port` over UDP. /proc/net/udp (Linux, where the
 * services run) lists this network namespace's bound UDP sockets, the local address in hex
 * (`0100007F:<PORT>`); reading it disturbs nothing, where a probe binding the port could take
 * it from the very process that is about to.
 */
function udpBound(port: number): boolean {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return readFileSync('/proc/net/udp', 'utf8')
    .split('\n')
    .some((line) => line.trim().split(/\s+/)[1] === local);
}

/** Resolves when a TCP connection to the first host:port of `hostPorts` opens within `timeoutMs`. */
function tcpReachable(hostPorts: string, timeoutMs: number): Promise<void> {
  const [host = '127.0.0.1', port = ''] = hostPorts.split(',')[0]?.split(':') ?? [];
  return new Promise((resolve, reject) => {
    const sock = connect({ host, port: Number(port), timeout: timeoutMs });
    sock.once('connect', () => {
      sock.destroy();
      resolve();
    });
    sock.once('timeout', () => {
      sock.destroy();
      reject(new Error(`no connection to ${host}:${port} within ${timeoutMs} ms`));
    });
    sock.once('error', reject);
  });
}

async function selectOne(url: string): Promise<number> {
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: 3000,
    query_timeout: 3000,
  });
  client.on('error', () => undefined); // a broken connection is reported through the promises below
  try {
    await client.connect();
    const res = await client.query<{ one: number }>('SELECT 1 AS one');
    return res.rows[0]?.one ?? -1;
  } finally {
    await client.end().catch(() => undefined);
  }
}

test('postgres answers SELECT 1 at TEST_PG_URL', async () => {
  const url = requireEnv('TEST_PG_URL');
  const one = await selectOne(url).catch((err: Error) => {
    throw new Error(`PostgreSQL at ${url} does not answer (bash deploy/services.sh status): ${err.message}`, {
      cause: err,
    });
  });
  assert.equal(one, 1);
});

test('kafka: create a topic, produce one record, consume it back', async () => {
  const brokers = requireEnv('KAFKA_BROKERS');
  const lib = requireEnv('KAFKA_LIB_DIR');
  assert.ok(
    existsSync(path.join(lib, 'kafka-tools-3.9.1.jar')),
    `KAFKA_LIB_DIR ${lib} holds no Kafka 3.9.1 jars: run bash deploy/services.sh up`,
  );
  await tcpReachable(brokers, 3000).catch((err: Error) => {
    throw new Error(
      `Kafka at ${brokers} does not accept connections (bash deploy/services.sh status): ${err.message}`,
      {
        cause: err,
      },
    );
  });
  const log4j = process.env.KAFKA_TOOLS_LOG4J;
  const jvm = [
    '-Xmx256m',
    '-XX:TieredStopAtLevel=1',
    '-Djava.awt.headless=true',
    ...(log4j ? [`-Dlog4j.configuration=file:${log4j}`] : []),
    '-cp',
    `${lib}/*`,
  ];
  const topic = `services-test-${randomBytes(4).toString('hex')}`;
  const record = `hello-${randomBytes(6).toString('hex')}`;

  const create = await run(
    'java',
    [
      ...jvm,
      'org.apache.kafka.tools.TopicCommand',
      '--bootstrap-server',
      brokers,
      '--create',
      '--topic',
      topic,
      '--partitions',
      '1',
      '--replication-factor',
      '1',
    ],
    { timeoutMs: 60_000 },
  );
  assert.equal(create.code, 0, describe(`TopicCommand --create against Kafka at ${brokers}`, create));

  const produce = await run(
    'java',
    [...jvm, 'kafka.tools.ConsoleProducer', '--bootstrap-server', brokers, '--topic', topic],
    { input: `${record}\n`, timeoutMs: 60_000 },
  );
  assert.equal(produce.code, 0, describe('ConsoleProducer', produce));

  const consume = await run(
    'java',
    [
      ...jvm,
      'org.apache.kafka.tools.consumer.ConsoleConsumer',
      '--bootstrap-server',
      brokers,
      '--topic',
      topic,
      '--from-beginning',
      '--max-messages',
      '1',
      '--timeout-ms',
      '30000',
    ],
    { timeoutMs: 60_000 },
  );
  assert.equal(consume.code, 0, describe('ConsoleConsumer', consume));
  assert.equal(consume.stdout.trim(), record, describe('ConsoleConsumer returned another record:', consume));

  const del = await run(
    'java',
    [
      ...jvm,
      'org.apache.kafka.tools.TopicCommand',
      '--bootstrap-server',
      brokers,
      '--delete',
      '--topic',
      topic,
    ],
    { timeoutMs: 60_000 },
  );
  assert.equal(del.code, 0, describe('TopicCommand --delete', del));
});

test('toxiproxy: a proxy in front of Postgres passes queries, then breaks them on demand', async () => {
  const api = requireEnv('TOXIPROXY_URL');
  const pgUrl = requireEnv('TEST_PG_URL');
  const version = await fetch(`${api}/version`).catch((err: Error) => {
    throw new Error(`toxiproxy at ${api} does not answer (bash deploy/services.sh status): ${err.message}`, {
      cause: err,
    });
  });
  assert.equal(version.status, 200, `GET ${api}/version`);

  const upstream = new URL(pgUrl);
  const listenPort = await freeTcpPort();
  const name = `pg-${randomBytes(4).toString('hex')}`;
  const call = async (method: string, p: string, body?: unknown): Promise<Response> => {
    const res = await fetch(`${api}${p}`, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (res.status >= 300) throw new Error(`toxiproxy ${method} ${p} -> ${res.status}: ${await res.text()}`);
    return res;
  };

  await call('POST', '/proxies', {
    name,
    listen: `127.0.0.1:${listenPort}`,
    upstream: `${upstream.hostname}:${upstream.port || '5432'}`,
    enabled: true,
  });
  try {
    const viaProxy = new URL(pgUrl);
    viaProxy.hostname = '127.0.0.1';
    viaProxy.port = String(listenPort);
    assert.equal(await selectOne(viaProxy.toString()), 1, 'SELECT 1 through the proxy');

    // A timeout toxic drops every byte and closes the connection after 500 ms.
    await call('POST', `/proxies/${name}/toxics`, {
      name: 'blackhole',
      type: 'timeout',
      stream: 'downstream',
      toxicity: 1,
      attributes: { timeout: 500 },
    });
    await assert.rejects(selectOne(viaProxy.toString()), 'SELECT 1 must fail while the timeout toxic is on');

    await call('DELETE', `/proxies/${name}/toxics/blackhole`);
    assert.equal(await selectOne(viaProxy.toString()), 1, 'SELECT 1 works again once the toxic is removed');

    // A disabled proxy refuses connections outright.
    await call('POST', `/proxies/${name}`, { enabled: false });
    await assert.rejects(
      selectOne(viaProxy.toString()),
      /ECONNREFUSED/,
      'a disabled proxy refuses connections',
    );
  } finally {
    await call('DELETE', `/proxies/${name}`);
  }
  const after = await fetch(`${api}/proxies/${name}`);
  assert.equal(after.status, 404, 'the proxy is gone after DELETE');
});

test('sipp: one call from a UAC to a UAS on loopback succeeds', async () => {
  const sipp = requireEnv('SIPP_BIN');
  assert.ok(existsSync(sipp), `SIPP_BIN ${sipp} does not exist: install the Debian package sip-tester`);
  const pcaps = requireEnv('SIPP_PCAP_DIR');
  assert.ok(existsSync(path.join(pcaps, 'g711a.pcap')), `no g711a.pcap in SIPP_PCAP_DIR ${pcaps}`);

  const uasPort = await freeUdpPort();
  let uacPort = await freeUdpPort();
  while (uacPort === uasPort) uacPort = await freeUdpPort();
  const cwd = mkdtempSync(path.join(tmpdir(), 'sipp-')); // sipp may write logs into its cwd
  try {
    const uas = run(
      sipp,
      ['-sn', 'uas', '-i', '127.0.0.1', '-p', String(uasPort), '-m', '1', '-nostdin', '-timeout', '30s'],
      {
        timeoutMs: 40_000,
        cwd,
      },
    );
    // The INVITE goes out once the UAS listens. A UAS that exits before it is bound ends the
    // wait too, and the test with what it said.
    let uasExited = false;
    void uas.then(
      () => (uasExited = true),
      () => (uasExited = true),
    );
    await waitFor(
      `the sipp UAS bound to udp 127.0.0.1:${uasPort}`,
      () => uasExited || udpBound(uasPort),
      10_000,
    );
    if (uasExited) assert.fail(describe('sipp UAS exited before it was bound:', await uas));
    const uac = await run(
      sipp,
      [
        '-sn',
        'uac',
        `127.0.0.1:${uasPort}`,
        '-m',
        '1',
        '-i',
        '127.0.0.1',
        '-p',
        String(uacPort),
        '-nostdin',
        '-timeout',
        '10s',
      ],
      { timeoutMs: 20_000, cwd },
    );
    assert.equal(uac.code, 0, describe('sipp UAC (exit 0 means every call succeeded)', uac));
    const uasResult = await uas;
    assert.equal(uasResult.code, 0, describe('sipp UAS', uasResult));
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
});
