/**
 * What only the worker has: it dies, and the site is told; it shrugs off messages it cannot
 * read. (Everything the engine does is tested through both kinds in engine.test.ts.)
 */
import { afterEach, expect, test } from 'vitest';
import { waitFor } from '../../../test/support/wait.js';
import { isDomainError } from '../../errors.js';
import { createLogger } from '../../log.js';
import type { MediaEvent } from './port.js';
import { channelThread } from './testing.js';
import { WorkerMediaEngine } from './worker-engine.js';

const lines: { msg: string }[] = [];
const log = createLogger({}, { level: 'warn', write: (l) => lines.push(JSON.parse(l) as { msg: string }) });
const config = { host: '127.0.0.1', portMin: 43000, portMax: 43099, rtpTimeoutMs: 30_000 };
const started: WorkerMediaEngine[] = [];

afterEach(async () => {
  for (const e of started.splice(0)) await e.stop();
});

test('a worker that dies is reported once, and every call after is refused unavailable', async () => {
  const engine = await WorkerMediaEngine.start(config, log);
  started.push(engine);
  const events: MediaEvent[] = [];
  engine.onEvent((e) => events.push(e));
  await engine.open();
  // Killed from outside, as the thread's death from an uncaught exception or lack of memory ends too.
  await engine.worker.terminate();
  await waitFor('the failed event', () => events.some((e) => e.kind === 'failed'));
  expect(events.filter((e) => e.kind === 'failed')).toEqual([
    { kind: 'failed', message: 'media worker exited (code 1)' },
  ]);
  expect(lines.map((l) => l.msg)).toContain('media engine lost');
  const refused = await engine.open().catch((e: unknown) => e);
  expect(isDomainError(refused, 'unavailable')).toBe(true);
  expect(String(refused)).toMatch(/media engine is gone/);
  await engine.stop(); // a no-op on a dead engine
});

test('calls in flight when the worker dies are rejected, not left hanging', async () => {
  const engine = await WorkerMediaEngine.start(config, log);
  started.push(engine);
  const opening = engine.open();
  const dying = engine.worker.terminate();
  const r = await opening.then(
    (v) => v,
    (e: unknown) => e,
  );
  await dying;
  // The open may have been answered before the end; if not, it is refused, never pending.
  expect(isDomainError(r, 'unavailable') || (typeof r === 'object' && r !== null && 'endpointId' in r)).toBe(
    true,
  );
});

test('messages the worker cannot read are dropped, and it goes on', async () => {
  const engine = await WorkerMediaEngine.start(config, log);
  started.push(engine);
  engine.worker.postMessage(null as never);
  engine.worker.postMessage({ kind: 'nonsense' } as never);
  engine.worker.postMessage({ kind: 'announce-pieces', id: 12345, pieces: [] });
  const bogus = await (engine as unknown as { call(m: string, a: unknown[]): Promise<unknown> })
    .call('fly', [])
    .catch((e: unknown) => e);
  expect(String(bogus)).toMatch(/no media engine method "fly"/);
  const ep = await engine.open();
  expect(ep.localPort).toBeGreaterThanOrEqual(43000);
  // Arguments that cannot cross to the worker are bad input, refused here.
  const notCloneable = await engine
    .setRemote(ep.endpointId, { f: () => 1 } as never)
    .catch((e: unknown) => e);
  expect(isDomainError(notCloneable, 'invalid-argument')).toBe(true);
  expect(await engine.stats()).toMatchObject({ endpoints: 1 });
});

test('a config the engine refuses fails the start with the reason', async () => {
  const r = await WorkerMediaEngine.start({ ...config, rtpTimeoutMs: -1 }, log).catch((e: unknown) => e);
  expect(isDomainError(r, 'invalid-argument')).toBe(true);
  expect(String(r)).toMatch(/rtpTimeoutMs/);
});

test('a refused call is logged once, on the serving side, naming the method', async () => {
  const served: { msg: string; method?: string; err?: { message: string } }[] = [];
  const serveLog = createLogger({}, { level: 'warn', write: (l) => served.push(JSON.parse(l) as never) });
  const engine = await WorkerMediaEngine.over(channelThread(config, serveLog), log);
  started.push(engine);
  await expect(engine.close('ep-404')).rejects.toThrow(/not found/);
  expect(served.filter((l) => l.msg === 'media engine call refused')).toEqual([
    expect.objectContaining({
      method: 'close',
      err: expect.objectContaining({ message: 'media endpoint "ep-404" not found' }),
    }),
  ]);
});
