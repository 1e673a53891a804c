/**
 * A log line that cannot flood: the adapter around refusal-window.ts that the refusal logs
 * share (`rpc refused` in refusal-log.ts, the site's `pin unlock refused`). The first line for
 * a key in a window is written at once; the rest are only counted, and each window's count
 * becomes one summary line when it ends (on the next note, or on a timer, so a flood that
 * stops is still summed up), and every count still unsaid at `stop()`.
 *
 *   const lines = new WindowedLog(log, { summary: 'more pin unlock refusals', keyFields: (k) => ({ agentId: k }) });
 *   lines.note(agentId, kind, () => log.warn('pin unlock refused', {...}));
 */
import { systemClock, type Clock } from '../clock.js';
import type { LogFields, Logger } from '../log.js';
import { RefusalWindow } from './refusal-window.js';

export interface WindowedLogOptions {
  /** The summary line's message, e.g. `more rpc refusals`. */
  summary: string;
  /** The fields that name a key in its summary line. */
  keyFields: (key: string) => LogFields;
  /** Lines past the first for one key are summed up once per this window. Default 10 s. */
  windowMs?: number;
  clock?: Clock;
}

export class WindowedLog {
  private readonly window: RefusalWindow;
  private readonly clock: Clock;
  private readonly windowMs: number;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly log: Logger,
    private readonly o: WindowedLogOptions,
  ) {
    this.windowMs = o.windowMs ?? 10_000;
    this.window = new RefusalWindow(this.windowMs);
    this.clock = o.clock ?? systemClock;
  }

  /** Count one occurrence for `key` (by `kind`); `write` is called when it is to be logged. */
  note(key: string, kind: string, write: () => void): void {
    if (this.window.note(key, kind, this.clock.now())) write();
    this.summarise(false);
    // Summaries are due even when nothing follows to notice the window's end.
    this.timer ??= setInterval(() => this.summarise(false), this.windowMs).unref();
  }

  /** Say the counts still unsaid and stop the summary timer. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.summarise(true);
  }

  private summarise(all: boolean): void {
    for (const s of this.window.due(this.clock.now(), all)) {
      this.log.warn(this.o.summary, {
        ...this.o.keyFields(s.key),
        count: s.suppressed,
        kinds: s.reasons,
        windowMs: s.windowMs,
      });
    }
  }
}
