/**
 * An RTP meter (test/support/rtp-meter.ts) in a worker thread of its own, for the SIP benches:
 * in the bench's main thread, beside the desks' gRPC and the progress lines, the meters fell
 * behind at 20 calls/s on the loaded 2-core machine and their own sockets dropped what they
 * then counted as loss (docs/operations.md §8.7). The kernel's drop count for its socket is
 * still the bench process's (`/proc/net/udp` by pid).
 */
import { Worker } from 'node:worker_threads';
import type { MeterTarget } from '../support/rtp-meter.js';
import type { RtpCountSummary } from '../support/rtp-count.js';

export type ToMeter =
  { type: 'target'; target: MeterTarget } | { type: 'summary'; id: number } | { type: 'close' };
export type FromMeter =
  | { type: 'started'; port: number }
  | { type: 'summary'; id: number; summary: { forward: RtpCountSummary; back: RtpCountSummary } }
  | { type: 'closed' };

function startWorker(): Worker {
  const fromSource = import.meta.url.endsWith('.ts');
  const entry = new URL(fromSource ? './meter-worker.ts' : './meter-worker.js', import.meta.url);
  if (!fromSource) return new Worker(entry);
  // The bench runs under tsx: the worker registers it before loading its TypeScript.
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry.href)}); });`;
  return new Worker(boot, { eval: true });
}

export class ThreadedMeter {
  readonly host = '127.0.0.1';
  private nextId = 1;
  private readonly waiting = new Map<
    number,
    (s: { forward: RtpCountSummary; back: RtpCountSummary }) => void
  >();
  private closed: Promise<void> | undefined;

  private constructor(
    private readonly worker: Worker,
    readonly port: number,
  ) {
    worker.on('message', (m: FromMeter) => {
      if (m.type !== 'summary') return;
      this.waiting.get(m.id)?.(m.summary);
      this.waiting.delete(m.id);
    });
  }

  static start(): Promise<ThreadedMeter> {
    const worker = startWorker();
    return new Promise((resolve, reject) => {
      worker.once('error', reject);
      worker.once('message', (m: FromMeter) => {
        worker.off('error', reject);
        if (m.type === 'started') resolve(new ThreadedMeter(worker, m.port));
        else reject(new Error(`meter thread: expected 'started', got '${m.type}'`));
      });
    });
  }

  /** Where to forward what it counts (the peer behind the meter, once it has started). */
  set target(t: MeterTarget) {
    this.worker.postMessage({ type: 'target', target: t } satisfies ToMeter);
  }

  summary(): Promise<{ forward: RtpCountSummary; back: RtpCountSummary }> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.worker.postMessage({ type: 'summary', id } satisfies ToMeter);
    });
  }

  close(): Promise<void> {
    this.closed ??= new Promise<void>((resolve) => {
      this.worker.once('message', (m: FromMeter) => {
        if (m.type === 'closed') resolve();
      });
      this.worker.postMessage({ type: 'close' } satisfies ToMeter);
    }).then(() => this.worker.terminate().then(() => undefined));
    return this.closed;
  }
}
