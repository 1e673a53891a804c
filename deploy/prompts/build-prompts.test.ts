/**
 * The real prompt build (espeak-ng and sox) on a few prompts: the files are G.711 of speech,
 * as long as the manifest says, made once and then served from the cache. Skips, saying so,
 * where espeak-ng or sox is missing; .ci/run installs both, so CI runs it.
 */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alaw, mulaw } from 'alawmulaw';
import { loadPromptCatalogueFile } from '../../site-node/ivr/flow.js';
import { CLIP_FILES, parsePromptManifest } from '../../site-node/telephony/prompt-manifest.js';
import { PromptLibrary } from '../../site-node/telephony/prompt-library.js';
import { type Clip, clipKey, planPrompt } from '../../site-node/telephony/prompt-pieces.js';
import { DEFAULT_PROMPTS, buildPrompts } from './build-prompts.js';

const missing = ['espeak-ng', 'sox'].filter((cmd) => {
  try {
    execFileSync(cmd, ['--version'], { stdio: 'ignore' });
    return false;
  } catch {
    return true;
  }
});
if (missing.length > 0)
  console.warn(
    `build-prompts.test.ts skipped: ${missing.join(' and ')} not installed (apt-get install espeak-ng sox)`,
  );

const catalogue = loadPromptCatalogueFile(DEFAULT_PROMPTS);
const vars = { position: '23' };
const few: Clip[] = [
  ...planPrompt(catalogue, 'welcome', {}, 'zh'),
  ...planPrompt(catalogue, 'common.goodbye', {}, 'en'),
  ...planPrompt(catalogue, 'queue.position', vars, 'zh'),
];

const rms = (samples: Int16Array) => Math.sqrt(samples.reduce((a, s) => a + s * s, 0) / samples.length);

test.skipIf(missing.length > 0)(
  'the build makes G.711 speech of each clip, as long as the manifest says, once',
  async () => {
    const out = mkdtempSync(join(tmpdir(), 'prompts-'));
    try {
      const lines: string[] = [];
      const first = await buildPrompts({ clips: few, outDir: out, log: (l) => lines.push(l) });
      assert.equal(first.clips, few.length);
      assert.equal(first.made, few.length);
      assert.match(lines.at(-1)!, new RegExp(`^prompts: ${few.length}/${few.length} recordings ready`));

      const manifest = parsePromptManifest(
        JSON.parse(readFileSync(first.manifestPath, 'utf8')),
        first.manifestPath,
      );
      for (const clip of few) {
        const entry = manifest.clips[clipKey(clip)]!;
        assert.equal(entry.text, clip.text);
        const a = readFileSync(join(out, entry.dir, CLIP_FILES.PCMA));
        const u = readFileSync(join(out, entry.dir, CLIP_FILES.PCMU));
        assert.equal(a.length, u.length, clipKey(clip));
        assert.ok(
          Math.abs(a.length - entry.durationMs * 8) <= 8,
          `${clipKey(clip)}: ${a.length} bytes for ${entry.durationMs} ms`,
        );
        assert.ok(entry.durationMs >= 150, `${clipKey(clip)} is only ${entry.durationMs} ms`);
        // Decoded as A-law and as µ-law the two files are the same speech: the encodings are
        // right and not swapped (the other decoding of either gives noise far off these samples).
        const fromA = alaw.decode(a);
        const fromU = mulaw.decode(u);
        assert.ok(rms(fromA) > 300, `${clipKey(clip)} is silent (rms ${rms(fromA).toFixed(0)})`);
        const diff = rms(fromA.map((s, i) => s - fromU[i]!));
        assert.ok(
          diff < rms(fromA) / 10,
          `${clipKey(clip)}: A-law and µ-law differ (rms ${diff.toFixed(0)})`,
        );
        const wrong = rms(mulaw.decode(a).map((s, i) => s - fromA[i]!));
        assert.ok(wrong > diff * 5, `${clipKey(clip)}: the .alaw file decodes as well as µ-law`);
        const wav = readFileSync(join(out, entry.dir, CLIP_FILES.wav));
        assert.equal(wav.subarray(0, 4).toString('latin1'), 'RIFF');
      }

      const dir = manifest.clips[clipKey(few[0]!)]!.dir;
      const madeAt = statSync(join(out, dir, CLIP_FILES.PCMA)).mtimeMs;
      const again = await buildPrompts({ clips: few, outDir: out });
      assert.deepEqual([again.made, again.cached], [0, few.length]);
      assert.equal(statSync(join(out, dir, CLIP_FILES.PCMA)).mtimeMs, madeAt);

      const library = PromptLibrary.load(first.manifestPath, catalogue);
      const played = library.pieces('queue.position', vars, 'zh', 'PCMA');
      assert.deepEqual(
        played.payloads.map((p) => p.length),
        planPrompt(catalogue, 'queue.position', vars, 'zh').map(
          (c) => readFileSync(join(out, manifest.clips[clipKey(c)]!.dir, CLIP_FILES.PCMA)).length,
        ),
      );
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  },
);
