/**
 * The site's `CustomerDirectory` once it is federated (docs/architecture.md §5 and §6): the local cache
 * first, the hub's provincial directory for everyone else, and a reduced but audited service
 * from the cache while the hub is unreachable.
 *
 *   cache hit, own customer ........................ return it (no hub call, no audit)
 *   link usable (up | suspect | resyncing) ......... ask the hub (the hub audits roaming reads)
 *       found     -> cache it ('served' if roaming, 'home' otherwise) and return it
 *       not found -> undefined (the hub is the system of record: a stale cache entry loses)
 *       outage    -> fall through to the cache path below
 *   hub unreachable, roaming profile cached ........ write `customer.read` to the outbox, return it
 *   hub unreachable, not cached .................... undefined (the caller goes on unidentified)
 *
 * Why the audit goes through the outbox: a read the hub did not see must still reach the
 * hub's audit trail, and the outbox is the one channel that is never lost across a WAN
 * outage. No audit record, no read: if the outbox write fails the profile is not served.
 *
 * Phone lookups are normalised once, here, with the site's area code (shared/domain/phone.ts),
 * before the cache and before the hub: the hub has no area code to qualify a local caller
 * number with, and an ANI that is not a number at all ("anonymous") never leaves the site,
 * it simply matches nobody.
 */
import type {
  ContactSummary,
  CustomerDirectory,
  CustomerProfile,
  ReadPurpose,
} from '../../shared/domain/customer.js';
import type { Clock } from '../../shared/clock.js';
import { assertAreaCode, tryNormalizePhone } from '../../shared/domain/phone.js';
import { DomainError, isDomainError, type ErrorKind } from '../../shared/errors.js';
import { appendToOutbox, makeEvent } from '../../shared/events/index.js';
import type { Logger } from '../../shared/log.js';
import { withTransaction } from '../../shared/pg/transaction.js';
import type { StoreContext } from '../store/context.js';
import { upsertCustomer } from '../store/customers-repo.js';
import type { SiteLinkState } from './link-state.js';
import type { CustomerKey, HubLink } from './port.js';

export interface FederatedDirectoryOptions {
  siteId: string;
  /** The site's own cache (PgCustomerDirectory in production). */
  cache: CustomerDirectory;
  /** For cache fills and the outbox (the same site database as `cache`). */
  store: StoreContext;
  /** Undefined on a site running without a hub: every non-local read is a cache fallback. */
  link: HubLink | undefined;
  clock: Clock;
  log: Logger;
  /** How long a caller waits on the hub before being served from the cache; default 2000. */
  lookupTimeoutMs?: number;
  /** The site's area code ('023'): a local caller number is matched as 023 + number. */
  areaCode?: string | undefined;
}

/** The states in which the hub answers unary RPCs (resyncing: the stream is already open). */
const USABLE: ReadonlySet<SiteLinkState> = new Set<SiteLinkState>(['up', 'suspect', 'resyncing']);

/**
 * Errors that mean "the hub could not answer", as opposed to an answer (a refusal such as
 * permission-denied is propagated: the cache must not override the hub's decision).
 */
const OUTAGE: ReadonlySet<ErrorKind> = new Set<ErrorKind>([
  'unavailable',
  'deadline-exceeded',
  'resource-exhausted',
  'internal',
]);

const isOutage = (e: unknown): boolean => !isDomainError(e) || OUTAGE.has(e.kind);

export const DEFAULT_LOOKUP_TIMEOUT_MS = 2000;

/** The payload of a `customer.read` event (schemaVersion 1). */
export interface CustomerReadPayload extends Record<string, unknown> {
  customerId: string;
  homeSiteId: string;
  reason: string;
  callId: string | null;
  agentId: string | null;
  ivrSessionId: string | null;
  key: CustomerKey;
  servedFrom: 'cache';
}

type Outcome =
  { kind: 'answered'; profile: CustomerProfile | undefined } | { kind: 'outage'; reason: string };

export class FederatedCustomerDirectory implements CustomerDirectory {
  private readonly timeoutMs: number;

  constructor(private readonly o: FederatedDirectoryOptions) {
    this.timeoutMs = o.lookupTimeoutMs ?? DEFAULT_LOOKUP_TIMEOUT_MS;
    assertAreaCode(o.areaCode);
  }

