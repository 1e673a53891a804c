import { test } from 'vitest';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkSipPassword, parseSipHa1Args, sipHa1Lines } from './sip-ha1-args.js';

const CLI = fileURLToPath(new URL('./sip-ha1.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PASSWORD = 'correct horse battery';
const md5 = (s: string) => createHash('md5').update(s).digest('hex');
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

function run(argv: string[], stdin: string): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      ['--import', 'tsx', CLI, ...argv],
      { cwd: ROOT },
      (error, out, err) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, out, err }),
    );
    child.stdin!.end(stdin);
  });
}

const flagError = (argv: string[]): string | undefined => {
  try {
    parseSipHa1Args(argv);
  } catch (e) {
    return (e as { field?: string }).field;
  }
  return undefined;
};

test('the HA1 lines are H(extension:realm:password), SHA-256 then MD5, or the one asked for', () => {
  const args = parseSipHa1Args(['--extension', '1001', '--realm', 'chongqing.cc.example']);
  const a1 = `1001:chongqing.cc.example:${PASSWORD}`;
  assert.equal(
    sipHa1Lines(args, PASSWORD),
    `# HA1 of phone 1001 in realm chongqing.cc.example\nSHA-256: ${sha256(a1)}\nMD5: ${md5(a1)}\n`,
  );
  const only = parseSipHa1Args(['--extension', '1001', '--realm', 'r', '--algorithm', 'md5']);
  assert.deepEqual(only.algorithms, ['MD5']);
});

test('bad flags and passwords are refused naming the flag, never quoting the password', () => {
  assert.equal(flagError(['--realm', 'r']), '--extension');
  assert.equal(flagError(['--extension', '10:01', '--realm', 'r']), '--extension');
  assert.equal(flagError(['--extension', '1001']), '--realm');
  assert.equal(flagError(['--extension', '1001', '--realm', 'a:b']), '--realm');
  assert.equal(flagError(['--extension', '1001', '--realm', 'r', '--algorithm', 'SHA1']), '--algorithm');
  assert.equal(flagError(['--extension', '1001', '--realm', 'r', '--password', 'x']), 'flags');
  assert.throws(
    () => checkSipPassword('eleven-char', 'stdin'),
    /^DomainError: stdin: the password must be 12 to 128/,
  );
  assert.throws(
    () => checkSipPassword('x'.repeat(129), 'stdin'),
    (e: Error) => !e.message.includes('xxx'),
  );
  checkSipPassword('twelve-chars', 'stdin');
});

test('the CLI reads the password from stdin or a file, prints only the HA1s, and exits 0/1/2', async () => {
  const ok = await run(
    ['--extension', '1001', '--realm', 'chongqing.cc.example', '--algorithm', 'MD5'],
    `${PASSWORD}\nignored\n`,
  );
  assert.deepEqual(ok, {
    code: 0,
    out: `# HA1 of phone 1001 in realm chongqing.cc.example\nMD5: ${md5(`1001:chongqing.cc.example:${PASSWORD}`)}\n`,
    err: '',
  });
  const dir = mkdtempSync(join(tmpdir(), 'sip-ha1-'));
  try {
    writeFileSync(join(dir, 'pw.txt'), `${PASSWORD}\r\n`);
    const file = await run(
      ['--extension', '1002', '--realm', 'r', '--password-file', join(dir, 'pw.txt')],
      '',
    );
    assert.equal(file.code, 0);
    assert.ok(file.out.includes(`SHA-256: ${sha256(`1002:r:${PASSWORD}`)}\n`), file.out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const short = await run(['--extension', '1001', '--realm', 'r'], 'hunter2\n');
  assert.equal(short.code, 1);
  assert.equal(short.out, '');
  assert.ok(!short.err.includes('hunter2'), short.err);
  assert.match(short.err, /the password must be 12 to 128 characters/);
  const usage = await run(['--realm', 'r'], '');
  assert.equal(usage.code, 2);
  assert.match(usage.err, /--extension: .* is required\nusage: sip-ha1/);
});
