/**
 * fedctl without a hub: `validate` works offline and lists every problem; help is printed
 * with no hub or certificate; usage mistakes exit 2 with the usage; a missing admin
 * certificate is named. (Against a real hub it is exercised in
 * test/integration/federation.test.ts.)
 */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fedctl } from './fedctl.js';

const EXAMPLE = fileURLToPath(new URL('../../deploy/examples/province.yaml', import.meta.url));
const FEDCTL = fileURLToPath(new URL('./fedctl.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const COMMANDS = [
  'validate',
  'diff',
  'apply',
  'rollback',
  'history',
  'status',
  'drain',
  'undrain',
  'stats',
  'reads',
];

/** fedctl as an admin runs it: a process of its own, with no hub and no certificate about. */
function spawnFedctl(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('FEDCTL_')));
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', FEDCTL, ...argv],
      { env, cwd: ROOT },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, out: stdout, err: stderr });
      },
    );
  });
}

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await fedctl(argv, { out: (t) => (out += t + '\n'), err: (t) => (err += t + '\n'), env: {} });
  return { code, out, err };
}

test('validate: the example is valid and summarised', async () => {
  const r = await run('validate', EXAMPLE);
  assert.equal(r.code, 0, r.err);
  assert.match(
    r.out,
    /valid\. 5 sites \(3 full, 2 access\), 3 overflow policies, 4 cover entries; hub site chongqing/,
  );
});

test('validate: a bad file lists every problem and exits 1', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedctl-'));
  const file = join(dir, 'bad.yaml');
  writeFileSync(
    file,
    'province: x\nhubSite: nowhere\nsites:\n  - { id: a1, kind: access, city: A, endpoints: { sip: "x:1" }, capacity: { trunks: 1 }, center: b2 }\n',
  );
  const r = await run('validate', file);
  assert.equal(r.code, 1);
  assert.match(r.err, /invalid-argument: \d+ problems/);
  assert.match(r.err, /hubSite/);
  assert.match(r.err, /sites\[0\]\.center/);
});

test('usage mistakes exit 2 and say what is wrong', async () => {
  assert.equal((await run()).code, 2);
  const unknown = await run('frobnicate', '--hub', '127.0.0.1:1', '--ca', 'a', '--cert', 'b', '--key', 'c');
  assert.equal(unknown.code, 2);
  const noHub = await run('status');
  assert.equal(noHub.code, 2);
  assert.match(noHub.err, /--hub host:port \(or FEDCTL_HUB\) is required/);
  const noCert = await run('status', '--hub', '127.0.0.1:1');
  assert.match(noCert.err, /an admin certificate is required/);
  const missing = await run('status', '--hub', '127.0.0.1:1', '--pki', '/nonexistent', '--admin', 'alice');
  assert.equal(missing.code, 2);
  assert.match(missing.err, /tls\.caPath: cannot read the CA certificate at \/nonexistent\/ca\.crt/);
  const badFlag = await run('status', '--bogus');
  assert.equal(badFlag.code, 2);
  // Two hubs: a comma list, each host:port, none twice (named before anything connects).
  const twice = await run(
    'status',
    '--hub',
    '127.0.0.1:1,127.0.0.1:1',
    '--ca',
    'a',
    '--cert',
    'b',
    '--key',
    'c',
  );
  assert.equal(twice.code, 2);
  assert.match(twice.err, /--hub\[1\]: 127\.0\.0\.1:1 is listed twice/);
  const notHostPort = await run(
    'stats',
    '--hub',
    '127.0.0.1:1,hub-b',
    '--ca',
    'a',
    '--cert',
    'b',
    '--key',
    'c',
  );
  assert.equal(notHostPort.code, 2);
  assert.match(notHostPort.err, /--hub\[1\]: "hub-b" must be host:port/);
  assert.match((await run('validate', '/nonexistent.yaml')).err, /cannot read \/nonexistent\.yaml/);
});

test('fedctl --help and fedctl help list every command with a line each, exit 0, no hub needed', async () => {
  for (const argv of [['--help'], ['help']]) {
    const r = await spawnFedctl(...argv);
    assert.equal(r.code, 0, `${argv.join(' ')}: ${r.err}`);
    assert.equal(r.err, '', argv.join(' '));
    assert.match(r.out, /^usage: fedctl <command>/);
    for (const c of COMMANDS)
      assert.match(r.out, new RegExp(`^  ${c}\\b.*\\S\\s{2,}\\S`, 'm'), `${c} has a line`);
    assert.match(r.out, /--hub host:port/);
  }
  // -h is --help; help also works in process.
  const short = await run('-h');
  assert.equal(short.code, 0);
  assert.match(short.out, /^usage: fedctl <command>/);
});

