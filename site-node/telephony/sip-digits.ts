/**
 * The keys a caller presses, collected for the IVR (MediaPort.collectDigits). Keys pressed
 * while a prompt plays are kept (type-ahead: the prompt stops at the first, barge-in), so a
 * caller who knows the menu need not wait. A collection ends at `maxDigits` keys, at the
 * terminator (not returned), or `timeoutMs` after the last key (or after it started when none
 * came): with keys, what was pressed; without, 'timeout'. The caller leaving ends it 'hung-up'.
 * A terminator right after a collection that ended by its length (a full PIN, then #) belongs
 * to it, and is dropped rather than answer the next menu.
 * No digit is logged here: a PIN goes through this buffer.
 */
import type { Cancel, Scheduler } from '../../shared/scheduler.js';
import type { CollectOptions } from './media-port.js';

type Result = string | 'timeout' | 'hung-up';

export class DigitBuffer {
  private keys = '';
  private waiting:
    | { opts: CollectOptions; got: string; resolve: (r: Result) => void; timer: Cancel | undefined }
    | undefined;
  private gone = false;
  /** The terminator that may follow a collection ended by its length (a full PIN, then #). */
  private swallow: string | undefined;

  constructor(private readonly scheduler: Scheduler) {}

  /** Keys pressed and not yet collected: a prompt is skipped when the caller already answered it. */
  get pending(): boolean {
    return this.keys.length > 0;
  }

  /** Forget type-ahead (the caller went on hold, or was bridged). */
  clear(): void {
    this.keys = '';
  }

  press(digit: string): void {
    if (this.gone) return;
    const swallow = this.swallow;
    this.swallow = undefined;
    if (digit === swallow && this.keys === '') return;
    this.keys += digit;
    this.drain();
  }

  hungUp(): void {
    this.gone = true;
    const w = this.waiting;
    if (!w) return;
    w.timer?.();
    this.waiting = undefined;
    w.resolve('hung-up');
  }

  collect(opts: CollectOptions): Promise<Result> {
    if (this.gone) return Promise.resolve('hung-up');
    // A second collect replaces the first, as the IVR never asks twice at once.
    this.waiting?.resolve('timeout');
    this.waiting?.timer?.();
    return new Promise((resolve) => {
      this.waiting = { opts, got: '', resolve, timer: undefined };
      this.drain();
      if (this.waiting) this.arm();
    });
  }

  private arm(): void {
    const w = this.waiting!;
    w.timer?.();
    w.timer = this.scheduler.after(w.opts.timeoutMs, () => {
      if (this.waiting !== w) return;
      this.waiting = undefined;
      w.resolve(w.got === '' ? 'timeout' : w.got);
    });
  }

  private drain(): void {
    const w = this.waiting;
    if (!w) return;
    let pressed = false;
    while (this.keys.length > 0) {
      const k = this.keys[0]!;
      this.keys = this.keys.slice(1);
      pressed = true;
      if (k === w.opts.terminator) return this.finish(w, w.got === '' ? 'timeout' : w.got);
      w.got += k;
      if (w.got.length >= w.opts.maxDigits) {
        this.swallow = w.opts.terminator;
        if (this.keys.startsWith(this.swallow ?? '\0')) this.keys = this.keys.slice(1);
        return this.finish(w, w.got);
      }
    }
    if (pressed) this.arm();
  }

  private finish(w: NonNullable<DigitBuffer['waiting']>, r: Result): void {
    w.timer?.();
    this.waiting = undefined;
    w.resolve(r);
  }
}
