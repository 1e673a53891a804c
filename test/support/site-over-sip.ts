/**
 * A real site over SIP for the end-to-end tests of test/sip/site-*.test.ts (docs/sip.md "The
 * tests"): the example site in this process on its own PostgreSQL database, built as main.ts
 * builds it without --simulate (site-node/sip-site.ts), its config from test/support/site-sip.ts:
 * SIP on a free loopback port, the trunk at 127.0.0.1, agents a01-a06 with phones 1001-1006
 * (digest MD5) unless told other agents, the gRPC desk in plaintext, a recordings folder the site
 * creates at start. Options change what a file needs: `sip.timers`, the agents with a phone,
 * dialling out through the trunk's outbound proxy, and any other
 * change to the config (`configure`). The demo customer c-1001 is in the ledger and the customer
 * table, so the IVR walk of test/sip/scenarios/caller.xml knows the caller by number.
 *
 * The helpers start SIPp peers and meters (test/support/sip-peers.ts) and desk sessions whose
 * clean-ups run after each test (`cleanup()` in afterEach): each test runs alone, on a site left
 * as it found it (agents logged out, SIPp runs killed).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { seedDemoLedger } from '../../shared/bank-host/pg-ledger.js';
import { DEMO_LEDGER_CUSTOMERS } from '../../shared/bank-host/demo.js';
import { createLogger } from '../../shared/log.js';
import type { DeskEvent } from '../../site-node/cti/agent-desk.js';
import { GrpcAgentDesk } from '../../site-node/cti/grpc-desk-client.js';
import { testPassword } from '../../site-node/cti/testing.js';
import { compileSiteConfig, type SiteConfig } from '../../site-node/config.js';
import { DEMO_PROFILES } from '../../site-node/ivr/test-support.js';
import { startSipSite, type SipSite } from '../../site-node/sip-site.js';
import { seedCustomers } from '../../site-node/store/index.js';
import type { SipVoice } from '../../site-node/telephony/sip-voice.js';
import { freshDatabase, type TestDatabase } from './pg.js';
import { freeUdpPort, type SippRun } from './sipp.js';
import { LOCAL, SipPeers } from './sip-peers.js';
import {
  EXAMPLE,
  extensionOf,
  NONCE_SECRET,
  PHONE_PASSWORD,
  REALM,
  SECRET_ENV,
  siteSipDoc,
  type SiteDoc,
  type SiteSipDocOptions,
} from './site-sip.js';
import { waitFor } from './wait.js';

export { assertAllSucceeded, LOCAL } from './sip-peers.js';
export { PHONE_PASSWORD, QUICK_WALK, REALM, walk, walkUntilEnd } from './site-sip.js';

export interface SiteOverSipOptions extends Pick<
  SiteSipDocOptions,
  'phones' | 'timers' | 'dialOut' | 'example'
> {
  /** The test database's name prefix. */
  database: string;
  /** The SIP port (default a free one): a topology naming the site needs it before the start. */
  sipPort?: number;
  /** The first of the site's 100 RTP ports (default a random one): two sites in one test apart. */
  rtpBase?: number;
  /** Changes to the config before it is compiled (a queue's callbacks, say). */
  configure?: (doc: SiteDoc) => void;
}

/** How the agent's phone stands as the desk shows it at sign-in; `none`: the agent has no phone. */
export type PhoneAtSignIn = 'registered' | 'not-registered' | 'none';

/** The call the desk offered the agent. */
export function offeredCall(events: DeskEvent[]): string {
  const offer = events.find((e) => e.type === 'offer');
  assert.ok(offer?.type === 'offer', `the agent was offered the call: ${JSON.stringify(events)}`);
  return offer.pop.callId;
}

export class SiteOverSip extends SipPeers {
  private constructor(
    readonly real: SipSite,
    readonly voice: SipVoice,
    readonly desk: GrpcAgentDesk,
    readonly sipPort: number,
    readonly config: SiteConfig,
    /** The flow's recordings folder (the site created it at start). */
    readonly recordings: string,
    private readonly db: TestDatabase,
    private readonly lines: string[],
  ) {
    super(90);
  }

