/**
 * The `pin unlock refused` log of the site's desk (docs/operations.md §5 "PIN unlocks"):
 * throttled per agent like the desk's `rpc refused` (shared/grpc/refusal-window.ts). The first
 * refusal of an agent in a window is one line with the call, the customer and why; the rest
 * are only counted and summed up in one `more pin unlock refusals` line when the window ends.
 * An agent is signed in before its unlock reaches the desk, and a desk looping on a refused
 * unlock once wrote thousands of lines in seconds; now it costs a line a window, and no
 * refusal goes uncounted.
 */
import { systemClock, type Clock } from '../../shared/clock.js';
import { RefusalWindow } from '../../shared/grpc/refusal-window.js';
import type { Logger } from '../../shared/log.js';

export interface PinRefusal {
  agentId: string;
  callId: string;
  customerId: string;
  /** The error kind (`permission-denied`...), or `bank host` for a refusal by the host. */
  kind: string;
  why: string;
}

export class PinRefusalLog {
  private readonly window: RefusalWindow;
  private readonly clock: Clock;
  private readonly windowMs: number;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly log: Logger,
    opts: { clock?: Clock; windowMs?: number } = {},
  ) {
    this.windowMs = opts.windowMs ?? 10_000;
    this.window = new RefusalWindow(this.windowMs);
    this.clock = opts.clock ?? systemClock;
  }

  /** Log (or count) one refusal; `msg` is `pin unlock refused` or the bank host's. */
  refused(r: PinRefusal, msg = 'pin unlock refused'): void {
    if (this.window.note(r.agentId, r.kind, this.clock.now())) this.log.warn(msg, { ...r });
    this.summarise(false);
    // Summaries are due even when no refusal follows to notice the window's end.
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
      this.log.warn('more pin unlock refusals', {
        agentId: s.key,
        count: s.suppressed,
        kinds: s.reasons,
        windowMs: s.windowMs,
      });
    }
  }
}
