/**
 * `site-node/main.ts` without `--simulate` (docs/operations.md "Running a site with real
 * voice"): with the config's `sip:` section it takes SIP (a REGISTER gets its digest
 * challenge) and stops cleanly on SIGTERM; without the section it refuses, naming it.
 */
import { afterAll, beforeAll, test } from 'vitest';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, stringify } from 'yaml';
import { freshDatabase, type TestDatabase } from '../support/pg.js';
import { freeUdpPort } from '../support/sipp.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const EXAMPLE = join(ROOT, 'deploy/examples/site-chongqing.yaml');
const SECRET_ENV = 'I1_MAIN_SIP_NONCE_SECRET';

let db: TestDatabase;
let dir: string;

beforeAll(async () => {
  db = await freshDatabase('site_main_sip');
  dir = mkdtempSync(join(tmpdir(), 'site-main-sip-'));
});

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await db?.drop();
});

/** The example config, desk in plaintext on loopback, with `sip` as its SIP section (or none). */
function config(sip: Record<string, unknown> | undefined, o: { recordings?: boolean } = {}): string {
  const doc = parseYaml(readFileSync(EXAMPLE, 'utf8')) as Record<string, Record<string, unknown>>;
  delete doc.cti!.tls;
  doc.ivr!.flow = join(ROOT, 'site-node/ivr/flows/phone-banking.yaml');
  if (sip) doc.sip = sip;
  // Relative to the config file; the site creates it at start (the flow records complaints).
  if (sip && o.recordings !== false) doc.recordings = { dir: 'recordings' };
  const file = join(dir, `site-${sip ? 'sip' : 'nosip'}${o.recordings === false ? '-norec' : ''}.yaml`);
  writeFileSync(file, stringify(doc));
  return file;
}

function run(configFile: string, extra: string[] = []) {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'site-node/main.ts',
      '--config',
      configFile,
      '--database',
      db.url,
      '--insecure-loopback',
      ...extra,
    ],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LOG_LEVEL: 'warn', [SECRET_ENV]: 'a-main-test-nonce-secret-of-more-than-32' },
    },
  );
  const stderr: string[] = [];
  createInterface({ input: child.stderr }).on('line', (l) => stderr.push(l));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const ready = new Promise<Record<string, unknown> | undefined>((r) => {
    createInterface({ input: child.stdout }).on('line', (l) => {
      if (l.includes('"event":"ready"')) r(JSON.parse(l) as Record<string, unknown>);
    });
    void exited.then(() => r(undefined));
  });
  return { child, exited, ready, stderr };
}

/** One REGISTER without credentials over UDP; the status line of the answer. */
function registerOnce(port: number): Promise<string> {
  return new Promise((resolveStatus, reject) => {
    const sock = createSocket('udp4');
    sock.on('error', reject);
    sock.on('message', (m) => {
      sock.close();
      resolveStatus(m.toString('utf8').split('\r\n')[0]!);
    });
    sock.bind(0, '127.0.0.1', () => {
      const me = sock.address().port;
      const msg =
        `REGISTER sip:chongqing.cc.example SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${me};branch=z9hG4bKmain1\r\n` +
        `From: <sip:1001@chongqing.cc.example>;tag=m1\r\nTo: <sip:1001@chongqing.cc.example>\r\n` +
        `Call-ID: main-sip-1\r\nCSeq: 1 REGISTER\r\nContact: <sip:1001@127.0.0.1:${me}>\r\n` +
        `Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n`;
      sock.send(msg, port, '127.0.0.1');
    });
  });
}

test('without --simulate and without a sip: section the site refuses, naming the section', async () => {
  const r = run(config(undefined));
  assert.equal(await r.exited, 1);
  assert.match(r.stderr.join('\n'), /has no sip: section/);
});

test('with a sip: section the site runs for real: ready with its SIP address, a REGISTER is challenged, SIGTERM stops it cleanly', async () => {
  const port = await freeUdpPort();
  const rtp = 36000 + 2 * Math.floor(Math.random() * 1000);
  const r = run(
    config({
      listen: [{ transport: 'udp', host: '127.0.0.1', port }],
      publicAddress: '127.0.0.1',
      rtpPorts: { from: rtp, to: rtp + 19 },
      realm: 'chongqing.cc.example',
      digest: { secretEnv: SECRET_ENV, algorithms: ['MD5'] },
      phones: [{ agent: 'a01', extension: '1001', ha1: { MD5: '0123456789abcdef0123456789abcdef' } }],
    }),
  );
  const ready = await r.ready;
  assert.ok(ready, `the site did not start:\n${r.stderr.slice(-20).join('\n')}`);
  assert.deepEqual(ready.sip, [`udp:127.0.0.1:${port}`]);
  assert.ok(statSync(join(dir, 'recordings')).isDirectory(), 'recordings.dir created, next to the config');
  assert.match(await registerOnce(port), /^SIP\/2\.0 401 /);
  r.child.kill('SIGTERM');
  assert.equal(await r.exited, 0, r.stderr.slice(-20).join('\n'));
}, 90_000);

test('a sip: section without recordings.dir, the flow recording complaints: the site refuses, naming the field and why', async () => {
  const port = await freeUdpPort();
  const r = run(
    config(
      {
        listen: [{ transport: 'udp', host: '127.0.0.1', port }],
        publicAddress: '127.0.0.1',
        rtpPorts: { from: 38000, to: 38019 },
        realm: 'chongqing.cc.example',
        digest: { secretEnv: SECRET_ENV, algorithms: ['MD5'] },
      },
      { recordings: false },
    ),
  );
  assert.equal(await r.exited, 1);
  assert.match(
    r.stderr.join('\n'),
    /recordings\.dir: required: the IVR flow records calls \(nodes\.complaint_ticket\.record, settings\.recordQueues\)/,
  );
}, 90_000);