  /** The site's log lines (JSON) with this message, as objects. */
  logged(msg: string): Array<Record<string, unknown>> {
    return this.lines
      .filter((l) => l.includes(JSON.stringify(msg)))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l['msg'] === msg);
  }

  /** host:port the carrier's SIPp calls. */
  get remote(): string {
    return `${LOCAL}:${this.sipPort}`;
  }

  static async start(o: SiteOverSipOptions): Promise<SiteOverSip> {
    // The site's log lines are kept for the tests to read (why a leg ended); SITE_SIP_TEST_LOG=debug
    // also shows them on stderr, with the debug lines, when a run needs explaining.
    const lines: string[] = [];
    const shown = process.env['SITE_SIP_TEST_LOG'] as 'debug' | undefined;
    const log = createLogger(
      {},
      {
        level: shown ?? 'info',
        write: (line) => {
          if (lines.length < 100_000) lines.push(line);
          if (shown) process.stderr.write(`${line}\n`);
        },
      },
    );
    const sipPort = o.sipPort ?? (await freeUdpPort());
    const rtpBase = o.rtpBase ?? 32000 + 2 * Math.floor(Math.random() * 2000);
    const db = await freshDatabase(o.database);
    // The phone-banking flow records complaints: a site with real voice needs somewhere to put
    // them. Not there yet: the site creates it at start.
    const recordings = join(mkdtempSync(join(tmpdir(), 'site-over-sip-')), 'recordings');
    const doc = siteSipDoc({
      ...(o.example ? { example: o.example } : {}),
      sipPort,
      rtpBase,
      recordingsDir: recordings,
      ...(o.phones ? { phones: o.phones } : {}),
      ...(o.timers ? { timers: o.timers } : {}),
      ...(o.dialOut ? { dialOut: o.dialOut } : {}),
    });
    o.configure?.(doc);
    const config = compileSiteConfig(doc, dirname(o.example ?? EXAMPLE), 'site');
    process.env[SECRET_ENV] = NONCE_SECRET;
    const real = await startSipSite({
      config,
      databaseUrl: db.url,
      log,
      insecureLoopback: true,
      drainMs: 500,
      announceEveryMs: 1500,
    });
    for (const u of [...config.agents, ...config.supervisors]) {
      await real.site.credentials.setPassword(u.id, testPassword(u.id), 'test');
    }
    // The walk's caller: the demo customer c-1001, known by number, PIN 135790.
    await seedDemoLedger(real.pool, DEMO_LEDGER_CUSTOMERS.slice(0, 1));
    await seedCustomers(real.site.store, [{ ...DEMO_PROFILES[0]!, homeSiteId: config.siteId }]);
    const desk = new GrpcAgentDesk({ address: `127.0.0.1:${real.site.ctiPort}`, password: testPassword });
    return new SiteOverSip(real, real.voice, desk, sipPort, config, recordings, db, lines);
  }

  async stop(): Promise<void> {
    this.desk.close();
    await this.real.stop();
    await this.db.drop();
    rmSync(dirname(this.recordings), { recursive: true, force: true });
  }

  /** A SIPp caller from the trunk. */
  caller(scenario: string, keys: Record<string, string | number>, calls = 1): Promise<SippRun> {
    return this.sipp({ scenario, remote: this.remote, calls, keys });
  }

  /** Registers `agentId`'s extension with digest (agent-register.xml), naming `contactPort`. */
  async register(agentId: string, contactPort: number): Promise<void> {
    const extension = extensionOf(agentId);
    await this.registerPhone({
      remote: this.remote,
      extension,
      password: PHONE_PASSWORD,
      realm: REALM,
      contactPort,
    });
    await waitFor(
      `${extension} registered`,
      () => this.voice.registrar?.phoneState(agentId) === 'registered',
    );
  }

  /** An agent phone (agent-phone.xml or a variant) and its registration (agent-register.xml). */
  async registeredPhone(
    agentId: string,
    scenario = 'agent-phone.xml',
    keys: Record<string, number> = {},
  ): Promise<SippRun> {
    const phone = await this.sipp({ scenario, keys: { ring_ms: 200, ...keys } });
    await this.register(agentId, phone.port);
    return phone;
  }

  /**
   * The agent signed in at the desk and ready; it answers every offer at the desk unless told
   * not to (then only its phone can answer). Logged out after.
   */
  async readyAgent(
    agentId: string,
    phone: PhoneAtSignIn = 'registered',
    deskAnswers = true,
  ): Promise<DeskEvent[]> {
    const events = await this.signedInAgent(agentId, phone, deskAnswers);
    await this.desk.setReady(agentId);
    return events;
  }

  /** The agent signed in at the desk, not ready; it answers every offer at the desk. Logged out after. */
  async signedInAgent(agentId: string, phone: PhoneAtSignIn, deskAnswers = true): Promise<DeskEvent[]> {
    const { desk } = this;
    const events: DeskEvent[] = [];
    const unsubscribe = desk.subscribe(agentId, (e) => {
      events.push(e);
      if (e.type === 'offer' && deskAnswers) void desk.answer(agentId, e.pop.callId).catch(() => {});
    });
    // As a desk does: a heartbeat well within the lease (30 s), or a test longer than that
    // finds its agent not-ready (lease-lapsed).
    const beat = setInterval(() => void desk.heartbeat(agentId).catch(() => {}), 10_000);
    this.later(async () => {
      clearInterval(beat);
      unsubscribe();
      const v = await desk.agent(agentId);
      if (v.state === 'wrap-up' && v.callId) await desk.completeWrapup(agentId, v.callId, 'resolved');
      await desk.logout(agentId);
    });
    const view = await desk.login(agentId);
    assert.equal(view.phone ?? 'none', phone);
    return events;
  }

  /** Waits for the agent to reach wrap-up on `callId` and completes it: the agent is ready again. */
  async finishWrapup(agentId: string, callId: string): Promise<void> {
    await waitFor(`${agentId} in wrap-up`, async () => (await this.desk.agent(agentId)).state === 'wrap-up');
    await this.desk.completeWrapup(agentId, callId, 'resolved');
    const view = await this.desk.agent(agentId);
    assert.equal(view.state, 'ready', JSON.stringify(view));
  }

  /**
   * The one call the site opened since `sinceMs`: a call that reaches no agent has no offer at
   * the desk to name it, and these tests run one at a time. `exceptCallbacks`: the one call from
   * the trunk, not counting the callbacks the site opened to dial out (DNIS `callback`).
   */
  callSince(sinceMs: number, o: { exceptCallbacks?: boolean } = {}): Promise<string> {
    const which = o.exceptCallbacks ? ` AND dnis <> 'callback'` : '';
    return waitFor('the call in PG', async () => {
      const r = await this.real.pool.query<{ id: string }>(
        `SELECT id FROM calls WHERE created_at >= $1${which}`,
        [new Date(sinceMs)],
      );
      assert.ok(r.rows.length <= 1, `one call since the test began: ${JSON.stringify(r.rows)}`);
      return r.rows[0]?.id;
    });
  }

  async timelineOf(callId: string): Promise<string[]> {
    const r = await this.real.pool.query<{ event: string }>(
      `SELECT event FROM call_timeline WHERE call_id = $1 ORDER BY seq`,
      [callId],
    );
    return r.rows.map((x) => x.event);
  }

  /**
   * What a test that timed out on a call shows: its timeline, the agent as the desk sees it, the
   * port's open legs with their phases and the site's last warnings, so a failure on a loaded
   * machine can be explained from its output alone.
   */
  async explain(callId: string, agentId: string): Promise<string> {
    const agent = await this.desk.agent(agentId).catch((e: unknown) => String(e));
    const warnings = this.lines.filter((l) => /^\{"level":"(warn|error)"/.test(l)).slice(-8);
    return [
      `timeline of ${callId}: ${(await this.timelineOf(callId)).join(', ')}`,
      `${agentId}: ${JSON.stringify(agent)}`,
      `open legs: ${this.voice.port.legStates().join('; ') || 'none'}`,
      `last warnings:\n${warnings.join('\n')}`,
    ].join('\n');
  }

  /** Every leg the port opened has ended. */
  legsClosed(): Promise<true> {
    return waitFor('every leg closed', () => this.voice.port.openLegs === 0);
  }
}
