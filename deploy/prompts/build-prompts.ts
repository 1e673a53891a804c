/**
 * `npm run prompts`: makes the audio of every IVR prompt (site-node/ivr/prompts.yaml) and of
 * the words variable parts are read with, in Mandarin and English, as G.711 files under a
 * cache folder, with a manifest the site's prompt library reads (docs/sip.md "Prompts").
 *
 * Each clip sits in a folder named by the hash of its text, voice, the tools' versions and the
 * pipeline, so a clip whose text did not change is not made again, and a manifest written
 * after an edit never points at audio of the old text. A clip is made in a scratch folder and
 * renamed into place, so an interrupted build leaves no half-made clip to be taken as cached.
 *
 *   npm run prompts [-- --out DIR] [-- --prompts FILE]
 *   defaults: .cache/prompts, site-node/ivr/prompts.yaml
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadPromptCatalogueFile } from '../../site-node/ivr/flow.js';
import {
  CLIP_FILES,
  MANIFEST_FILE,
  type ManifestClip,
  type PromptManifest,
  SAMPLE_RATE,
} from '../../site-node/telephony/prompt-manifest.js';
import { type Clip, clipKey, clipsToBuild } from '../../site-node/telephony/prompt-pieces.js';
import { PIPELINE, VOICES, synthesize, toolVersions } from './synthesize.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const DEFAULT_OUT = join(ROOT, '.cache', 'prompts');
export const DEFAULT_PROMPTS = join(ROOT, 'site-node', 'ivr', 'prompts.yaml');

export interface BuildResult {
  manifestPath: string;
  /** Manifest entries; `made` + `cached` count audio folders, one per distinct text and voice. */
  clips: number;
  made: number;
  cached: number;
  ms: number;
}

const complete = (dir: string) => Object.values(CLIP_FILES).every((f) => existsSync(join(dir, f)));

/** Makes the clips given (all a catalogue needs: `clipsToBuild`) and writes the manifest of them. */
export async function buildPrompts(opts: {
  clips: readonly Clip[];
  outDir: string;
  log?: (line: string) => void;
}): Promise<BuildResult> {
  const started = Date.now();
  const log = opts.log ?? (() => {});
  const tools = await toolVersions();
  const clips = opts.clips;
  mkdirSync(opts.outDir, { recursive: true });
  // Clips with the same text and voice (two prompts saying the same) share one folder, made once.
  const jobs = new Map<string, { text: string; voice: string }>();
  const hashOf = new Map<string, string>();
  for (const clip of clips) {
    const voice = VOICES[clip.lang];
    const hash = createHash('sha256')
      .update(JSON.stringify([clip.text, voice, tools, PIPELINE]))
      .digest('hex')
      .slice(0, 24);
    hashOf.set(clipKey(clip), hash);
    jobs.set(hash, { text: clip.text, voice });
  }
  const todo = [...jobs];
  let made = 0;
  let cached = 0;
  let next = 0;
  const every = Math.max(1, Math.ceil(todo.length / 10));
  const worker = async () => {
    for (let i = next++; i < todo.length; i = next++) {
      const [hash, { text, voice }] = todo[i]!;
      const dir = join(opts.outDir, hash);
      if (complete(dir)) cached++;
      else {
        const scratch = join(opts.outDir, `.making-${hash}-${process.pid}`);
        rmSync(scratch, { recursive: true, force: true });
        mkdirSync(scratch);
        await synthesize(text, voice, scratch);
        rmSync(join(scratch, 'espeak.wav'));
        rmSync(dir, { recursive: true, force: true });
        renameSync(scratch, dir);
        made++;
      }
      const done = made + cached;
      if (done % every === 0 || done === todo.length)
        log(`prompts: ${done}/${todo.length} recordings ready (${made} made, ${cached} cached)`);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, availableParallelism()) }, worker));
  const entry = (key: string, text: string, voice: string): ManifestClip => {
    const dir = hashOf.get(key)!;
    const bytes = statSync(join(opts.outDir, dir, CLIP_FILES.PCMA)).size;
    return { dir, text, voice, durationMs: Math.round((bytes * 1000) / SAMPLE_RATE) };
  };
  const manifest: PromptManifest = {
    version: 1,
    sampleRate: SAMPLE_RATE,
    tools,
    clips: Object.fromEntries(clips.map((c) => [clipKey(c), entry(clipKey(c), c.text, VOICES[c.lang])])),
  };
  const manifestPath = join(opts.outDir, MANIFEST_FILE);
  writeFileSync(`${manifestPath}.tmp`, `${JSON.stringify(manifest, null, 1)}\n`);
  renameSync(`${manifestPath}.tmp`, manifestPath);
  return { manifestPath, clips: clips.length, made, cached, ms: Date.now() - started };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { out: { type: 'string' }, prompts: { type: 'string' } } });
  const promptsFile = resolve(values.prompts ?? DEFAULT_PROMPTS);
  const r = await buildPrompts({
    clips: clipsToBuild(loadPromptCatalogueFile(promptsFile)),
    outDir: resolve(values.out ?? DEFAULT_OUT),
    log: (line) => console.log(line),
  });
  console.log(
    `prompts: ${r.clips} clips from ${r.made + r.cached} recordings (${r.made} made, ${r.cached} cached) in ${(r.ms / 1000).toFixed(1)} s; manifest ${r.manifestPath}`,
  );
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e: unknown) => {
    console.error(`prompts: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  });
}
