/**
 * Seeded pseudo-random numbers for simulations, benchmarks and tests: the same seed gives
 * the same run. NOT for anything secret (ids use node:crypto).
 *
 * `mulberry32` is Tommy Ettinger's 32-bit generator: tiny, fast, and good enough for
 * traffic simulation (period 2^32).
 */

/** A function returning uniform numbers in [0, 1). */
export type Uniform = () => number;

export function mulberry32(seed: number): Uniform {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A seeded random source with the distributions the simulations need. */
export class Random {
  private readonly u: Uniform;
  private spareNormal: number | undefined;

  constructor(seedOrUniform: number | Uniform) {
    this.u = typeof seedOrUniform === 'number' ? mulberry32(seedOrUniform) : seedOrUniform;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.u();
  }

  /** Uniform in [min, max). */
  uniform(min: number, max: number): number {
    return min + (max - min) * this.u();
  }

  /** Integer in [min, max] (both inclusive). */
  int(min: number, max: number): number {
    return min + Math.floor(this.u() * (max - min + 1));
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.u() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('Random.pick: empty list');
    return items[Math.floor(this.u() * items.length)]!;
  }

  /** Exponential with the given mean (inter-arrival times of a Poisson process). */
  exponential(mean: number): number {
    // 1 - u is in (0, 1], so the log is finite.
    return -mean * Math.log(1 - this.u());
  }

  /** Standard normal (Box-Muller, caching the second value). */
  normal(): number {
    if (this.spareNormal !== undefined) {
      const z = this.spareNormal;
      this.spareNormal = undefined;
      return z;
    }
    const u1 = 1 - this.u();
    const u2 = this.u();
    const r = Math.sqrt(-2 * Math.log(u1));
    this.spareNormal = r * Math.sin(2 * Math.PI * u2);
    return r * Math.cos(2 * Math.PI * u2);
  }

  /**
   * Log-normal parameterised by its MEAN (not the median) and sigma, the standard deviation
   * of the underlying normal: mu = ln(mean) - sigma^2 / 2, so E[X] = mean. Call handle times
   * are classically log-normal with sigma around 0.5-1.
   */
  lognormal(mean: number, sigma: number): number {
    const mu = Math.log(mean) - (sigma * sigma) / 2;
    return Math.exp(mu + sigma * this.normal());
  }

  /** An independent stream derived from this one (e.g. one per simulated agent). */
  fork(): Random {
    return new Random(Math.floor(this.u() * 4294967296));
  }
}
