/**
 * Runs SIPp (Debian package sip-tester) once with a scenario of test/sip/scenarios/ against a
 * peer and resolves with its exit code, stderr and error log when it exits (never a fixed
 * sleep). Minimal on purpose: the call scenarios have their own runner (test/support/sipp.ts).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SCENARIOS = resolve(dirname(fileURLToPath(import.meta.url)), '../sip/scenarios');

export interface SippRunResult {
  readonly code: number | null;
  readonly stderr: string;
  /** SIPp's `-trace_err` log: the unexpected messages, if any. */
  readonly errors: string;
}

/**
 * `sipp -sf <scenario> <remote> -m <calls> -l 1 -p 0 -i 127.0.0.1 -timeout <s> -trace_err`,
 * in a throw-away working directory (SIPp writes its logs there).
 */
export async function runSipp(opts: {
  scenario: string;
  remote: string;
  calls: number;
  transport?: 'u1' | 't1';
  timeoutSec?: number;
}): Promise<SippRunResult> {
  const dir = mkdtempSync(join(tmpdir(), 'sipp-run-'));
  const args = [
    '-sf',
    join(SCENARIOS, opts.scenario),
    opts.remote,
    '-m',
    String(opts.calls),
    '-l',
    '1',
    '-p',
    '0',
    '-i',
    '127.0.0.1',
    '-t',
    opts.transport ?? 'u1',
    '-timeout',
    `${opts.timeoutSec ?? 20}s`,
    '-timeout_error',
    '-trace_err',
    '-nostdin',
  ];
  try {
    const child = spawn(process.env['SIPP_BIN'] ?? 'sipp', args, {
      cwd: dir,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((done, fail) => {
      child.once('error', fail);
      child.once('exit', (c) => done(c));
    });
    const errors = readdirSync(dir)
      .filter((f) => f.endsWith('_errors.log'))
      .map((f) => readFileSync(join(dir, f), 'utf8'))
      .join('');
    return { code, stderr, errors };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
