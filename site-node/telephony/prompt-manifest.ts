/**
 * The prompt build's manifest (`npm run prompts`, deploy/prompts/build-prompts.ts; docs/sip.md
 * "Prompts"): for each clip (`<lang>/<name>`, prompt-pieces.ts) the folder under the cache that
 * holds its audio, what it says and how long it plays. Written by the build, read by the
 * site's prompt library; one schema here so both agree.
 */
import { z } from 'zod';
import { DomainError } from '../../shared/errors.js';

/** G.711 at 8 kHz: one byte a sample, so 8 bytes a millisecond. */
export const SAMPLE_RATE = 8000;
export const MANIFEST_FILE = 'manifest.json';
/** The files in each clip folder: raw G.711 payloads to send as RTP, and a WAV to listen to. */
export const CLIP_FILES = { PCMA: 'clip.alaw', PCMU: 'clip.ulaw', wav: 'clip.wav' } as const;

const ClipEntry = z.strictObject({
  dir: z.string().regex(/^[0-9a-f]{16,64}$/, 'a content hash'),
  text: z.string(),
  voice: z.string(),
  durationMs: z.number().int().nonnegative(),
});
const Manifest = z.strictObject({
  version: z.literal(1),
  sampleRate: z.literal(SAMPLE_RATE),
  tools: z.string(),
  clips: z.record(z.string(), ClipEntry),
});
export type PromptManifest = z.infer<typeof Manifest>;
export type ManifestClip = z.infer<typeof ClipEntry>;

export function parsePromptManifest(input: unknown, file: string): PromptManifest {
  const r = Manifest.safeParse(input);
  if (!r.success) {
    const problems = r.error.issues.map((i) => `${file} ${i.path.join('.')}: ${i.message}`);
    throw new DomainError(
      'invalid-argument',
      `prompt manifest ${file} is not valid: ${problems.join('; ')}`,
      {
        problems,
      },
    );
  }
  return r.data;
}
