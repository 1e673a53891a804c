/**
 * A node program of this repository run as its own process for a benchmark (the hub, an echo
 * server), so its CPU and event loop are its own as they are when deployed. Started with
 * `node --import tsx <script> <args>`; ready when it prints a JSON line with
 * `"event":"ready"` and a `port` on stdout. Its last stderr lines are kept for errors.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { TlsPaths } from '../../shared/grpc/tls.js';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface NodeProcess {
  child: ChildProcess;
  pid: number;
  port: number;
  stderrTail: string[];
  /** SIGTERM, SIGKILL after 15 s; the exit code. Idempotent. */
  stop(): Promise<number | null>;
}

export async function startNodeProcess(
  name: string,
  script: string,
  args: readonly string[],
  o: {
    nodeArgs?: readonly string[];
    env?: Record<string, string>;
    readyWithinMs?: number;
    /** A pipe to the program's stdin (a benchmark that drives it with commands); default none. */
    stdin?: boolean;
  } = {},
): Promise<NodeProcess> {
  const child = spawn(process.execPath, [...(o.nodeArgs ?? []), '--import', 'tsx', script, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...o.env },
    stdio: [o.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  const stderrTail: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (l) => {
    stderrTail.push(l);
    if (stderrTail.length > 20) stderrTail.shift();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const readyWithinMs = o.readyWithinMs ?? 60_000;
  const ready = await new Promise<{ port: number; pid: number }>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${name} did not print its ready line within ${readyWithinMs / 1000} s`)),
      readyWithinMs,
    );
    createInterface({ input: child.stdout! }).on('line', (l) => {
      try {
        const j = JSON.parse(l) as { event?: string; port?: number; pid?: number };
        if (j.event === 'ready' && typeof j.port === 'number') {
          clearTimeout(timer);
          resolve({ port: j.port, pid: j.pid ?? child.pid! });
        }
      } catch {
        // not JSON: a status line
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${String(code)} before ready:\n${stderrTail.join('\n')}`));
    });
  });
  let stopping: Promise<number | null> | undefined;
  return {
    child,
    pid: ready.pid,
    port: ready.port,
    stderrTail,
    stop() {
      stopping ??= (async () => {
        if (child.exitCode !== null) return child.exitCode;
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
        const code = await exited;
        clearTimeout(t);
        return code;
      })();
      return stopping;
    },
  };
}

/** The hub (hub/main.ts) on its config and database. */
export function startHubProcess(configPath: string, databaseUrl: string): Promise<NodeProcess> {
  return startNodeProcess('hub', 'hub/main.ts', ['--config', configPath, '--database', databaseUrl], {
    // Extra node flags for profiling the hub, e.g. BENCH_HUB_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/p'.
    nodeArgs: (process.env.BENCH_HUB_NODE_ARGS ?? '').split(' ').filter((a) => a !== ''),
    env: { LOG_LEVEL: 'warn' },
  });
}

/** A hub config file (hub id `hub`, any free port) in `dir`: the path. */
export function writeHubConfigFile(dir: string, tls: TlsPaths, topologyPath: string): string {
  const configPath = join(dir, 'hub.yaml');
  writeFileSync(
    configPath,
    [
      'hub: { id: hub }',
      "grpc: { host: '127.0.0.1', port: 0 }",
      `tls: { ca: '${tls.caPath}', cert: '${tls.certPath}', key: '${tls.keyPath}' }`,
      'heartbeatIntervalMs: 2s',
      `topology: '${topologyPath}'`,
      '',
    ].join('\n'),
  );
  return configPath;
}
