/**
 * The prompt library over a small build written here (bytes standing for audio: what is under
 * test is which files come back, in which order, and the refusals). The real build's audio is
 * checked in deploy/prompts/build-prompts.test.ts.
 */
import { afterAll, test } from 'vitest';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DomainError } from '../../shared/errors.js';
import { loadPromptCatalogueFile } from '../ivr/flow.js';
import { PROMPTS_FILE } from '../ivr/test-support.js';
import { CLIP_FILES, type ManifestClip, MANIFEST_FILE } from './prompt-manifest.js';
import { PromptLibrary } from './prompt-library.js';
import { clipKey, planPrompt } from './prompt-pieces.js';

const catalogue = loadPromptCatalogueFile(PROMPTS_FILE);
const root = mkdtempSync(join(tmpdir(), 'prompt-library-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A build holding the clips of `queue.position` with position 2 in Mandarin; clip i's audio is i+1 bytes of value i. */
function writeBuild(name: string, edit: (clips: Record<string, ManifestClip>) => void = () => {}): string {
  const folder = join(root, name);
  const clips: Record<string, ManifestClip> = {};
  planPrompt(catalogue, 'queue.position', { position: '2' }, 'zh').forEach((c, i) => {
    const dir = String(i).padStart(16, 'a');
    mkdirSync(join(folder, dir), { recursive: true });
    writeFileSync(join(folder, dir, CLIP_FILES.PCMA), Buffer.alloc(i + 1, i));
    writeFileSync(join(folder, dir, CLIP_FILES.PCMU), Buffer.alloc(i + 1, 100 + i));
    clips[clipKey(c)] = { dir, text: c.text, voice: 'cmn', durationMs: (i + 1) * 10 };
  });
  edit(clips);
  const file = join(folder, MANIFEST_FILE);
  writeFileSync(file, JSON.stringify({ version: 1, sampleRate: 8000, tools: 'test', clips }));
  return file;
}

const refused = (kind: string, message: RegExp) => (e: unknown) =>
  e instanceof DomainError && e.kind === kind && message.test(e.message);

test('the payloads of a prompt with vars, in play order, in the codec asked for', () => {
  const lib = PromptLibrary.load(writeBuild('ok'), catalogue);
  const a = lib.pieces('queue.position', { position: '2' }, 'zh', 'PCMA');
  assert.deepEqual(
    a.payloads.map((p) => [...p]),
    [[0], [1, 1], [2, 2, 2]],
  );
  assert.equal(a.durationMs, 60);
  assert.deepEqual(
    lib.pieces('queue.position', { position: '2' }, 'zh', 'PCMU').payloads.map((p) => p[0]),
    [100, 101, 102],
  );
});

test('the same prompt as clip files for the media engine, with the codec they are in', () => {
  const file = writeBuild('files');
  const lib = PromptLibrary.load(file, catalogue);
  const files = lib.files('queue.position', { position: '2' }, 'zh', 'PCMU');
  assert.deepEqual(
    files.map((f) => [readFileSync(f.file)[0], f.codec]),
    [
      [100, 'PCMU'],
      [101, 'PCMU'],
      [102, 'PCMU'],
    ],
  );
  assert.ok(files.every((f) => f.file.startsWith(dirname(file)) && f.file.endsWith(CLIP_FILES.PCMU)));
  assert.throws(
    () => lib.files('welcome', {}, 'zh', 'PCMA'),
    refused('failed-precondition', /zh\/prompt:welcome is missing from the prompt build/),
  );
});

test('a prompt missing from the build is refused naming it and what to run', () => {
  const lib = PromptLibrary.load(writeBuild('missing'), catalogue);
  assert.throws(
    () => lib.pieces('welcome', {}, 'zh', 'PCMA'),
    refused(
      'failed-precondition',
      /prompt welcome \(zh\): zh\/prompt:welcome is missing from the prompt build .*run npm run prompts/,
    ),
  );
  assert.throws(
    () => lib.pieces('queue.position', { position: '23' }, 'zh', 'PCMA'),
    refused('failed-precondition', /zh\/word:二 is missing/),
  );
  assert.throws(
    () => lib.pieces('no.such', {}, 'en', 'PCMA'),
    refused('not-found', /prompt "no.such" not found/),
  );
});

test('a clip whose text changed since the build is refused, not played stale', () => {
  const file = writeBuild('stale', (clips) => {
    clips['zh/prompt:queue.position#0']!.text = '您前面有';
  });
  assert.throws(
    () => PromptLibrary.load(file, catalogue).pieces('queue.position', { position: '1' }, 'zh', 'PCMA'),
    refused('failed-precondition', /zh\/prompt:queue.position#0 changed since the prompt build/),
  );
});

test('no build, or a manifest that is not one, is a clear error', () => {
  assert.throws(
    () => PromptLibrary.load(join(root, 'none', MANIFEST_FILE), catalogue),
    refused('failed-precondition', /no prompt build at .*none.*run npm run prompts/),
  );
  const bad = join(root, 'bad.json');
  writeFileSync(bad, JSON.stringify({ version: 2, sampleRate: 8000, tools: 't', clips: {} }));
  assert.throws(() => PromptLibrary.load(bad, catalogue), refused('invalid-argument', /bad\.json version/));
});
