/**
 * The site's side of the media worker (docs/sip.md "Media engine"): the MediaEngine port as a
 * thin proxy that posts each call to the worker (media-worker.ts) and resolves it with the
 * answer. The worker owns the sockets, the tick and the files; nothing here touches a packet.
 *
 * A worker that dies (an exception it did not catch, out of memory, terminated) is reported
 * once as a `failed` event, every call in flight is rejected `unavailable`, and so is every
 * call after: the site must know its media is gone, and stop taking calls.
 *
 * Node 20 does not load TypeScript in a worker by itself, and `--import tsx` in the worker's
 * execArgv is not applied there. Run from source (tsx, vitest) this module is a .ts file: the
 * worker is started from a two-line script that registers tsx's loader in the worker and
 * imports media-worker.ts. Built (`npm run build`), it is a .js file next to media-worker.js,
 * which the worker runs as it is.
 */
import { Worker } from 'node:worker_threads';
import { DomainError, unavailable } from '../../errors.js';
import type { Logger } from '../../log.js';
import type {
  HoldOptions,
  MediaEngine,
  MediaEngineConfig,
  MediaEngineStats,
  MediaEvent,
  OpenedEndpoint,
  PlayOptions,
  PlayOutcome,
  PromptPiece,
  RecordingResult,
} from './port.js';
import type { CallMethod, FromWorker, ToWorker, WireHold, WorkerInit } from './worker-protocol.js';
import type { NegotiatedAudio } from '../sdp.js';

