/**
 * The registrar core (RFC 3261 §10.3): where each agent phone can be reached, per
 * address-of-record, as a pure step `(state, event, nowMs) -> { state, response, changes }`.
 * It takes the few fields of a REGISTER it needs as plain values (the adapter reads them with
 * the SIP parser, after digest.ts has said who is asking and that they may register this
 * AoR); it sends nothing and keeps no timer: expiry is a time in each binding, and the adapter
 * sends a `sweep` now and then to drop the lapsed ones.
 *
 * One binding, per (AoR, Contact URI):
 *
 *                REGISTER, expires > 0                     REGISTER, expires > 0, with a
 *   (none) ----------------------------------> bound --+   CSeq above the stored one for
 *      ^                                       |  ^    |   its Call-ID, or another Call-ID
 *      |                                       |  +----+   (a refresh: a new expiry)
 *      +---------------------------------------+
 *        REGISTER expires=0 for it, Contact: * with Expires: 0,
 *        or a sweep at or after its expiry
 *
 * A REGISTER is applied whole or not at all: a contact asking for less than the minimum
 * (423 with Min-Expires), a CSeq not above the one stored for the same Call-ID (a
 * retransmission or an old request overtaken, RFC 3261 §10.3 step 7), or too many contacts
 * leaves every binding as it was.
 */
import { invalidArgument } from '../errors.js';

export interface RegistrarLimits {
  /** Shorter non-zero requests get `423 Interval Too Brief` with this as Min-Expires. */
  minExpiresS: number;
  /** Longer requests are shortened to this (the 200 says the expiry granted). */
  maxExpiresS: number;
  /** When neither the contact nor the request says (RFC 3261 §10.2.1.1 suggests 3600). */
  defaultExpiresS: number;
  maxContactsPerAor: number;
}

/**
 * Checks the limits once, when the site config is compiled, naming the field under `at`
 * (`sip.registrar.minExpiresS`); returns them unchanged.
 */
export function checkRegistrarLimits(l: RegistrarLimits, at: string): RegistrarLimits {
  for (const [name, v] of Object.entries(l))
    if (!Number.isInteger(v) || v < 1)
      throw invalidArgument(`${at}.${name}`, 'must be a whole number of at least 1');
  if (l.maxExpiresS < l.minExpiresS)
    throw invalidArgument(`${at}.maxExpiresS`, `must not be under minExpiresS (${l.minExpiresS})`);
  if (l.defaultExpiresS < l.minExpiresS || l.defaultExpiresS > l.maxExpiresS)
    throw invalidArgument(`${at}.defaultExpiresS`, `must be from minExpiresS to maxExpiresS`);
  return l;
}

export interface Binding {
  contact: string;
  callId: string;
  cseq: number;
  expiresAtMs: number;
  /** The contact's `q` preference, 0 to 1, when given. */
  q: number | undefined;
}

export interface RegistrarState {
  readonly bindings: ReadonlyMap<string, readonly Binding[]>;
}

export const emptyRegistrar = (): RegistrarState => ({ bindings: new Map() });

export interface RegisterContact {
  uri: string;
  /** The contact's `expires` parameter, seconds. */
  expires?: number;
  q?: number;
}

export interface RegisterRequest {
  /** The To URI, as the adapter normalises it (`sip:1001@chongqing.cc.example`). */
  aor: string;
  callId: string;
  cseq: number;
  /** The Expires header, seconds. */
  expires: number | undefined;
  /** `*` to remove every binding; an empty list asks what is bound. */
  contacts: '*' | readonly RegisterContact[];
}

export type RegistrarEvent = { kind: 'register'; request: RegisterRequest } | { kind: 'sweep' };

export type RegistrarResponse =
  | {
      status: 200;
      reason: 'OK';
      contacts: ReadonlyArray<{ uri: string; expiresS: number; q: number | undefined }>;
    }
  | { status: 423; reason: 'Interval Too Brief'; minExpiresS: number }
  | { status: 400 | 403; reason: string };

export interface BindingChange {
  aor: string;
  contact: string;
  change: 'added' | 'refreshed' | 'removed' | 'expired';
}

export interface RegistrarStep {
  state: RegistrarState;
  /** What to answer the REGISTER with; none for a sweep. */
  response: RegistrarResponse | undefined;
  /** Bindings made, refreshed or ended, for the log and for the phones' presence. */
  changes: BindingChange[];
}

const MAX_CSEQ = 2 ** 31 - 1; // RFC 3261 §8.1.1.5

const refuse = (state: RegistrarState, status: 400 | 403, reason: string): RegistrarStep => ({
  state,
  response: { status, reason },
  changes: [],
});

const isSeconds = (n: number | undefined): boolean => n === undefined || (Number.isInteger(n) && n >= 0);

/** The bindings of an AoR that have not lapsed, most preferred first: where to ring it. */
export function contactsOf(state: RegistrarState, aor: string, nowMs: number): Binding[] {
  return (state.bindings.get(aor) ?? [])
    .filter((b) => b.expiresAtMs > nowMs)
    .sort((a, b) => (b.q ?? 1) - (a.q ?? 1));
}

