/**
 * The media engine as `npm run build` leaves it: compiled to JavaScript, its worker started
 * from media-worker.js without tsx (docs/sip.md "Media engine"). The engine's folder and what
 * it imports are compiled with the project's own tsconfig into a scratch folder under .cache/
 * (inside the tree, so that node_modules resolves), then a plain `node` process plays a clip
 * to a UDP socket of this test. And the same from source under tsx (`npm run` scripts).
 */
import { execFileSync, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, test } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
mkdirSync(join(ROOT, '.cache'), { recursive: true });
const out = mkdtempSync(join(ROOT, '.cache', 'media-built-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

/** Runs `script` (which plays a 320-byte clip to the far end and prints the outcome) with `argv`. */
async function playsWith(
  argv: (file: string) => string[],
  script: (farPort: number, clip: string) => string,
  ext: string,
) {
  const clip = join(out, 'clip.alaw');
  writeFileSync(clip, Buffer.alloc(320, 0x2a));
  const far = dgram.createSocket('udp4');
  await new Promise<void>((r) => far.bind(0, '127.0.0.1', r));
  const heard: Buffer[] = [];
  far.on('message', (m) => heard.push(m));
  const file = join(out, `play.${ext}`);
  writeFileSync(file, script(far.address().port, clip));
  const [cmd, ...args] = argv(file);
  const child = spawn(cmd!, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  far.close();
  expect(code).toBe(0);
  expect(JSON.parse(stdout)).toEqual({ outcome: 'done' });
  expect(heard).toHaveLength(2);
  expect(heard.every((m) => m.subarray(12).every((b) => b === 0x2a))).toBe(true);
}

const playScript =
  (engineModule: string, logModule: string, port: number) => (farPort: number, clip: string) => `
    const { startMediaEngine } = await import(${JSON.stringify(engineModule)});
    const { silentLogger } = await import(${JSON.stringify(logModule)});
    const e = await startMediaEngine({ host: '127.0.0.1', portMin: ${port}, portMax: ${port + 99}, rtpTimeoutMs: 30000 }, silentLogger);
    const ep = await e.open();
    await e.setRemote(ep.endpointId, { remoteAddress: '127.0.0.1', remotePort: ${farPort}, codec: 'PCMA',
      payloadType: 8, telephoneEventPayloadType: 101, direction: 'sendrecv', heldByFarEnd: false, remotePtimeMs: null });
    console.log(JSON.stringify(await e.play(ep.endpointId, [{ file: ${JSON.stringify(clip)}, codec: 'PCMA' }])));
    await e.stop();`;

test('the compiled engine starts its compiled worker and plays', async () => {
  writeFileSync(
    join(out, 'tsconfig.json'),
    JSON.stringify({
      extends: join(ROOT, 'tsconfig.json'),
      compilerOptions: { outDir: join(out, 'dist'), rootDir: ROOT, sourceMap: false },
      include: [],
      files: [
        join(ROOT, 'site-node/telephony/media-engine.ts'),
        join(ROOT, 'shared/media/engine/media-worker.ts'),
      ],
    }),
  );
  execFileSync(join(ROOT, 'node_modules/.bin/tsc'), ['-p', join(out, 'tsconfig.json')], { stdio: 'inherit' });
  await playsWith(
    (file) => [process.execPath, file],
    playScript(join(out, 'dist/site-node/telephony/media-engine.js'), join(out, 'dist/shared/log.js'), 46000),
    'mjs',
  );
});

test('from source under tsx, as the site runs in production, the worker loads its TypeScript', async () => {
  await playsWith(
    (file) => [join(ROOT, 'node_modules/.bin/tsx'), file],
    playScript(join(ROOT, 'site-node/telephony/media-engine.ts'), join(ROOT, 'shared/log.ts'), 46200),
    'ts',
  );
});
