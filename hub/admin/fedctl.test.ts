/**
 * fedctl without a hub: `validate` works offline and lists every problem; usage mistakes
 * exit 2 with the usage; a missing admin certificate is named. (Against a real hub it is
 * exercised in test/integration/federation.test.ts.)
 */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fedctl } from './fedctl.js';

const EXAMPLE = fileURLToPath(new URL('../../deploy/examples/province.yaml', import.meta.url));

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
  assert.match((await run('validate', '/nonexistent.yaml')).err, /cannot read \/nonexistent\.yaml/);
});