export function registrarStep(
  state: RegistrarState,
  event: RegistrarEvent,
  nowMs: number,
  limits: RegistrarLimits,
): RegistrarStep {
  return event.kind === 'sweep' ? sweep(state, nowMs) : register(state, event.request, nowMs, limits);
}

function sweep(state: RegistrarState, nowMs: number): RegistrarStep {
  const changes: BindingChange[] = [];
  const bindings = new Map<string, readonly Binding[]>();
  for (const [aor, list] of state.bindings) {
    const live = list.filter((b) => b.expiresAtMs > nowMs);
    for (const b of list)
      if (b.expiresAtMs <= nowMs) changes.push({ aor, contact: b.contact, change: 'expired' });
    if (live.length > 0) bindings.set(aor, live);
  }
  return { state: changes.length > 0 ? { bindings } : state, response: undefined, changes };
}

function register(
  state: RegistrarState,
  r: RegisterRequest,
  nowMs: number,
  limits: RegistrarLimits,
): RegistrarStep {
  if (!Number.isInteger(r.cseq) || r.cseq < 0 || r.cseq > MAX_CSEQ)
    return refuse(state, 400, `CSeq ${r.cseq} is not a number from 0 to 2^31-1`);
  if (!isSeconds(r.expires))
    return refuse(state, 400, `Expires ${r.expires} is not a whole number of seconds`);
  // Lapsed bindings not yet swept are as good as gone: a new REGISTER may reuse their Call-ID.
  const stored = state.bindings.get(r.aor) ?? [];
  const current = stored.filter((b) => b.expiresAtMs > nowMs);
  const lapsed = stored
    .filter((b) => b.expiresAtMs <= nowMs)
    .map((b): BindingChange => ({ aor: r.aor, contact: b.contact, change: 'expired' }));
  const outOfOrder = (b: Binding) => b.callId === r.callId && r.cseq <= b.cseq;

  if (r.contacts === '*') {
    if (r.expires !== 0) return refuse(state, 400, 'Contact: * needs Expires: 0');
    const stale = current.find(outOfOrder);
    if (stale) return refuse(state, 400, `CSeq ${r.cseq} is not above ${stale.cseq} for this Call-ID`);
    const changes = [
      ...lapsed,
      ...current.map((b): BindingChange => ({ aor: r.aor, contact: b.contact, change: 'removed' })),
    ];
    return { state: withAor(state, r.aor, []), response: ok([], nowMs), changes };
  }

  const asked: Array<{ uri: string; expiresS: number; q: number | undefined }> = [];
  for (const c of r.contacts) {
    if (!isSeconds(c.expires))
      return refuse(state, 400, `Contact ${c.uri}: expires ${c.expires} is not a whole number of seconds`);
    if (c.q !== undefined && !(c.q >= 0 && c.q <= 1))
      return refuse(state, 400, `Contact ${c.uri}: q ${c.q} is not 0 to 1`);
    const expiresS = c.expires ?? r.expires ?? limits.defaultExpiresS;
    if (expiresS > 0 && expiresS < limits.minExpiresS)
      return {
        state,
        response: { status: 423, reason: 'Interval Too Brief', minExpiresS: limits.minExpiresS },
        changes: [],
      };
    asked.push({ uri: c.uri, expiresS: Math.min(expiresS, limits.maxExpiresS), q: c.q });
  }

  const next = [...current];
  const changes: BindingChange[] = [...lapsed];
  for (const a of asked) {
    // Ordering is judged against what was stored before this request, not its own earlier contacts.
    const before = current.find((b) => b.contact === a.uri);
    if (before && outOfOrder(before))
      return refuse(state, 400, `CSeq ${r.cseq} is not above ${before.cseq} for this Call-ID`);
    const at = next.findIndex((b) => b.contact === a.uri);
    if (a.expiresS === 0) {
      if (at >= 0) {
        next.splice(at, 1);
        changes.push({ aor: r.aor, contact: a.uri, change: 'removed' });
      }
      continue;
    }
    const binding: Binding = {
      contact: a.uri,
      callId: r.callId,
      cseq: r.cseq,
      expiresAtMs: nowMs + a.expiresS * 1000,
      q: a.q,
    };
    if (at >= 0) next[at] = binding;
    else next.push(binding);
    changes.push({ aor: r.aor, contact: a.uri, change: before || at >= 0 ? 'refreshed' : 'added' });
  }
  if (next.length > limits.maxContactsPerAor)
    return refuse(state, 403, `more than ${limits.maxContactsPerAor} contacts for ${r.aor}`);
  return { state: withAor(state, r.aor, next), response: ok(next, nowMs), changes };
}

function withAor(state: RegistrarState, aor: string, list: readonly Binding[]): RegistrarState {
  const bindings = new Map(state.bindings);
  if (list.length > 0) bindings.set(aor, list);
  else bindings.delete(aor);
  return { bindings };
}

/** The 200 lists every binding of the AoR with the seconds it has left (RFC 3261 §10.3 step 8). */
const ok = (list: readonly Binding[], nowMs: number): RegistrarResponse => ({
  status: 200,
  reason: 'OK',
  contacts: list.map((b) => ({
    uri: b.contact,
    expiresS: Math.ceil((b.expiresAtMs - nowMs) / 1000),
    q: b.q,
  })),
});
