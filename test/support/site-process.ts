/**
 * `site-node/main.ts` as its own process, for the tests that kill it (docs/operations.md: the
 * site prints one `{"event":"ready",...}` line on stdout when it accepts calls, and logs JSON
 * lines on stderr). Resolves once the ready line is out, with the line parsed; keeps every
 * stderr line so a test can read what the site logged, up to its death.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import assert from 'node:assert/strict';

const ROOT = new URL('../..', import.meta.url).pathname;

export interface SiteProcess {
  child: ChildProcess;
  /** The ready line's fields (ctiPort, sip...). */
  ready: Record<string, unknown>;
  /** The exit code; null when a signal ended it (kill -9). */
  exited: Promise<number | null>;
  /** Every stderr line so far (the site's log), in order. */
  stderr: string[];
  /** Resolves once stderr is read to its end (after the process died, every line is in). */
  stderrClosed: Promise<void>;
}

/** `node --import tsx site-node/main.ts ...args`; throws (with the log's tail) if it never gets ready. */
export async function startSiteProcess(
  args: string[],
  o: { env?: Record<string, string>; readyWithinMs?: number } = {},
): Promise<SiteProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'site-node/main.ts', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LOG_LEVEL: 'warn', ...o.env },
  });
  const stderr: string[] = [];
  const errLines = createInterface({ input: child.stderr! });
  errLines.on('line', (l) => stderr.push(l));
  const stderrClosed = new Promise<void>((resolve) => errLines.once('close', () => resolve()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const lines = createInterface({ input: child.stdout! });
  const ready = await new Promise<Record<string, unknown> | undefined>((resolve) => {
    const timer = setTimeout(() => resolve(undefined), o.readyWithinMs ?? 60_000);
    lines.on('line', (l) => {
      if (l.includes('"event":"ready"')) {
        clearTimeout(timer);
        resolve(JSON.parse(l) as Record<string, unknown>);
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      resolve(undefined);
    });
  });
  if (!ready) child.kill('SIGKILL');
  assert.ok(ready, `site did not become ready:\n${stderr.slice(-20).join('\n')}`);
  return { child, ready, exited, stderr, stderrClosed };
}
