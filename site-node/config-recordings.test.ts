/** The `recordings:` section: relative to the config, refused at load naming the field, created at start. */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { isDomainError } from '../shared/errors.js';
import { compileSiteConfig } from './config.js';
import { ensureRecordingsDir } from './config-recordings.js';

const EXAMPLE = new URL('../deploy/examples/site-chongqing.yaml', import.meta.url).pathname;
const withRecordings = (recordings: unknown): Record<string, unknown> => ({
  ...(parse(readFileSync(EXAMPLE, 'utf8')) as Record<string, unknown>),
  recordings,
});

function refused(recordings: unknown, baseDir: string): string {
  try {
    compileSiteConfig(withRecordings(recordings), baseDir, 'site');
  } catch (e) {
    assert.ok(isDomainError(e, 'invalid-argument'), String(e));
    return e.message;
  }
  assert.fail('expected the config to be refused');
}

test('recordings.dir resolves against the config file and is created at start', () => {
  const base = mkdtempSync(join(tmpdir(), 'rec-config-'));
  const c = compileSiteConfig(withRecordings({ dir: 'calls/wav' }), base, 'site');
  assert.deepEqual(c.recordings, { dir: join(base, 'calls', 'wav'), field: 'site.recordings.dir' });
  assert.equal(existsSync(join(base, 'calls')), false, 'nothing is created at load');
  assert.equal(ensureRecordingsDir(c.recordings!), join(base, 'calls', 'wav'));
  assert.ok(statSync(join(base, 'calls', 'wav')).isDirectory());
  // Without the section there is no folder.
  assert.equal(compileSiteConfig(withRecordings(undefined), base, 'site').recordings, undefined);
});

test('a recordings.dir that is not a directory, or cannot be written or created, is refused naming the field', () => {
  const base = mkdtempSync(join(tmpdir(), 'rec-config-'));
  writeFileSync(join(base, 'a-file'), 'x');
  assert.match(refused({ dir: 'a-file' }, base), /^site\.recordings\.dir: .*a-file is not a directory/);
  assert.match(
    refused({ dir: 'a-file/below' }, base),
    /site\.recordings\.dir: .*below cannot be created: .*a-file is not a directory/,
  );
  // /proc/1 is a directory no process may write into, root included.
  assert.match(refused({ dir: '/proc/1' }, base), /site\.recordings\.dir: \/proc\/1 is not writable/);
  assert.match(
    refused({ dir: '/proc/1/recordings' }, base),
    /site\.recordings\.dir: .*cannot be created: \/proc\/1 is not writable/,
  );
  assert.match(refused({ dir: '' }, base), /site\.recordings\.dir/);
  assert.match(refused({ dir: 'x', keep: '30d' }, base), /site\.recordings: .*keep/);
});
