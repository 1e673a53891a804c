/**
 * The `pin unlock refused` log of the site's desk (docs/operations.md §5 "PIN unlocks"):
 * throttled per agent like the desk's `rpc refused` (shared/grpc/windowed-log.ts). The first
 * refusal of an agent in a window is one line with the call, the customer and why; the rest
 * are only counted and summed up in one `more pin unlock refusals` line when the window ends.
 * An agent is signed in before its unlock reaches the desk, and a desk looping on a refused
 * unlock once wrote thousands of lines in seconds; now it costs a line a window, and no
 * refusal goes uncounted.
 */
import type { Clock } from '../../shared/clock.js';
import { WindowedLog } from '../../shared/grpc/windowed-log.js';
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
  private readonly lines: WindowedLog;

  constructor(
    private readonly log: Logger,
    opts: { clock?: Clock; windowMs?: number } = {},
  ) {
    this.lines = new WindowedLog(log, {
      ...opts,
      summary: 'more pin unlock refusals',
      keyFields: (agentId) => ({ agentId }),
    });
  }

  /** Log (or count) one refusal; `msg` is `pin unlock refused` or the bank host's. */
  refused(r: PinRefusal, msg = 'pin unlock refused'): void {
    this.lines.note(r.agentId, r.kind, () => this.log.warn(msg, { ...r }));
  }

  /** Say the counts still unsaid and stop the summary timer. */
  stop(): void {
    this.lines.stop();
  }
}
