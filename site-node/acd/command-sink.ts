/**
 * Where a step writes its commands: one buffer kept across steps, copied out at the end of
 * each at its exact length. A fresh array per step got a 16-slot store on its first push, the
 * largest allocation of most steps; less garbage per event means fewer young-generation
 * collections, each of which copies every call still waiting, so the saving grows with the
 * number of calls a site holds. Steps run one at a time (the core is synchronous), so one
 * sink serves every state in the process.
 */
import type { AcdCommand } from './types.js';

export interface CommandOut {
  push(c: AcdCommand): void;
}

export class CommandSink implements CommandOut {
  private readonly buf: Array<AcdCommand | undefined> = [];
  private n = 0;

  /** Forget a step that threw half-way (its commands were never returned). */
  begin(): void {
    this.drop();
  }

  push(c: AcdCommand): void {
    this.buf[this.n++] = c;
  }

  /** The step's commands, in order; the buffer lets go of them. */
  take(): AcdCommand[] {
    const out = this.buf.slice(0, this.n) as AcdCommand[];
    this.drop();
    return out;
  }

  private drop(): void {
    for (let i = 0; i < this.n; i++) this.buf[i] = undefined;
    this.n = 0;
  }
}
