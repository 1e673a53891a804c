/**
 * Where the site's voice adapter gets prompt audio (docs/sip.md "Prompts"): the manifest the
 * build wrote (`npm run prompts`) and the catalogue the flows name prompts from. `pieces`
 * plans a prompt with its vars (prompt-pieces.ts) and returns the G.711 payloads to send, one
 * buffer per clip, in order. Files are read once and kept: the whole build is a few MB.
 *
 * A prompt the build lacks, or one whose text changed since the build, is a `failed-precondition`
 * naming the prompt and saying to run `npm run prompts`: the site must not play stale words.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DomainError, failedPrecondition } from '../../shared/errors.js';
import type { PromptCatalogue } from '../ivr/flow.js';
import {
  CLIP_FILES,
  type ManifestClip,
  type PromptManifest,
  parsePromptManifest,
} from './prompt-manifest.js';
import { type PromptLanguage, clipKey, planPrompt } from './prompt-pieces.js';

export type G711 = 'PCMA' | 'PCMU';

export interface PromptAudio {
  /** One G.711 payload per clip, in play order (8000 bytes a second). */
  payloads: Buffer[];
  durationMs: number;
}

export class PromptLibrary {
  private readonly audio = new Map<string, Buffer>();

  private constructor(
    private readonly manifest: PromptManifest,
    private readonly folder: string,
    private readonly catalogue: PromptCatalogue,
    private readonly manifestPath: string,
  ) {}

  /** Throws `failed-precondition` when there is no build at `manifestPath`. */
  static load(manifestPath: string, catalogue: PromptCatalogue): PromptLibrary {
    let raw: string;
    try {
      raw = readFileSync(manifestPath, 'utf8');
    } catch (e) {
      throw failedPrecondition(`no prompt build at ${manifestPath} (run npm run prompts)`, e);
    }
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch (e) {
      throw new DomainError('invalid-argument', `prompt manifest ${manifestPath} is not JSON`, { cause: e });
    }
    return new PromptLibrary(
      parsePromptManifest(json, manifestPath),
      dirname(manifestPath),
      catalogue,
      manifestPath,
    );
  }

  pieces(
    promptId: string,
    vars: Readonly<Record<string, string>>,
    lang: PromptLanguage,
    codec: G711,
  ): PromptAudio {
    let durationMs = 0;
    const payloads = this.clips(promptId, vars, lang, codec).map(({ file, entry }) => {
      durationMs += entry.durationMs;
      let buf = this.audio.get(file);
      if (!buf) {
        try {
          buf = readFileSync(file);
        } catch (e) {
          throw failedPrecondition(
            `prompt ${promptId} (${lang}): ${file} is missing (run npm run prompts)`,
            e,
          );
        }
        this.audio.set(file, buf);
      }
      return buf;
    });
    return { payloads, durationMs };
  }

  /**
   * The same prompt as the clip files to play, for the media engine (docs/sip.md "Media
   * engine"), which reads and keeps them in its own thread. Refused as `pieces` refuses.
   */
  files(
    promptId: string,
    vars: Readonly<Record<string, string>>,
    lang: PromptLanguage,
    codec: G711,
  ): { file: string; codec: G711 }[] {
    return this.clips(promptId, vars, lang, codec).map(({ file }) => ({ file, codec }));
  }

  private clips(
    promptId: string,
    vars: Readonly<Record<string, string>>,
    lang: PromptLanguage,
    codec: G711,
  ): { file: string; entry: ManifestClip }[] {
    return planPrompt(this.catalogue, promptId, vars, lang).map((clip) => {
      const entry = this.manifest.clips[clipKey(clip)];
      if (!entry)
        throw failedPrecondition(
          `prompt ${promptId} (${lang}): ${clipKey(clip)} is missing from the prompt build ${this.manifestPath} (run npm run prompts)`,
        );
      if (entry.text !== clip.text)
        throw failedPrecondition(
          `prompt ${promptId} (${lang}): ${clipKey(clip)} changed since the prompt build ${this.manifestPath} (run npm run prompts)`,
        );
      return { file: join(this.folder, entry.dir, CLIP_FILES[codec]), entry };
    });
  }
}