  byPhone(phone: string, purpose?: ReadPurpose): Promise<CustomerProfile | undefined> {
    const canonical = tryNormalizePhone(phone, { areaCode: this.o.areaCode });
    if (canonical === undefined) {
      // Withheld or garbled caller id: not an error, the caller is just not recognised. The
      // hub would refuse it as invalid-argument, which is not an outage the cache may cover.
      this.o.log.debug('caller number is not a phone number; customer not looked up', {
        reason: purpose?.reason,
        callId: purpose?.callId,
      });
      return Promise.resolve(undefined);
    }
    return this.lookup('phone', canonical, purpose, () => this.o.cache.byPhone(canonical));
  }

  byCard(card: string, purpose?: ReadPurpose): Promise<CustomerProfile | undefined> {
    return this.lookup('card', card, purpose, () => this.o.cache.byCard(card));
  }

  byId(customerId: string, purpose?: ReadPurpose): Promise<CustomerProfile | undefined> {
    return this.lookup('customer-id', customerId, purpose, () => this.o.cache.byId(customerId));
  }

  /** Contact history is this site's own record; it never crosses the WAN. */
  recentContacts(customerId: string, limit: number): Promise<ContactSummary[]> {
    return this.o.cache.recentContacts(customerId, limit);
  }

  private async lookup(
    key: CustomerKey,
    value: string,
    purpose: ReadPurpose | undefined,
    fromCache: () => Promise<CustomerProfile | undefined>,
  ): Promise<CustomerProfile | undefined> {
    // A caller that did not say why still gets audited, under a reason that shows the gap.
    const why: ReadPurpose = purpose ?? { reason: 'unspecified' };
    const cached = await fromCache();
    if (cached && cached.homeSiteId === this.o.siteId) return cached;

    const hub = await this.askHub(key, value, why);
    if (hub.kind === 'answered') return hub.profile;

    if (!cached) {
      this.o.log.info('customer not identified: hub unreachable and not cached', {
        key,
        reason: why.reason,
        callId: why.callId,
        hub: hub.reason,
      });
      return undefined;
    }
    return (await this.auditCacheRead(cached, key, why)) ? cached : undefined;
  }

  private async askHub(key: CustomerKey, value: string, why: ReadPurpose): Promise<Outcome> {
    const link = this.o.link;
    if (!link) return { kind: 'outage', reason: 'no hub link configured' };
    if (!USABLE.has(link.state)) return { kind: 'outage', reason: `link ${link.state}` };
    let found;
    try {
      found = await this.withTimeout(link.lookupCustomer(key, value, why));
    } catch (e) {
      if (!isOutage(e)) throw e;
      this.o.log.warn('hub lookup failed; falling back to the cache', { key, err: e });
      return { kind: 'outage', reason: e instanceof Error ? e.message : String(e) };
    }
    if (!found) return { kind: 'answered', profile: undefined };
    await this.fill(found.profile, found.roaming);
    return { kind: 'answered', profile: found.profile };
  }

  /** A failed cache fill costs a later hub call, not this read: log it and go on. */
  private async fill(profile: CustomerProfile, roaming: boolean): Promise<void> {
    try {
      await upsertCustomer(this.o.store, profile, roaming ? 'served' : 'home', { areaCode: this.o.areaCode });
    } catch (e) {
      this.o.log.warn('customer cache fill failed', { customerId: profile.customerId, err: e });
    }
  }

  /** Writes the audit record in its own transaction; false when it could not be written. */
  private async auditCacheRead(p: CustomerProfile, key: CustomerKey, why: ReadPurpose): Promise<boolean> {
    const payload: CustomerReadPayload = {
      customerId: p.customerId,
      homeSiteId: p.homeSiteId,
      reason: why.reason,
      callId: why.callId ?? null,
      agentId: why.agentId ?? null,
      ivrSessionId: why.ivrSessionId ?? null,
      key,
      servedFrom: 'cache',
    };
    const env = makeEvent({
      type: 'customer.read',
      siteId: this.o.siteId,
      aggregateId: p.customerId,
      occurredAtMs: this.o.clock.now(),
      payload,
    });
    try {
      await withTransaction(this.o.store.pool, (c) => appendToOutbox(c, env));
      return true;
    } catch (e) {
      this.o.log.error('roaming read not audited; profile withheld', { customerId: p.customerId, err: e });
      return false;
    }
  }

  /**
   * Bounds how long a call waits on a slow WAN. A late answer is dropped; the hub has audited
   * that read too, so the trail may hold it twice but never misses it.
   */
  private withTimeout<T>(p: Promise<T>): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new DomainError('deadline-exceeded', `hub lookup did not answer within ${this.timeoutMs} ms`),
          ),
        this.timeoutMs,
      );
      timer.unref?.();
    });
    return Promise.race([p, late]).finally(() => clearTimeout(timer));
  }
}
