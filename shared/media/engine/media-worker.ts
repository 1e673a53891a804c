/**
 * The media worker's entry (docs/sip.md "Media engine"): one LocalMediaEngine owning the
 * sockets and the tick, driven by messages from worker-engine.ts. A message it cannot read is
 * answered with an error (or logged, when it has no id to answer), never a crash.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { DomainError, invalidArgument } from '../../errors.js';
import { createLogger } from '../../log.js';
import { LocalMediaEngine } from './engine.js';
import type { HoldOptions, PromptPiece } from './port.js';
import type { CallMethod, FromWorker, ToWorker, WireError, WireHold, WorkerInit } from './worker-protocol.js';

const port = parentPort;
if (!port) throw new Error('media-worker.ts runs as a worker thread (worker-engine.ts starts it)');
const log = createLogger({ component: 'media-engine' });
const post = (m: FromWorker): void => port.postMessage(m);

const wireError = (e: unknown): WireError =>
  e instanceof DomainError
    ? { kind: e.kind, message: e.message, ...(e.field === undefined ? {} : { field: e.field }) }
    : { kind: 'internal', message: e instanceof Error ? e.message : String(e) };

/** Call 0 is the start: a config the engine refuses is answered as any refused call, then the worker ends. */
function startEngine(): LocalMediaEngine | null {
  try {
    return new LocalMediaEngine((workerData as WorkerInit).config, log);
  } catch (e) {
    post({ kind: 'result', id: 0, ok: false, error: wireError(e) });
    return null;
  }
}
const started = startEngine();
if (!started) process.exit(1);
const engine = started;
engine.onEvent((event) => post({ kind: 'event', event }));

let announceIds = 0;
const announcing = new Map<
  number,
  { resolve: (p: readonly PromptPiece[]) => void; reject: (e: Error) => void }
>();

function askAnnouncement(endpointId: string, holdId: number): Promise<readonly PromptPiece[]> {
  const id = ++announceIds;
  return new Promise((resolve, reject) => {
    announcing.set(id, { resolve, reject });
    post({ kind: 'announce-due', id, endpointId, holdId });
  });
}

function holdOptions(endpointId: string, w: WireHold): HoldOptions {
  if (typeof w !== 'object' || w === null) throw invalidArgument('hold', 'must be hold options');
  const a = w.announce;
  return a === undefined
    ? { music: w.music }
    : {
        music: w.music,
        announce: { everyMs: a.everyMs, pieces: () => askAnnouncement(endpointId, a.holdId) },
      };
}

const str = (v: unknown): string => v as string;

function call(method: CallMethod, args: unknown[]): Promise<unknown> | unknown {
  const [a, b, c] = args;
  switch (method) {
    case 'open':
      return engine.open();
    case 'setRemote':
      return engine.setRemote(str(a), b as never);
    case 'play':
      return engine.play(str(a), b as PromptPiece[], c as never);
    case 'hold':
      return engine.hold(str(a), holdOptions(str(a), b as WireHold));
    case 'bridge':
      return engine.bridge(str(a), str(b));
    case 'unbridge':
      return engine.unbridge(str(a));
    case 'record':
      return engine.record(a as string[], str(b));
    case 'stopRecording':
      return engine.stopRecording(str(a));
    case 'close':
      return engine.close(str(a));
    case 'stop':
      return engine.stop();
    case 'stats':
      return engine.stats();
    default:
      throw invalidArgument('method', `no media engine method ${JSON.stringify(method)}`);
  }
}

port.on('message', (m: ToWorker | null) => {
  if (typeof m !== 'object' || m === null) {
    log.warn('media worker: a message that is not an object dropped', { type: typeof m });
  } else if (m.kind === 'call') {
    void (async () => {
      try {
        post({
          kind: 'result',
          id: m.id,
          ok: true,
          value: await call(m.method, Array.isArray(m.args) ? m.args : []),
        });
      } catch (e) {
        post({ kind: 'result', id: m.id, ok: false, error: wireError(e) });
      }
    })();
  } else if (m.kind === 'announce-pieces' || m.kind === 'announce-failed') {
    const waiting = announcing.get(m.id);
    announcing.delete(m.id);
    if (!waiting) return;
    if (m.kind === 'announce-pieces') waiting.resolve(m.pieces);
    else waiting.reject(new Error(m.message));
  } else {
    log.warn('media worker: unknown message dropped', { kind: String((m as { kind?: unknown }).kind) });
  }
});
post({ kind: 'result', id: 0, ok: true, value: null });