function startWorker(init: WorkerInit): Worker {
  const fromSource = import.meta.url.endsWith('.ts');
  const entry = new URL(fromSource ? './media-worker.ts' : './media-worker.js', import.meta.url);
  if (!fromSource) return new Worker(entry, { workerData: init });
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry.href)}); });`;
  return new Worker(boot, { eval: true, workerData: init });
}

/** What the proxy needs of the worker: a node:worker_threads Worker, or a stand-in for tests. */
export interface EngineThread {
  postMessage(m: ToWorker): void;
  on(event: 'message', listener: (m: FromWorker) => void): unknown;
  on(event: 'error', listener: (e: Error) => void): unknown;
  on(event: 'exit', listener: (code: number) => void): unknown;
  terminate(): Promise<unknown>;
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

export class WorkerMediaEngine implements MediaEngine {
  private readonly pending = new Map<number, Pending>();
  private readonly handlers: ((e: MediaEvent) => void)[] = [];
  /** The announcement source of each endpoint's current hold, by the hold's id. */
  private readonly holds = new Map<
    number,
    { endpointId: string; pieces: () => readonly PromptPiece[] | Promise<readonly PromptPiece[]> }
  >();
  private ids = 0;
  private gone: Error | null = null;
  private stopping = false;

  private constructor(
    /** The thread itself, for the tests that end it the hard way. */
    readonly worker: EngineThread,
    private readonly log: Logger,
  ) {
    worker.on('message', (m) => this.receive(m));
    worker.on('error', (e) => this.fail(`media worker crashed: ${e.message}`, e));
    worker.on('exit', (code) => this.fail(`media worker exited (code ${code})`));
  }

  /** Starts the worker; rejects when it cannot start (a bad config is `invalid-argument`, as in-process). */
  static start(config: MediaEngineConfig, log: Logger): Promise<WorkerMediaEngine> {
    return WorkerMediaEngine.over(startWorker({ config }), log);
  }

  /** The proxy over a thread that serves the engine (worker-serve.ts); resolves once it has started. */
  static over(thread: EngineThread, log: Logger): Promise<WorkerMediaEngine> {
    const engine = new WorkerMediaEngine(thread, log);
    return new Promise((resolve, reject) => {
      engine.pending.set(0, { resolve: () => resolve(engine), reject });
    });
  }

  onEvent(handler: (e: MediaEvent) => void): void {
    this.handlers.push(handler);
  }

  open(): Promise<OpenedEndpoint> {
    return this.call('open', []) as Promise<OpenedEndpoint>;
  }

  setRemote(endpointId: string, audio: NegotiatedAudio): Promise<void> {
    return this.call('setRemote', [endpointId, audio]) as Promise<void>;
  }

  play(endpointId: string, pieces: readonly PromptPiece[], opts: PlayOptions = {}): Promise<PlayOutcome> {
    return this.call('play', [endpointId, pieces, opts]) as Promise<PlayOutcome>;
  }

  async hold(endpointId: string, opts: HoldOptions): Promise<void> {
    for (const [id, h] of this.holds) if (h.endpointId === endpointId) this.holds.delete(id);
    const wire: WireHold = { music: opts.music };
    if (opts.announce) {
      const holdId = ++this.ids;
      this.holds.set(holdId, { endpointId, pieces: opts.announce.pieces });
      wire.announce = { everyMs: opts.announce.everyMs, holdId };
    }
    await this.call('hold', [endpointId, wire]);
  }

  bridge(a: string, b: string): Promise<void> {
    return this.call('bridge', [a, b]) as Promise<void>;
  }

  unbridge(endpointId: string): Promise<void> {
    return this.call('unbridge', [endpointId]) as Promise<void>;
  }

  record(endpointIds: readonly string[], path: string): Promise<string> {
    return this.call('record', [endpointIds, path]) as Promise<string>;
  }

  addToRecording(recordingId: string, endpointId: string, channel: number): Promise<void> {
    return this.call('addToRecording', [recordingId, endpointId, channel]) as Promise<void>;
  }

  stopRecording(recordingId: string): Promise<RecordingResult> {
    return this.call('stopRecording', [recordingId]) as Promise<RecordingResult>;
  }

  async close(endpointId: string): Promise<void> {
    for (const [id, h] of this.holds) if (h.endpointId === endpointId) this.holds.delete(id);
    await this.call('close', [endpointId]);
  }

  stats(): Promise<MediaEngineStats> {
    return this.call('stats', []) as Promise<MediaEngineStats>;
  }

  async stop(): Promise<void> {
    if (this.gone || this.stopping) return;
    await this.call('stop', []);
    this.stopping = true;
    await this.worker.terminate();
    this.gone ??= new Error('stopped');
  }

  private call(method: CallMethod, args: unknown[]): Promise<unknown> {
    if (this.gone) return Promise.reject(unavailable(`media engine is gone (${this.gone.message})`));
    const id = ++this.ids;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      const m: ToWorker = { kind: 'call', id, method, args };
      try {
        this.worker.postMessage(m);
      } catch (e) {
        // Arguments the structured clone refuses (a function, say): bad input, nothing sent.
        this.pending.delete(id);
        reject(
          new DomainError(
            'invalid-argument',
            `media engine ${method}: arguments cannot be sent to the worker`,
            { cause: e },
          ),
        );
      }
    });
  }

  private receive(m: FromWorker): void {
    switch (m.kind) {
      case 'result':
        if (m.ok) this.settle(m.id, true, m.value);
        else
          this.settle(
            m.id,
            false,
            new DomainError(
              m.error.kind,
              m.error.message,
              m.error.field === undefined ? {} : { field: m.error.field },
            ),
          );
        return;
      case 'event':
        this.emit(m.event);
        return;
      case 'announce-due':
        void this.announce(m.id, m.holdId);
        return;
    }
  }

  private async announce(id: number, holdId: number): Promise<void> {
    const h = this.holds.get(holdId);
    let reply: ToWorker;
    try {
      if (!h) throw new Error(`hold ${holdId} is over`);
      reply = { kind: 'announce-pieces', id, pieces: await h.pieces() };
    } catch (e) {
      reply = { kind: 'announce-failed', id, message: e instanceof Error ? e.message : String(e) };
    }
    if (!this.gone) this.worker.postMessage(reply);
  }

  private settle(id: number, ok: boolean, v: unknown): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    if (ok) p.resolve(v);
    else p.reject(v as Error);
  }

  private fail(message: string, cause?: unknown): void {
    if (this.gone) return;
    this.gone = cause instanceof Error ? cause : new Error(message);
    // A worker that never started has nothing to lose: start() rejects, with its reason when it sent one.
    const starting = this.pending.has(0);
    const e = unavailable(message, cause);
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
    if (this.stopping || starting) return;
    this.log.error('media engine lost', { err: cause ?? new Error(message) });
    this.emit({ kind: 'failed', message });
  }

  private emit(e: MediaEvent): void {
    for (const h of this.handlers) {
      try {
        h(e);
      } catch (err) {
        this.log.error('media event handler threw', { event: e.kind, err });
      }
    }
  }
}
