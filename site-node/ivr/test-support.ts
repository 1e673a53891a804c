/**
 * Shared fixtures for IVR tests and demos: the phone-banking flow and prompt catalogue loaded
 * from disk, an in-memory customer directory matching the demo ledger customers, and
 * recording ticket/callback sinks.
 */
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type { ContactSummary, CustomerDirectory, CustomerProfile } from '../../shared/domain/customer.js';
import { type Flow, type PromptCatalogue, loadPromptCatalogueFile } from './flow.js';
import { loadFlowFile } from './load-flow.js';
import type { CallbackRequest, CallbackSink, TicketRequest, TicketSink } from './session.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const PROMPTS_FILE = path.join(here, 'prompts.yaml');
export const PHONE_BANKING_FILE = path.join(here, 'flows', 'phone-banking.yaml');

export function loadPhoneBanking(): { flow: Flow; catalogue: PromptCatalogue } {
  const catalogue = loadPromptCatalogueFile(PROMPTS_FILE);
  return { flow: loadFlowFile(PHONE_BANKING_FILE, { catalogue, strict: true }).flow, catalogue };
}

const profile = (p: Partial<CustomerProfile> & Pick<CustomerProfile, 'customerId'>): CustomerProfile => ({
  name: p.customerId,
  phones: [],
  cards: [],
  homeSiteId: 'cq',
  segment: 'retail',
  language: 'zh',
  flags: { blacklisted: false, lostCard: false },
  accountIds: [],
  version: 1,
  ...p,
});

/** Matches DEMO_LEDGER_CUSTOMERS in shared/bank-host/demo.ts. */
export const DEMO_PROFILES: CustomerProfile[] = [
  profile({
    customerId: 'c-1001',
    name: '张伟',
    phones: ['13800000001'],
    cards: ['6222020000001001'],
    accountIds: ['a-1001-cur', 'a-1001-dep'],
  }),
  profile({
    customerId: 'c-2001',
    name: '李娜',
    segment: 'vip',
    phones: ['13900000002'],
    cards: ['6222020000002001'],
    accountIds: ['a-2001-cur', 'a-2001-dep', 'a-2001-usd'],
  }),
  profile({
    customerId: 'c-3001',
    name: '王芳',
    phones: ['13700000003'],
    cards: ['6222020000003001'],
    accountIds: ['a-3001-cur'],
  }),
];

export class MemoryDirectory implements CustomerDirectory {
  constructor(private readonly profiles: CustomerProfile[] = DEMO_PROFILES) {}
  byPhone(phone: string) {
    return Promise.resolve(this.profiles.find((p) => p.phones.includes(phone)));
  }
  byCard(card: string) {
    return Promise.resolve(this.profiles.find((p) => p.cards.includes(card)));
  }
  byId(id: string) {
    return Promise.resolve(this.profiles.find((p) => p.customerId === id));
  }
  recentContacts(): Promise<ContactSummary[]> {
    return Promise.resolve([]);
  }
}

export class RecordingSinks implements TicketSink, CallbackSink {
  readonly tickets: TicketRequest[] = [];
  readonly callbacks: CallbackRequest[] = [];
  createTicket(t: TicketRequest): Promise<void> {
    this.tickets.push(t);
    return Promise.resolve();
  }
  scheduleCallback(c: CallbackRequest): Promise<void> {
    this.callbacks.push(c);
    return Promise.resolve();
  }
}
