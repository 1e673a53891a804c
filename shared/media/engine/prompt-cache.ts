/**
 * Prompt audio for the engine: each clip file read once and kept per codec (a clip in the
 * other codec is converted once, not per packet). The whole prompt build is a few MB.
 */
import { readFile } from 'node:fs/promises';
import { failedPrecondition, invalidArgument } from '../../errors.js';
import type { G711Codec } from '../sdp.js';
import type { PromptPiece } from './port.js';
import { transcoded } from './transcode.js';

export class PromptCache {
  private readonly clips = new Map<string, Promise<Uint8Array>>();

  /** The pieces' payloads in `codec`, in order; a missing file is a failed-precondition naming it. */
  async load(pieces: readonly PromptPiece[], codec: G711Codec): Promise<Uint8Array[]> {
    checkPieces(pieces);
    return Promise.all(pieces.map((p) => this.clip(p, codec)));
  }

  private clip(p: PromptPiece, codec: G711Codec): Promise<Uint8Array> {
    const key = `${codec}:${p.codec}:${p.file}`;
    let c = this.clips.get(key);
    if (!c) {
      c = readFile(p.file).then(
        (raw) => transcoded(raw, p.codec, codec),
        (e: unknown) => {
          throw failedPrecondition(`prompt file ${p.file} cannot be read (run npm run prompts)`, e);
        },
      );
      // A failed read is not kept: the file may be there next time (a build finishing).
      c.catch(() => this.clips.delete(key));
      this.clips.set(key, c);
    }
    return c;
  }
}

function checkPieces(pieces: readonly PromptPiece[]): void {
  if (!Array.isArray(pieces)) throw invalidArgument('pieces', 'must be a list of prompt pieces');
  pieces.forEach((p, i) => {
    if (typeof p !== 'object' || p === null || typeof p.file !== 'string' || p.file === '') {
      throw invalidArgument(`pieces[${i}].file`, 'must be a file path');
    }
    if (p.codec !== 'PCMA' && p.codec !== 'PCMU') {
      throw invalidArgument(`pieces[${i}].codec`, `must be PCMA or PCMU, got ${String(p.codec)}`);
    }
  });
}
