/**
 * The operator's tool for agent phones' SIP credentials (docs/sip.md, "Agent phones:
 * registration and digest"): prints the HA1 of an extension's password, which is what the
 * site stores; the password itself is stored nowhere.
 *
 *   npm run -s sip-ha1 -- --extension 1001 --realm chongqing.cc.example < 1001-password.txt
 *   npm run -s sip-ha1 -- --extension 1001 --realm chongqing.cc.example   (asks, unechoed)
 *
 * Exit status: 0 printed, 1 refused (a password out of the rule, an unreadable file), 2 bad
 * usage. The password never appears in the output.
 */
import { readFileSync } from 'node:fs';
import { firstLine } from './set-password-args.js';
import { checkSipPassword, parseSipHa1Args, SIP_HA1_USAGE, sipHa1Lines } from './sip-ha1-args.js';

async function readPipe(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** One line typed at the terminal, with echo off (raw mode): not shown, not in the scrollback. */
function readUnechoed(prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(prompt);
    stdin.setRawMode(true);
    stdin.setEncoding('utf8');
    let line = '';
    const done = (error?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (error) reject(error);
      else resolve(line);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003' || ch === '\u0004') return done(new Error('cancelled'));
        if (ch === '\u007f' || ch === '\b') line = line.slice(0, -1);
        else line += ch;
      }
    };
    stdin.on('data', onData);
    stdin.resume();
  });
}

async function main(): Promise<number> {
  let args;
  try {
    args = parseSipHa1Args(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`sip-ha1: ${(e as Error).message}\n${SIP_HA1_USAGE}\n`);
    return 2;
  }
  const password = args.passwordFile
    ? firstLine(readFileSync(args.passwordFile, 'utf8'), '--password-file')
    : process.stdin.isTTY
      ? await readUnechoed(`password of ${args.extension}: `)
      : firstLine(await readPipe(), 'stdin');
  checkSipPassword(password, args.passwordFile ? '--password-file' : 'stdin');
  process.stdout.write(sipHa1Lines(args, password));
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`sip-ha1: ${(e as Error).message}\n`);
    process.exit(1);
  },
);
