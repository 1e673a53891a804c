/**
 * Text to G.711 with the Debian tools (docs/sip.md "Prompts"): espeak-ng speaks the text into a
 * WAV (22.05 kHz), sox trims the silence espeak leaves at both ends (clips are strung together
 * at play time, so it would add up between words), keeps a short tail as the gap, and writes
 * 8 kHz mono A-law, µ-law (raw payloads, as RTP carries them) and 16-bit PCM WAV.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CLIP_FILES, SAMPLE_RATE } from '../../site-node/telephony/prompt-manifest.js';
import type { PromptLanguage } from '../../site-node/telephony/prompt-pieces.js';

const run = promisify(execFile);

export const VOICES: Readonly<Record<PromptLanguage, string>> = { zh: 'cmn', en: 'en-us' };
/** Words a minute; a little slower than espeak's 175 for callers on a phone line. */
const SPEED = 150;
/** Changes to the steps below must change this, so cached clips are made again. */
export const PIPELINE = `espeak -s ${SPEED} | sox trim+pad 80ms | 8 kHz a-law,u-law,s16 v1`;

const TRIM = [
  'silence',
  '1',
  '0.02',
  '0.5%',
  'reverse',
  'silence',
  '1',
  '0.02',
  '0.5%',
  'reverse',
  'pad',
  '0',
  '0.08',
];

/** The tools' versions, part of every clip's cache key; throws naming what to install if missing. */
export async function toolVersions(): Promise<string> {
  const version = async (cmd: string, pkg: string) => {
    try {
      const { stdout } = await run(cmd, ['--version']);
      return stdout.trim().split('\n')[0]!;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT')
        throw new Error(`${cmd} is not installed (apt-get install ${pkg}); npm run prompts needs it`, {
          cause: e,
        });
      throw e;
    }
  };
  return `${await version('espeak-ng', 'espeak-ng')} / ${await version('sox', 'sox')}`;
}

/** Writes the clip's three files into `dir` (which must exist). */
export async function synthesize(text: string, voice: string, dir: string): Promise<void> {
  const spoken = join(dir, 'espeak.wav');
  await run('espeak-ng', ['-v', voice, '-s', String(SPEED), '-w', spoken, '--', text]);
  const out = (file: string, encoding: string[]) =>
    run('sox', [spoken, '-r', String(SAMPLE_RATE), '-c', '1', ...encoding, join(dir, file), ...TRIM]);
  await out(CLIP_FILES.PCMA, ['-e', 'a-law', '-t', 'raw']);
  await out(CLIP_FILES.PCMU, ['-e', 'u-law', '-t', 'raw']);
  await out(CLIP_FILES.wav, ['-e', 'signed-integer', '-b', '16', '-t', 'wav']);
}
