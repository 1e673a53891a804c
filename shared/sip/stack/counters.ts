/**
 * The transaction layer's counters, a plain object the site's stats read. `refused` counts
 * by reason what was turned away (each also logged, the first per source address and window):
 * `malformed-request` (answered 400 or 505), `malformed-message` (a response, or a request too
 * broken to answer: dropped), `bad-branch`, `stray-response`, `overloaded` (the server transaction table is full: 503),
 * and the TCP transport's `framing`, `too-many-connections`, `slow-message`, `not-reading`.
 */
export interface SipStackCounters {
  readonly received: { requests: number; responses: number };
  readonly sent: { requests: number; responses: number };
  /** Messages sent again: retransmissions by a machine, and the same ACK or 100 resent. */
  retransmissions: number;
  readonly refused: Record<string, number>;
}

export const newCounters = (): SipStackCounters => ({
  received: { requests: 0, responses: 0 },
  sent: { requests: 0, responses: 0 },
  retransmissions: 0,
  refused: {},
});

export const copyCounters = (c: SipStackCounters): SipStackCounters => ({
  received: { ...c.received },
  sent: { ...c.sent },
  retransmissions: c.retransmissions,
  refused: { ...c.refused },
});
