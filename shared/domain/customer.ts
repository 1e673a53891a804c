/**
 * The customer as the product sees it (DESIGN.md §4). The hub's directory is the system of
 * record (a later issue); a site caches profiles. A PIN never appears here: only the bank
 * host verifies PINs.
 */
export type Segment = 'retail' | 'vip' | 'corporate';

export interface CustomerFlags {
  blacklisted: boolean;
  lostCard: boolean;
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
}

/** One line of contact history shown on the agent's screen pop. */
export interface ContactSummary {
  callId: string;
  atMs: number;
  channel: 'voice-ivr' | 'voice-agent' | 'ticket';
  summary: string;
}

/** Where a site looks customers up: its own cache now, the hub's directory later. */
export interface CustomerDirectory {
  byPhone(phone: string): Promise<CustomerProfile | undefined>;
  byCard(card: string): Promise<CustomerProfile | undefined>;
  byId(customerId: string): Promise<CustomerProfile | undefined>;
  recentContacts(customerId: string, limit: number): Promise<ContactSummary[]>;
}
