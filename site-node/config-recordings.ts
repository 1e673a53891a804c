/**
 * The site config's `recordings:` section (docs/operations.md "Call recordings"): the folder the
 * site writes its call recordings to, one WAV per call named by its call id (docs/sip.md "Call
 * recording"). Relative to the config file. Checked when the config is loaded, so that a site
 * whose recordings could not be written never starts: the folder must be a folder this process
 * can write, or one it can create (it is created at start, `ensureRecordingsDir`).
 */
import { accessSync, constants, mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { invalidArgument } from '../shared/errors.js';

export const recordingsSectionSchema = z
  .object({
    /** Where the WAVs go (created at start if missing). */
    dir: z.string().min(1),
  })
  .strict();

export type RecordingsSectionInput = z.infer<typeof recordingsSectionSchema>;

export interface SiteRecordingsConfig {
  /** Absolute. */
  dir: string;
  /** The field that named it, for errors at start (`site.recordings.dir`). */
  field: string;
}

/** Compiles the section, adding a problem naming `<at>.dir` when the folder cannot be used. */
export function compileRecordingsSection(
  raw: RecordingsSectionInput,
  ctx: { at: string; baseDir: string },
  problems: string[],
): SiteRecordingsConfig {
  const field = `${ctx.at}.dir`;
  const dir = resolve(ctx.baseDir, raw.dir);
  const why = unusableDir(dir);
  if (why) problems.push(`${field}: ${why}`);
  return { dir, field };
}

/** Why `dir` cannot hold recordings, or undefined when it can (now, or once created). */
export function unusableDir(dir: string): string | undefined {
  let at = dir;
  // The nearest part of the path that exists decides: the folder itself, or where it is created.
  for (;;) {
    let isDir: boolean;
    try {
      isDir = statSync(at).isDirectory();
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // ENOTDIR: a part above is a file, which the walk up finds and names.
      if ((code !== 'ENOENT' && code !== 'ENOTDIR') || dirname(at) === at)
        return `${at} cannot be read (${code ?? String(e)})`;
      at = dirname(at);
      continue;
    }
    const what = at === dir ? dir : `${dir} cannot be created: ${at}`;
    if (!isDir) return `${what} is not a directory`;
    try {
      accessSync(at, constants.W_OK | constants.X_OK);
    } catch {
      return `${what} is not writable by this process`;
    }
    return undefined;
  }
}

/** Creates the folder at start (and checks it again: it may have changed since the load). */
export function ensureRecordingsDir(r: SiteRecordingsConfig): string {
  try {
    mkdirSync(r.dir, { recursive: true });
  } catch (e) {
    throw invalidArgument(
      r.field,
      `${r.dir} cannot be created (${(e as NodeJS.ErrnoException).code ?? String(e)})`,
    );
  }
  const why = unusableDir(r.dir);
  if (why) throw invalidArgument(r.field, why);
  return r.dir;
}
