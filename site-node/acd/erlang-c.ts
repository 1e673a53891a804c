/**
 * Erlang C (M/M/N queue, no abandons): the probability a call waits, the service level and
 * the average speed of answer, for `agents` servers, arrival rate `perHour` and mean handle
 * time `ahtMs`. Computed through the Erlang B recursion, which is stable for large N:
 *   B(0) = 1,  B(k) = A·B(k-1) / (k + A·B(k-1)),   A = λ·h (offered load in Erlangs)
 *   C = N·B(N) / (N - A·(1 - B(N)))                       P(wait > 0)
 *   SL(T) = 1 - C·exp(-(N - A)·T / h)                      P(wait <= T)
 *   ASA = C·h / (N - A)
 * With A >= N the queue is unstable: C = 1, SL = 0, ASA = Infinity.
 */
import { invalidArgument } from '../../shared/errors.js';

export interface ErlangC {
  /** Offered load in Erlangs. */
  load: number;
  /** Agent occupancy A / N. */
  occupancy: number;
  probWait: number;
  serviceLevel: number;
  asaMs: number;
}

export function erlangC(agents: number, perHour: number, ahtMs: number, thresholdMs: number): ErlangC {
  if (!Number.isInteger(agents) || agents < 1) throw invalidArgument('agents', 'must be an integer >= 1');
  if (!(perHour > 0)) throw invalidArgument('perHour', 'must be > 0');
  if (!(ahtMs > 0)) throw invalidArgument('ahtMs', 'must be > 0');
  if (!(thresholdMs >= 0)) throw invalidArgument('thresholdMs', 'must be >= 0');
  const A = (perHour / 3_600_000) * ahtMs;
  const N = agents;
  if (A >= N) return { load: A, occupancy: A / N, probWait: 1, serviceLevel: 0, asaMs: Infinity };
  let b = 1;
  for (let k = 1; k <= N; k++) b = (A * b) / (k + A * b);
  const c = (N * b) / (N - A * (1 - b));
  return {
    load: A,
    occupancy: A / N,
    probWait: c,
    serviceLevel: 1 - c * Math.exp((-(N - A) * thresholdMs) / ahtMs),
    asaMs: (c * ahtMs) / (N - A),
  };
}
