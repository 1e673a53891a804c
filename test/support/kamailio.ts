/**
 * Starts and stops Kamailio (Debian package kamailio) with test/sip/kamailio/kamailio.cfg: a
 * stateful proxy and registrar on 127.0.0.1, for the SIPp tests and the sip-site bench's
 * reference run (docs/sip.md "Testing with real peers"). It runs in the foreground (`-DD -E`,
 * its workers are its children) with its own runtime directory, 1024 MB of shared memory
 * (`-m 1024`) and a port picked free, retried when someone takes it first. Ready means /proc
 * shows the process bound to its port. Every instance still running when the test process
 * exits is killed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { boundUdpPorts, freeUdpPort } from './sipp.js';

export const KAMAILIO_CFG = resolve(dirname(fileURLToPath(import.meta.url)), '../sip/kamailio/kamailio.cfg');

export interface KamailioOptions {
  /** Where a call to a number nobody registered goes: host:port. */
  target: string;
  /** The one password every phone registers with, and the digest realm. */
  password?: string;
  realm?: string;
  /** UDP worker processes (`-n`); the config says 2. */
  children?: number;
  /** Shared memory, MB (`-m`); 1024 as the bench's brief asks. */
  sharedMemoryMb?: number;
}

export interface Kamailio {
  pid: number;
  port: number;
  /** SIGTERM, then SIGKILL after `graceMs`; removes the runtime directory. */
  stop(graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
  /** What it logged so far (bounded). */
  stderr(): string;
}

const running = new Set<ChildProcess>();
let exitHookSet = false;

export function kamailioBin(): string {
  const bin = process.env['KAMAILIO_BIN'] ?? '/usr/sbin/kamailio';
  if (!existsSync(bin)) {
    throw new Error(
      `Kamailio is not installed at ${bin}: install the Debian package kamailio or set KAMAILIO_BIN`,
    );
  }
  return bin;
}

/** A string for a `-A NAME="value"` define: the config's tokens take no quotes or backslashes. */
function quoted(name: string, v: string): string {
  if (/["\\\n]/.test(v))
    throw new Error(`Kamailio ${name}: no quotes, backslashes or newlines, got ${JSON.stringify(v)}`);
  return `"${v}"`;
}

export async function startKamailio(o: KamailioOptions, attempts = 5): Promise<Kamailio> {
  const bin = kamailioBin();
  if (!/^[\w.-]+:\d+$/.test(o.target))
    throw new Error(`Kamailio target: expected host:port, got ${JSON.stringify(o.target)}`);
  for (let attempt = 1; ; attempt++) {
    const port = await freeUdpPort();
    const dir = mkdtempSync(join(tmpdir(), 'kamailio-'));
    const args = [
      '-f',
      KAMAILIO_CFG,
      '-DD',
      '-E',
      '-m',
      String(o.sharedMemoryMb ?? 1024),
      '-M',
      '16',
      '-l',
      `udp:127.0.0.1:${port}`,
      '-Y',
      dir,
      '-w',
      dir,
      '-A',
      `TARGET_URI=${quoted('target', `sip:${o.target}`)}`,
      '-A',
      `AGENT_PASSWORD=${quoted('password', o.password ?? 'not-a-real-password')}`,
      '-A',
      `REALM=${quoted('realm', o.realm ?? 'test.invalid')}`,
      ...(o.children !== undefined ? ['-n', String(o.children)] : []),
    ];
    const child = spawn(bin, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    running.add(child);
    if (!exitHookSet) {
      exitHookSet = true;
      process.on('exit', () => {
        for (const c of running) c.kill('SIGKILL');
      });
    }
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-64 * 1024);
    });
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => {
      child.once('exit', (code, signal) => {
        running.delete(child);
        exit = { code, signal };
        r(exit);
      });
      child.once('error', (e) => {
        stderr += String(e);
        running.delete(child);
        exit = { code: null, signal: null };
        r(exit);
      });
    });
    // Ready when this very process holds the port (it binds before it forks its workers).
    for (;;) {
      if (exit || child.pid === undefined) break;
      try {
        if (boundUdpPorts(child.pid).includes(port)) break;
      } catch {
        // going away: the next round sees the exit
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    if (!exit && child.pid !== undefined) {
      const pid = child.pid;
      return {
        pid,
        port,
        stderr: () => stderr,
        stop: async (graceMs = 10_000) => {
          if (!exit) {
            child.kill('SIGTERM');
            const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
            await exited;
            clearTimeout(t);
          }
          rmSync(dir, { recursive: true, force: true });
          return { ...(await exited), stderr };
        },
      };
    }
    rmSync(dir, { recursive: true, force: true });
    const inUse = /address already in use|bind/i.test(stderr);
    if (!inUse || attempt >= attempts) {
      const e = await exited;
      throw new Error(
        `Kamailio did not start on udp 127.0.0.1:${port}: exit ${e.code ?? e.signal}\n${stderr.trim().slice(-3000)}`,
      );
    }
  }
}
