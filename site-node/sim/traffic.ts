/**
 * Poisson call arrivals for a simulated site: exponential gaps at a rate given in calls per
 * hour of simulated time, each arrival a new simulated caller dialling in.
 */
import { Random } from '../../shared/random.js';
import type { Cancel, Scheduler } from '../../shared/scheduler.js';
import { DEFAULT_CALLER_MIX, makeCaller, type CallerMixOptions } from './callers.js';
import type { SimCustomer } from './population.js';
import type { SimMedia } from './sim-media.js';
import type { CallLeg } from '../telephony/media-port.js';

export interface TrafficOptions {
  callsPerHour: number;
  seed: number;
  customers: readonly SimCustomer[];
  mix?: CallerMixOptions;
  /**
   * The number the callers dial; default the bank's service number. The province demo uses
   * another one for an access-only city's calls carried to its center.
   */
  dnis?: string;
  /**
   * Called after each call is placed, with its leg: `callId` is the site's id for the call,
   * or '' when the site refused it (no trunk free, or stopping).
   */
  onPlaced?: (leg: CallLeg) => void;
}

export class Traffic {
  private cancel: Cancel | undefined;
  private readonly rng: Random;
  placed = 0;

  constructor(
    private readonly scheduler: Scheduler,
    private readonly media: SimMedia,
    private readonly opts: TrafficOptions,
  ) {
    if (!(opts.callsPerHour > 0)) throw new RangeError(`callsPerHour must be > 0 (got ${opts.callsPerHour})`);
    this.rng = new Random(opts.seed);
  }

  start(): void {
    if (this.cancel) return;
    this.next();
  }

  private next(): void {
    const gap = this.rng.exponential(3_600_000 / this.opts.callsPerHour);
    this.cancel = this.scheduler.after(gap, () => {
      this.placed++;
      const leg = this.media.place(
        makeCaller(this.rng, this.opts.customers, this.opts.mix ?? DEFAULT_CALLER_MIX, this.opts.dnis),
      );
      this.opts.onPlaced?.(leg);
      this.next();
    });
  }

  stop(): void {
    this.cancel?.();
    this.cancel = undefined;
  }
}
