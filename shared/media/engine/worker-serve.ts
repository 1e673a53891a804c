/**
 * The worker's side of the media engine (docs/sip.md "Media engine"): one LocalMediaEngine
 * driven by the messages of worker-engine.ts over a port. media-worker.ts serves it on the
 * worker's parent port; a test may serve it on one end of a MessageChannel in its own thread.
 * A message it cannot read is answered with an error (or logged, when it has no id to
 * answer), never a crash.
 */
import { DomainError, invalidArgument } from '../../errors.js';
import type { Logger } from '../../log.js';
import { LocalMediaEngine } from './engine.js';
import type { HoldOptions, MediaEngineConfig, PromptPiece } from './port.js';
import type { CallMethod, FromWorker, ToWorker, WireError, WireHold } from './worker-protocol.js';

export interface ServedPort {
  postMessage(m: FromWorker): void;
  on(event: 'message', listener: (m: ToWorker | null) => void): unknown;
}

const wireError = (e: unknown): WireError =>
  e instanceof DomainError
    ? { kind: e.kind, message: e.message, ...(e.field === undefined ? {} : { field: e.field }) }
    : { kind: 'internal', message: e instanceof Error ? e.message : String(e) };

/**
 * Starts the engine and answers call 0 (the start) on `port`: with null, or with the reason a
 * config was refused, in which case nothing is served and false is returned (the worker ends).
 */
export function serveMediaEngine(port: ServedPort, config: MediaEngineConfig, log: Logger): boolean {
  const post = (m: FromWorker): void => port.postMessage(m);
  let engine: LocalMediaEngine;
  try {
    engine = new LocalMediaEngine(config, log);
  } catch (e) {
    post({ kind: 'result', id: 0, ok: false, error: wireError(e) });
    return false;
  }
  engine.onEvent((event) => post({ kind: 'event', event }));

  let announceIds = 0;
  const announcing = new Map<
    number,
    { resolve: (p: readonly PromptPiece[]) => void; reject: (e: Error) => void }
  >();

  const askAnnouncement = (endpointId: string, holdId: number): Promise<readonly PromptPiece[]> => {
    const id = ++announceIds;
    return new Promise((resolve, reject) => {
      announcing.set(id, { resolve, reject });
      post({ kind: 'announce-due', id, endpointId, holdId });
    });
  };

  const holdOptions = (endpointId: string, w: WireHold): HoldOptions => {
    if (typeof w !== 'object' || w === null) throw invalidArgument('hold', 'must be hold options');
    const a = w.announce;
    return a === undefined
      ? { music: w.music }
      : {
          music: w.music,
          announce: { everyMs: a.everyMs, pieces: () => askAnnouncement(endpointId, a.holdId) },
        };
  };

  const str = (v: unknown): string => v as string;
  const call = (method: CallMethod, args: unknown[]): unknown => {
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
      case 'addToRecording':
        return engine.addToRecording(str(a), str(b), c as number);
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
  };

  port.on('message', (m) => {
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
          // The one place a refused call is logged (the proxy only passes the error on).
          log.warn('media engine call refused', { method: String(m.method), err: e });
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
  return true;
}