test("fedctl <command> --help and fedctl help <command> print the command's flags, exit 0", async () => {
  const stats = await spawnFedctl('stats', '--help');
  assert.equal(stats.code, 0, stats.err);
  assert.equal(stats.err, '');
  assert.match(stats.out, /^usage: fedctl stats \[--window/);
  for (const flag of ['--window', '--threshold', '--json'])
    assert.match(stats.out, new RegExp(`^  ${flag}\\b`, 'm'));
  assert.doesNotMatch(stats.out, /--comment/);
  const apply = await run('help', 'apply');
  assert.equal(apply.code, 0, apply.err);
  assert.match(apply.out, /^usage: fedctl apply <topology\.yaml> \[--comment TEXT\]/);
  assert.match(apply.out, /^ {2}--comment TEXT\b/m);
  // Help wins over the missing hub, certificate and file.
  const validate = await run('validate', '--help');
  assert.equal(validate.code, 0, validate.err);
  assert.match(validate.out, /^usage: fedctl validate <topology\.yaml>/);
});

test('a wrong command or flag exits 2, naming it, with the usage on stderr', async () => {
  const unknown = await spawnFedctl('frobnicate');
  assert.equal(unknown.code, 2);
  assert.equal(unknown.out, '');
  assert.match(unknown.err, /^fedctl: unknown command "frobnicate"/);
  assert.match(unknown.err, /^usage: fedctl <command>/m);
  assert.match(unknown.err, /^ {2}status\b/m);

  const flag = await spawnFedctl('status', '--bogus');
  assert.equal(flag.code, 2);
  assert.equal(flag.out, '');
  assert.match(flag.err, /^fedctl: status: unknown flag --bogus/);
  assert.match(flag.err, /^usage: fedctl status/m);

  // A flag of another command is as wrong: history has no --window.
  const other = await run('history', '--window', '1h');
  assert.equal(other.code, 2);
  assert.match(other.err, /^fedctl: history: --window is not a flag of history/);
  assert.match(other.err, /^usage: fedctl history \[--limit N\]/m);

  const helpUnknown = await run('help', 'frobnicate');
  assert.equal(helpUnknown.code, 2);
  assert.match(helpUnknown.err, /unknown command "frobnicate"/);

  const extra = await run('status', 'wanzhou');
  assert.equal(extra.code, 2);
  assert.match(extra.err, /^fedctl: status: unexpected argument "wanzhou"/);
  // A missing argument is named before anything else is asked for (no hub, no certificate).
  const noFile = await spawnFedctl('diff');
  assert.equal(noFile.code, 2);
  assert.match(noFile.err, /^fedctl: diff: missing <topology\.yaml>/);
  assert.match(noFile.err, /^usage: fedctl diff <topology\.yaml>/m);
  const noSite = await run('drain');
  assert.equal(noSite.code, 2);
  assert.match(noSite.err, /^fedctl: drain: missing <site>/);
});

test('cover: the two-word commands, and their mistakes named before any hub is asked', async () => {
  const help = await run('help', 'cover', 'start');
  assert.equal(help.code, 0, help.err);
  assert.match(help.out, /usage: fedctl cover start <entry-id> \[--until TIME\]/);
  assert.match(help.out, /ISO 8601 instant with its offset .*\+2h/s);

  const noSub = await run('cover');
  assert.equal(noSub.code, 2);
  assert.match(noSub.err, /cover: missing start, stop, list/);
  const badSub = await run('cover', 'pause', 'x');
  assert.equal(badSub.code, 2);
  assert.match(badSub.err, /cover: unknown "pause"; want start, stop, list/);
  const noId = await run('cover', 'start');
  assert.equal(noId.code, 2);
  assert.match(noId.err, /cover start: missing <entry-id>/);
  const notOfStop = await run('cover', 'stop', 'x', '--until', '+1h');
  assert.equal(notOfStop.code, 2);
  assert.match(notOfStop.err, /--until is not a flag of cover stop/);
  // No --hub given: the bad --until is named first, so nothing was about to connect.
  const noOffset = await run('cover', 'start', 'fuling-helps', '--until', '2026-12-02T18:00');
  assert.equal(noOffset.code, 2);
  assert.match(noOffset.err, /--until: "2026-12-02T18:00" has no UTC offset/);
});
