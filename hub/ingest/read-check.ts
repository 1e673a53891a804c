/**
 * What the hub records for a `customer.read` event (a site served another site's customer from
 * its cache while the hub was unreachable; docs/architecture.md §5.6): a pure decision, no I/O.
 *
 * The audit holds the hub's facts, not the event's claims: the home site recorded is the
 * directory's, and a read the hub cannot corroborate is kept as received but flagged, so a
 * site cannot hide a roaming read by claiming the customer is its own, nor gain change-feed
 * interest in a customer it never looked up by reporting a read of it. A site can only hold a
 * roaming customer in its cache if the hub gave it the profile: a lookup the hub served (an
 * audit row `served_from = hub`), or an interest it still has (a read, a write of its own, the
 * customer having moved away from it). Interest outlives the site's cache (§5.5), and the
 * hub's audit rows are never deleted, so an honest report finds one or the other even when it
 * arrives days late.
 */

/** What the directory knows about the customer and the reader, before this event. */
export interface ReadFacts {
  /** The directory's home site for the customer; undefined when it has no such customer. */
  homeSiteId: string | undefined;
  /** The hub served this customer to this reader before (an audit row or an interest). */
  servedToReader: boolean;
}

export interface ReadVerdict {
  /** What the audit row records as the home: the directory's ('' when unknown). */
  homeSiteId: string;
  /** Null when corroborated; else why not, for `fedctl reads`. */
  flag: string | null;
  /** Whether the read renews (or gives) the reader's change-feed interest in the customer. */
  grantsInterest: boolean;
}

export function checkReportedRead(
  reader: string,
  customerId: string,
  claimedHomeSiteId: string,
  facts: ReadFacts,
): ReadVerdict {
  const home = facts.homeSiteId;
  if (home === undefined) {
    return {
      homeSiteId: '',
      flag: `unknown-customer: the directory has no customer ${customerId}`,
      grantsInterest: false,
    };
  }
  if (claimedHomeSiteId !== '' && claimedHomeSiteId !== home) {
    return {
      homeSiteId: home,
      flag: `home-mismatch: the event claims home ${claimedHomeSiteId}; the directory's is ${home}`,
      grantsInterest: false,
    };
  }
  // A site's read of its own customer is no roaming read: nothing to corroborate, no interest
  // (it hears about its home customers anyway).
  if (home === reader) return { homeSiteId: home, flag: null, grantsInterest: false };
  if (!facts.servedToReader) {
    return {
      homeSiteId: home,
      flag: `uncorroborated: the hub never served customer ${customerId} to ${reader}`,
      grantsInterest: false,
    };
  }
  return { homeSiteId: home, flag: null, grantsInterest: true };
}
