/**
 * The site's engine starts in its worker and plays a prompt from the site's prompt library
 * (a small build written here) to a raw UDP far end.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { waitFor } from '../../test/support/wait.js';
import { createLogger } from '../../shared/log.js';
import { RtpPeer, audioTo } from '../../shared/media/engine/testing.js';
import { loadPromptCatalogueFile } from '../ivr/flow.js';
import { PROMPTS_FILE } from '../ivr/test-support.js';
import { startMediaEngine } from './media-engine.js';
import { CLIP_FILES, MANIFEST_FILE, type ManifestClip } from './prompt-manifest.js';
import { PromptLibrary } from './prompt-library.js';
import { clipKey, planPrompt } from './prompt-pieces.js';

const root = mkdtempSync(join(tmpdir(), 'site-media-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const catalogue = loadPromptCatalogueFile(PROMPTS_FILE);

test('a queue announcement from the prompt library reaches the far end, clip after clip', async () => {
  const clips: Record<string, ManifestClip> = {};
  planPrompt(catalogue, 'queue.position', { position: '2' }, 'zh').forEach((c, i) => {
    const dir = String(i).padStart(16, 'b');
    mkdirSync(join(root, dir));
    writeFileSync(join(root, dir, CLIP_FILES.PCMA), Buffer.alloc(160, 0x10 + i));
    writeFileSync(join(root, dir, CLIP_FILES.PCMU), Buffer.alloc(160, 0x90 + i));
    clips[clipKey(c)] = { dir, text: c.text, voice: 'cmn', durationMs: 20 };
  });
  writeFileSync(
    join(root, MANIFEST_FILE),
    JSON.stringify({ version: 1, sampleRate: 8000, tools: 't', clips }),
  );
  const lib = PromptLibrary.load(join(root, MANIFEST_FILE), catalogue);

  const engine = await startMediaEngine(
    { host: '127.0.0.1', portMin: 44000, portMax: 44099, rtpTimeoutMs: 30_000 },
    createLogger({}, { level: 'error' }),
  );
  const far = await RtpPeer.open();
  try {
    const ep = await engine.open();
    await engine.setRemote(ep.endpointId, audioTo(far, 'PCMU', { payloadType: 0 }));
    const pieces = lib.files('queue.position', { position: '2' }, 'zh', 'PCMU');
    expect(await engine.play(ep.endpointId, pieces)).toEqual({ outcome: 'done' });
    await waitFor('three packets', () => far.heard.length >= 3);
    expect(far.heard.map((p) => p.payload[0])).toEqual([0x90, 0x91, 0x92]);
  } finally {
    far.close();
    await engine.stop();
  }
});
