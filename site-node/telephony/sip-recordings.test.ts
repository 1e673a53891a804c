/**
 * The SIP port's recordings on the in-thread media engine: the file name, a recording saved
 * only once its file is written (its size read from the disk), one that cannot be written
 * rejected with no path, a start without a folder refused, and a leg that ended while the
 * recording started.
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isDomainError } from '../../shared/errors.js';
import { silentLogger } from '../../shared/log.js';
import { LocalMediaEngine } from '../../shared/media/engine/engine.js';
import { tempDir } from '../../shared/media/engine/testing.js';
import type { CallLeg } from './media-port.js';
import { recordingFileName, SipRecordings } from './sip-recordings.js';

const leg = (callId: string, legId = 'sip-1'): CallLeg => ({
  legId,
  callId,
  role: 'caller',
  endpoint: { transport: 'rtp', host: '127.0.0.1', port: 0, codec: 'PCMA' },
});

describe('SIP call recordings', () => {
  let engine: LocalMediaEngine;
  let dir: string;
  beforeEach(() => {
    engine = new LocalMediaEngine(
      { host: '127.0.0.1', portMin: 45000, portMax: 45099, rtpTimeoutMs: 30_000 },
      silentLogger,
    );
    dir = tempDir();
  });
  afterEach(async () => {
    await engine.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a file per call named by its id; ids that could leave the folder are refused', () => {
    expect(recordingFileName('chongqing-01M8W58MC6AN7KBWJAM5DPDN1F')).toBe(
      'chongqing-01M8W58MC6AN7KBWJAM5DPDN1F.wav',
    );
    for (const bad of ['../etc/passwd', 'a/b', '', '.hidden', 'x'.repeat(200), 'a b'])
      expect(() => recordingFileName(bad)).toThrow(/callId/);
  });

  test("saved once written, with the file's size; a second start is the first", async () => {
    const recs = new SipRecordings(engine, dir, silentLogger);
    const ep = await engine.open();
    const caller = await engine.open();
    const r = await recs.start(leg('cq-1'), caller.endpointId, () => true);
    expect(await recs.start(leg('cq-1'), caller.endpointId, () => true)).toBe(r);
    await recs.agentBridged('sip-1', ep.endpointId);
    // Not saved before the caller's leg ends.
    let settled = false;
    void r.saved.finally(() => (settled = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);
    recs.callerEnded('sip-1');
    const saved = await r.saved;
    expect(saved.path).toBe(join(dir, 'cq-1.wav'));
    expect(saved.bytes).toBe(statSync(saved.path).size);
    expect(saved.bytes).toBeGreaterThan(44);
    expect(recs.running).toBe(0);
  });

  test('a file that cannot be written rejects, naming no saved file; no folder: refused at start', async () => {
    const gone = join(dir, 'gone');
    mkdirSync(gone);
    const recs = new SipRecordings(engine, gone, silentLogger);
    const caller = await engine.open();
    const r = await recs.start(leg('cq-2'), caller.endpointId, () => true);
    rmSync(gone, { recursive: true });
    recs.callerEnded('sip-1');
    await expect(r.saved).rejects.toThrow(/cannot write .*cq-2\.wav/);

    const none = new SipRecordings(engine, undefined, silentLogger);
    await expect(none.start(leg('cq-3'), caller.endpointId, () => true)).rejects.toSatisfy(
      (e: unknown) => isDomainError(e, 'failed-precondition') && /recordings\.dir/.test(e.message),
    );
  });

  test('a caller who left while the recording started: stopped and written at once', async () => {
    const recs = new SipRecordings(engine, dir, silentLogger);
    const caller = await engine.open();
    const r = await recs.start(leg('cq-4'), caller.endpointId, () => false);
    expect((await r.saved).path).toBe(join(dir, 'cq-4.wav'));
    expect(recs.running).toBe(0);
  });

  test('one still open when the engine stops is written by the engine, and its event settles it', async () => {
    const recs = new SipRecordings(engine, dir, silentLogger);
    engine.onEvent((e) => recs.onEngineEvent(e));
    const caller = await engine.open();
    const r = await recs.start(leg('cq-5'), caller.endpointId, () => true);
    await engine.stop();
    expect((await r.saved).path).toBe(join(dir, 'cq-5.wav'));
  });
});
