/**
 * The customer as the product sees it (docs/architecture.md §4). The hub's directory is the system of
 * record (a later issue); a site caches profiles. A PIN never appears here: only the bank
 * host verifies PINs.
 */
export type Segment = 'retail' | 'vip' | 'corporate';

export interface CustomerFlags {
  blacklisted: boolean;
  lostCard: boolean;
}

/**
 * A note an agent left after serving the customer. Append-only: the hub keeps every stored
 * note and stamps a new one's site, author and time itself (docs/architecture.md §5.5).
 */
export interface ContactNote {
  /** The writer's site ('' for an admin). */
  siteId: string;
  /** As the hub recorded it: `<site>/<agent>` or `admin <id>`. */
  by: string;
  atMs: number;
  text: string;
}

export interface CustomerProfile {
  customerId: string;
  name: string;
  /** E.164-ish caller numbers used to recognise the customer by ANI. */
  phones: string[];
  /** Card numbers (PAN) the customer may key in at the IVR. */
  cards: string[];
  /** The site that holds the customer's accounts (开户行). */
  homeSiteId: string;
  segment: Segment;
  /** Preferred language for prompts and agent skill matching, e.g. 'zh', 'en'. */
  language: string;
  flags: CustomerFlags;
  /** Account ids at the bank host. */
  accountIds: string[];
  /** Optimistic-concurrency version of the profile (a later issue writes through the hub). */
  version: number;
  /**
   * Contact notes, oldest first (absent = none). Optional, like `preferredCallback`, because
   * caches and older peers do not keep them: a write without them changes neither.
   */
  notes?: ContactNote[];
  /** A number the customer asked to be called back on; in a write '' clears it. */
  preferredCallback?: string;
}

/** One line of contact history shown on the agent's screen pop. */
export interface ContactSummary {
  callId: string;
  atMs: number;
  channel: 'voice-ivr' | 'voice-agent' | 'ticket';
  summary: string;
}

/**
 * Why a site reads a customer. Every read of another site's customer is audited (docs/architecture.md
 * §5): by the hub when the read goes through it, by the site's outbox when it is served from
 * the local cache while the hub is unreachable. The purpose is what that audit records.
 */
export interface ReadPurpose {
  /** 'ivr-ani' | 'ivr-card' | 'agent-screen-pop' | 'agent-search' | 'callback' ... */
  reason: string;
  callId?: string;
  agentId?: string;
  ivrSessionId?: string;
}

/**
 * Where a site looks customers up: its own cache, and through the hub for customers it does
 * not hold. `purpose` is optional so purely local implementations (the cache itself, test
 * doubles) can ignore it; the federated directory needs it for the audit trail.
 */
export interface CustomerDirectory {
  byPhone(phone: string, purpose?: ReadPurpose): Promise<CustomerProfile | undefined>;
  byCard(card: string, purpose?: ReadPurpose): Promise<CustomerProfile | undefined>;
  byId(customerId: string, purpose?: ReadPurpose): Promise<CustomerProfile | undefined>;
  recentContacts(customerId: string, limit: number): Promise<ContactSummary[]>;
}
