/**
 * A `BankHost` that sends each request to the host holding the account (docs/architecture.md §5,
 * roaming customers): a customer of site A calling site B still checks balances and moves
 * money on A's host. The home site comes from a `HomeResolver` (the site's customer cache).
 *
 * Routing never guesses: when the home site is known but its host is not configured here,
 * the request fails with 'unavailable' (the IVR says the service is unavailable) rather than
 * being posted to the wrong ledger. An unknown home is served locally: that is the site's own
 * bank, and the local host answers not-found for accounts it does not hold.
 */
import { DomainError } from '../errors.js';
import type { Logger } from '../log.js';
import type {
  AccountBalance,
  BankHost,
  CardLossResult,
  PayBillRequest,
  PinLockStatus,
  PinSubject,
  PinUnlockRequest,
  PinUnlockResult,
  PinVerification,
  PostingResult,
  Rates,
  ReverseRequest,
  ReverseResult,
  TransactionLine,
  TransferRequest,
} from './port.js';

/** Which site is the home (开户行) of a customer, account or card; undefined when unknown. */
export interface HomeResolver {
  byCustomer(customerId: string): Promise<string | undefined>;
  byAccount(accountId: string): Promise<string | undefined>;
  byCard(cardNumber: string): Promise<string | undefined>;
}

export interface RoutingBankHostOptions {
  localSiteId: string;
  local: BankHost;
  /** The bank hosts of other sites this site can reach, by site id. */
  remotes: ReadonlyMap<string, BankHost>;
  resolveHome: HomeResolver;
  log: Logger;
  /** How many posting routes to remember for reversals; default 10 000. */
  maxRemembered?: number;
}

const DEFAULT_MAX_REMEMBERED = 10_000;

export class RoutingBankHost implements BankHost {
  /**
   * Where each posting went, keyed by idempotency key and by posting id, so a reversal (which
   * names only one of them) reaches the host that holds the original. Insertion-ordered and
   * bounded: the IVR reverses within seconds of a lost reply, so old entries can go.
   */
  private readonly routes = new Map<string, string>();
  private readonly max: number;

  constructor(private readonly o: RoutingBankHostOptions) {
    this.max = Math.max(2, o.maxRemembered ?? DEFAULT_MAX_REMEMBERED);
  }

  async verifyPin(subject: PinSubject, pin: string): Promise<PinVerification> {
    const home =
      'customerId' in subject
        ? await this.o.resolveHome.byCustomer(subject.customerId)
        : await this.o.resolveHome.byCard(subject.cardNumber);
    return this.hostFor(home, 'verifyPin').host.verifyPin(subject, pin);
  }

  async unlockPin(req: PinUnlockRequest): Promise<PinUnlockResult> {
    // The lock lives at the customer's home host, whichever site the agent works at.
    const home = await this.o.resolveHome.byCustomer(req.customerId);
    return this.hostFor(home, 'unlockPin').host.unlockPin(req);
  }

  async pinLockStatus(customerId: string): Promise<PinLockStatus> {
    const home = await this.o.resolveHome.byCustomer(customerId);
    return this.hostFor(home, 'pinLockStatus').host.pinLockStatus(customerId);
  }

  async balances(customerId: string): Promise<AccountBalance[]> {
    const home = await this.o.resolveHome.byCustomer(customerId);
    return this.hostFor(home, 'balances').host.balances(customerId);
  }

  async recentTransactions(accountId: string, limit: number): Promise<TransactionLine[]> {
    const home = await this.o.resolveHome.byAccount(accountId);
    return this.hostFor(home, 'recentTransactions').host.recentTransactions(accountId, limit);
  }

  async transfer(req: TransferRequest): Promise<PostingResult> {
    const route = this.hostFor(await this.o.resolveHome.byAccount(req.fromAccountId), 'transfer');
    // Remember before the call: if the reply is lost, the reversal by key must still go there.
    this.remember(`key:${req.idempotencyKey}`, route.siteId);
    const r = await route.host.transfer(req);
    this.remember(`posting:${r.postingId}`, route.siteId);
    return r;
  }

  async payBill(req: PayBillRequest): Promise<PostingResult> {
    const route = this.hostFor(await this.o.resolveHome.byAccount(req.fromAccountId), 'payBill');
    this.remember(`key:${req.idempotencyKey}`, route.siteId);
    const r = await route.host.payBill(req);
    this.remember(`posting:${r.postingId}`, route.siteId);
    return r;
  }

  reverse(req: ReverseRequest): Promise<ReverseResult> {
    const key = 'idempotencyKey' in req ? `key:${req.idempotencyKey}` : `posting:${req.postingId}`;
    // Unknown (forgotten, or posted before a restart): the local host is the best guess, and it
    // answers nothing-to-reverse / not-found for what it never posted.
    const home = this.routes.get(key);
    return this.hostFor(home, 'reverse').host.reverse(req);
  }

  async reportCardLoss(cardNumber: string): Promise<CardLossResult> {
    const home = await this.o.resolveHome.byCard(cardNumber);
    return this.hostFor(home, 'reportCardLoss').host.reportCardLoss(cardNumber);
  }

  /** Rates are the bank's, the same on every host: the local one answers fastest. */
  rates(): Promise<Rates> {
    return this.o.local.rates();
  }

  private hostFor(home: string | undefined, op: string): { siteId: string; host: BankHost } {
    if (home === undefined || home === this.o.localSiteId)
      return { siteId: this.o.localSiteId, host: this.o.local };
    const remote = this.o.remotes.get(home);
    if (!remote) {
      this.o.log.warn('bank request refused: home host not reachable', { op, homeSiteId: home });
      throw new DomainError(
        'unavailable',
        `the bank host of site ${home} is not reachable from site ${this.o.localSiteId}`,
      );
    }
    return { siteId: home, host: remote };
  }

  private remember(key: string, siteId: string): void {
    this.routes.delete(key);
    this.routes.set(key, siteId);
    while (this.routes.size > this.max) {
      const oldest = this.routes.keys().next().value;
      if (oldest === undefined) break;
      this.routes.delete(oldest);
    }
  }
}
