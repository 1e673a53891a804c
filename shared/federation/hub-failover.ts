/**
 * Which hub to dial next (docs/architecture.md §6.6): a province may run two hub processes on
 * one database, one leading and one standby. Sites and `fedctl` hold an ORDERED list of hub
 * addresses and choose among them with `nextHubAddress`, the one rule both use (pure: no
 * socket, no clock).
 *
 * A standby answers every RPC with UNAVAILABLE and the leader's advertised address in the
 * `x-hub-leader` trailer (`NOT_LEADER_TRAILER`). The caller follows that address only when it
 * is one of its own list: a hub is never trusted to send a site anywhere else, and the mTLS
 * identity check still applies to whatever is dialled.
 */
import { DomainError } from '../errors.js';

/** The trailer a standby hub names the leader in (`host:port`, its `advertiseAddress`). */
export const LEADER_TRAILER = 'x-hub-leader';
/** The trailer every "not leader" refusal carries: the refusing standby's hub id. */
export const STANDBY_TRAILER = 'x-hub-standby';

/** A hub address list as written (`a:1,b:2` or an array): trimmed, no empties, no repeats. */
export function parseHubAddresses(input: string | readonly string[], field: string): string[] {
  const items = (typeof input === 'string' ? input.split(',') : [...input]).map((s) => s.trim());
  const problems: string[] = [];
  const out: string[] = [];
  items.forEach((a, i) => {
    if (!HOST_PORT.test(a)) problems.push(`${field}[${i}]: ${JSON.stringify(a)} must be host:port`);
    else if (out.includes(a)) problems.push(`${field}[${i}]: ${a} is listed twice`);
    else out.push(a);
  });
  if (out.length === 0 && problems.length === 0) problems.push(`${field}: must name at least one hub`);
  if (problems.length > 0) {
    throw new DomainError('invalid-argument', problems.join('; '), { field, problems });
  }
  return out;
}

export const HOST_PORT = /^[^\s:,]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/;

/**
 * The address to dial after `current` failed or answered "not leader":
 *   - the leader the refusing hub named, when it is in the list (and not `current` itself: a
 *     hub that names itself while refusing is not believed);
 *   - else the next address in list order after `current`, wrapping around;
 *   - `current` undefined (first dial) or not in the list: the first address.
 */
export function nextHubAddress(
  addresses: readonly string[],
  current: string | undefined,
  leaderHint?: string,
): string {
  if (addresses.length === 0) throw new RangeError('nextHubAddress: no hub addresses');
  if (leaderHint !== undefined && leaderHint !== current && addresses.includes(leaderHint)) return leaderHint;
  const i = current === undefined ? -1 : addresses.indexOf(current);
  if (i < 0) return addresses[0]!;
  return addresses[(i + 1) % addresses.length]!;
}

/**
 * The leader address a refusal carried: a gRPC error with the `x-hub-leader` trailer, or a
 * DomainError made from one (its `cause`). Undefined when there is none.
 */
export function leaderHintOf(err: unknown): string | undefined {
  return trailerOf(err, LEADER_TRAILER);
}

/** The id of the standby that refused (its `x-hub-standby` trailer), or undefined. */
export function refusingStandbyOf(err: unknown): string | undefined {
  return trailerOf(err, STANDBY_TRAILER);
}

function trailerOf(err: unknown, key: string): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 4; depth++) {
    if (e instanceof DomainError && e.trailers?.[key]) return e.trailers[key];
    const md = (e as { metadata?: { get?: (k: string) => unknown[] } }).metadata;
    const v = typeof md?.get === 'function' ? md.get(key)[0] : undefined;
    if (typeof v === 'string' && v !== '') return v;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** The refusal a standby hub answers with: UNAVAILABLE, naming the leader when it knows it. */
export function notLeaderError(
  hubId: string,
  leader: { hubId: string; address: string } | null,
): DomainError {
  return new DomainError(
    'unavailable',
    leader
      ? `hub ${hubId} is a standby, not the leader: the leader is ${leader.hubId} at ${leader.address}`
      : `hub ${hubId} is a standby, not the leader, and no hub leads right now; try again shortly`,
    { trailers: { [STANDBY_TRAILER]: hubId, ...(leader ? { [LEADER_TRAILER]: leader.address } : {}) } },
  );
}
