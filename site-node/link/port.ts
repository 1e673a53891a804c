/**
 * The site's port to the hub (docs/architecture.md §3.3): what the site's core needs from the
 * federation, whatever carries it. The real adapter is `GrpcHubLink` (hub-link.ts) over the
 * mTLS stream and unary RPCs; tests use in-memory fakes.
 *
 * Every call fails fast with DomainError('unavailable') when the link is not up, so callers
 * take their reduced-service path at once instead of waiting on a dead WAN (docs/architecture.md §6).
 */
import type { CustomerProfile, ReadPurpose } from '../../shared/domain/customer.js';
import type { SiteLinkState } from './link-state.js';

export type CustomerKey = 'phone' | 'card' | 'customer-id';

/** Defined with the directory port (the core owns it); re-exported for link users. */
export type { ReadPurpose };

export interface RemoteCustomer {
  profile: CustomerProfile;
  /** The customer's home site is not this site. */
  roaming: boolean;
}

export interface HubLink {
  readonly siteId: string;
  readonly state: SiteLinkState;
  /** Look a customer up in the provincial directory (audited at the hub when roaming). */
  lookupCustomer(key: CustomerKey, value: string, purpose: ReadPurpose): Promise<RemoteCustomer | undefined>;
  /**
   * Write a profile through the hub (the system of record). `baseVersion` is the version the
   * change was based on (0 = new); a stale one fails with 'conflict' and is recorded at the hub.
   * Of another site's customer only notes, the preferred callback number and the lost-card
   * flag may change ('permission-denied' naming the field otherwise; docs/architecture.md
   * §5.5). `changedBy` is the agent id or 'ivr': the hub records it as `<this site>/<changedBy>`.
   */
  writeCustomer(
    profile: CustomerProfile,
    baseVersion: number,
    changedBy: string,
    reason: string,
  ): Promise<CustomerProfile>;
}
