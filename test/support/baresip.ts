/**
 * baresip (Debian package baresip, 1.0) as one real agent phone: it registers an extension
 * with digest auth, answers every call at once (`answermode=auto`) and sends a 440 Hz tone in
 * PCMA. Its own configuration directory, written here, holds the config, the account and the
 * tone (8 kHz, 16-bit mono WAV: the ausine source only does 48 kHz), and the sndfile module's
 * dumps of each call's audio, sent (`-enc.wav`) and received (`-dec.wav`). Ready means it printed
 * that its account registered; a refused registration is an error with what it printed.
 * docs/sip.md "Testing with real peers".
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeUdpPort } from './sipp.js';

export interface BaresipOptions {
  extension: string;
  /** No spaces, quotes or `;`: the account line would not parse. */
  password: string;
  /** host:port of the registrar (and of the calls' proxy). */
  registrar: string;
  /** Milliseconds to wait for the registration; default 15 s. */
  readyWithinMs?: number;
}

export interface Baresip {
  pid: number;
  port: number;
  /** Its configuration directory; `dump-*-dec.wav` there is what it received, decoded. */
  dir: string;
  /** What it printed so far (bounded). */
  output(): string;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
let exitHookSet = false;

export function baresipBin(): string {
  const bin = process.env['BARESIP_BIN'] ?? '/usr/bin/baresip';
  if (!existsSync(bin)) {
    throw new Error(
      `baresip is not installed at ${bin}: install the Debian package baresip or set BARESIP_BIN`,
    );
  }
  return bin;
}

/** `seconds` of a 440 Hz tone as an 8 kHz 16-bit mono WAV. */
export function toneWav(seconds: number): Buffer {
  const n = Math.round(8000 * seconds);
  const b = Buffer.alloc(44 + 2 * n);
  b.write('RIFF', 0);
  b.writeUInt32LE(36 + 2 * n, 4);
  b.write('WAVEfmt ', 8);
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20); // PCM
  b.writeUInt16LE(1, 22); // mono
  b.writeUInt32LE(8000, 24);
  b.writeUInt32LE(16000, 28);
  b.writeUInt16LE(2, 32);
  b.writeUInt16LE(16, 34);
  b.write('data', 36);
  b.writeUInt32LE(2 * n, 40);
  for (let i = 0; i < n; i++)
    b.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 8000)), 44 + 2 * i);
  return b;
}

export async function startBaresip(o: BaresipOptions): Promise<Baresip> {
  const bin = baresipBin();
  if (/[\s";<>]/.test(o.password)) throw new Error('baresip password: no spaces, quotes, ";" or "<>"');
  if (!/^\w+$/.test(o.extension))
    throw new Error(`baresip extension: letters and digits, got ${JSON.stringify(o.extension)}`);
  const port = await freeUdpPort();
  const dir = mkdtempSync(join(tmpdir(), 'baresip-'));
  writeFileSync(join(dir, 'tone.wav'), toneWav(60));
  writeFileSync(
    join(dir, 'config'),
    [
      'poll_method epoll',
      `sip_listen 127.0.0.1:${port}`,
      // Its SDP names the address it sends from (loopback), not the machine's first interface:
      // the site takes RTP only from the host a far end's SDP names (docs/sip.md "Latching").
      'net_interface 127.0.0.1',
      'sip_trans_def udp',
      `audio_source aufile,${join(dir, 'tone.wav')}`,
      `audio_player aufile,${join(dir, 'heard.wav')}`,
      'audio_alert aufile,/dev/null',
      'module_path /usr/lib/baresip/modules',
      'module stdio.so',
      'module g711.so',
      'module aufile.so',
      // Dumps what it sends and what it receives (decoded) as WAVs in its directory: aufile
      // plays nothing in this version (no audio player of its own), so this is how a test
      // hears what reached the phone.
      'module sndfile.so',
      `snd_path ${dir}`,
      'module_app account.so',
      'module_app menu.so',
      '',
    ].join('\n'),
  );
  // The account's own host is the registrar: nothing to resolve, no outbound proxy needed.
  writeFileSync(
    join(dir, 'accounts'),
    `<sip:${o.extension}@${o.registrar}>;auth_pass=${o.password};regint=300;answermode=auto;audio_codecs=PCMA\n`,
  );
  const child = spawn(bin, ['-f', dir], { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] });
  running.add(child);
  if (!exitHookSet) {
    exitHookSet = true;
    process.on('exit', () => {
      for (const c of running) c.kill('SIGKILL');
    });
  }
  let out = '';
  const onData = (d: Buffer): void => {
    out = (out + d.toString()).slice(-64 * 1024);
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<void>((r) => {
    child.once('exit', () => {
      running.delete(child);
      r();
    });
    child.once('error', (e) => {
      out += String(e);
      running.delete(child);
      r();
    });
  });
  const stop = async (): Promise<void> => {
    if (running.has(child)) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + (o.readyWithinMs ?? 15_000);
  for (;;) {
    if (/registered successfully/.test(out)) break;
    const refused = /reg: .*: (\d{3} [^\n]*)/.exec(out);
    if (refused || !running.has(child) || Date.now() > deadline) {
      await stop();
      throw new Error(
        `baresip did not register ${o.extension} at ${o.registrar}: ${
          refused ? refused[1] : running.has(child) ? 'no answer in time' : 'it exited'
        }\n${out.slice(-2000)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { pid: child.pid!, port, dir, output: () => out, stop };
}
