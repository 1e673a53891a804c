/**
 * A real site over SIP for the end-to-end tests of test/sip/site-*.test.ts (docs/sip.md "The
 * tests"): the example site in this process on its own PostgreSQL database, built as main.ts
 * builds it without --simulate (site-node/sip-site.ts), SIP on a free loopback port, the trunk at
 * 127.0.0.1, agents a01-a04 with phones 1001-1004 (digest MD5), the gRPC desk in plaintext. The
 * demo customer c-1001 is in the ledger and the customer table, so the IVR walk of
 * test/sip/scenarios/caller.xml knows the caller by number.
 *
 * The helpers start SIPp peers (test/support/sipp.ts) and desk sessions whose clean-ups run
 * after each test (`cleanup()` in afterEach): each test runs alone, on a site left as it found
 * it (agents logged out, SIPp runs killed).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { seedDemoLedger } from '../../shared/bank-host/pg-ledger.js';
import { DEMO_LEDGER_CUSTOMERS } from '../../shared/bank-host/demo.js';
import { ha1 } from '../../shared/sip/digest-hash.js';
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
import {
  describeSipp,
  freeUdpPort,
  startSipp,
  type SippOptions,
  type SippResult,
  type SippRun,
} from './sipp.js';
import { callerKeys, RETAIL_ANI } from './sipp-walk.js';
import { waitFor } from './wait.js';

const EXAMPLE = new URL('../../deploy/examples/site-chongqing.yaml', import.meta.url).pathname;
export const REALM = 'chongqing.cc.example';
/** Every phone's password (phones 1001-1004). */
export const PHONE_PASSWORD = 'phone-1001-test-password';
export const LOCAL = '127.0.0.1';
const SECRET_ENV = 'I1_SITE_SIP_NONCE_SECRET';
/** Keys come fast: the site skips a prompt when a key is already waiting (type-ahead). */
export const QUICK_WALK = { greeting_ms: 1500, pin_ms: 800, balance_ms: 800, menu_ms: 800, digit_ms: 250 };

/** caller.xml's keys for the quick walk to an agent, then `talkMs` of voice from the 0. */
export const walk = (talkMs: number): Record<string, string | number> =>
  callerKeys(QUICK_WALK, { dnis: '95588', ani: RETAIL_ANI, talkMs });

/** The walk's keys without talk_ms, for the scenarios that talk until something happens. */
export function walkUntilEnd(): Record<string, string | number> {
  const { talk_ms: _talk, ...keys } = walk(0);
  return keys;
}

export interface SiteOverSipOptions {
  /** The test database's name prefix. */
  database: string;
  /** `sip.timers` of the site config, as written there (ms). */
  timers?: Record<string, number>;
}

export function assertAllSucceeded(what: string, r: SippResult, calls: number): void {
  assert.equal(r.code, 0, describeSipp(what, r));
  assert.equal(r.stats?.successful, calls, describeSipp(what, r));
  assert.equal(r.stats.failed, 0, describeSipp(what, r));
}

/** The call the desk offered the agent. */
export function offeredCall(events: DeskEvent[]): string {
  const offer = events.find((e) => e.type === 'offer');
  assert.ok(offer?.type === 'offer', `the agent was offered the call: ${JSON.stringify(events)}`);
  return offer.pop.callId;
}

export class SiteOverSip {
  private readonly cleanups: Array<() => Promise<unknown>> = [];

  private constructor(
    readonly real: SipSite,
    readonly voice: SipVoice,
    readonly desk: GrpcAgentDesk,
    readonly sipPort: number,
    readonly config: SiteConfig,
    private readonly db: TestDatabase,
    private readonly lines: string[],
  ) {}

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
    const sipPort = await freeUdpPort();
    const rtpBase = 32000 + 2 * Math.floor(Math.random() * 2000);
    const db = await freshDatabase(o.database);
    const doc = parseYaml(readFileSync(EXAMPLE, 'utf8')) as Record<string, Record<string, unknown>>;
    delete doc.cti!.tls; // the desk in plaintext on loopback (--insecure-loopback)
    doc.sip = {
      listen: [{ transport: 'udp', host: LOCAL, port: sipPort }],
      publicAddress: LOCAL,
      rtpPorts: { from: rtpBase, to: rtpBase + 99 },
      realm: REALM,
      digest: { secretEnv: SECRET_ENV, algorithms: ['MD5'] },
      trunks: [{ name: 'loopback', sources: [`${LOCAL}/32`], dnis: ['95588'], maxChannels: 10 }],
      phones: ['a01', 'a02', 'a03', 'a04', 'a05', 'a06'].map((agent, i) => ({
        agent,
        extension: `100${i + 1}`,
        ha1: { MD5: ha1('MD5', `100${i + 1}`, REALM, PHONE_PASSWORD) },
      })),
      timers: o.timers ?? {},
    };
    // The phone-banking flow records complaints: a site with real voice needs somewhere to put
    // them (test/sip/site-recording.test.ts tests them).
    doc.recordings = { dir: mkdtempSync(join(tmpdir(), 'site-over-sip-recordings-')) };
    const config = compileSiteConfig(doc, dirname(EXAMPLE), 'site');
    process.env[SECRET_ENV] = 'an-integration-test-nonce-secret-of-40-chars';
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
    return new SiteOverSip(real, real.voice, desk, sipPort, config, db, lines);
  }

  async stop(): Promise<void> {
    this.desk.close();
    await this.real.stop();
    await this.db.drop();
  }

  /** Runs what the test's helpers left to undo, last first (afterEach). */
  async cleanup(): Promise<void> {
    for (const c of this.cleanups.splice(0).reverse()) await c();
  }

  /** Something to undo after the test. */
  later(c: () => Promise<unknown>): void {
    this.cleanups.push(c);
  }

  /** A SIPp run, killed after the test. */
  async sipp(o: SippOptions): Promise<SippRun> {
    const run = await startSipp({ timeoutSec: 90, ...o });
    this.later(() => run.dispose());
    return run;
  }

  /** A SIPp caller from the trunk. */
  caller(scenario: string, keys: Record<string, string | number>, calls = 1): Promise<SippRun> {
    return this.sipp({ scenario, remote: this.remote, calls, keys });
  }

  /** Registers `agentId`'s extension with digest (agent-register.xml), naming `contactPort`. */
  async register(agentId: string, contactPort: number): Promise<void> {
    const extension = `100${agentId.slice(-1)}`;
    const register = await this.sipp({
      scenario: 'agent-register.xml',
      remote: this.remote,
      calls: 1,
      timeoutSec: 20,
      auth: { username: extension, password: PHONE_PASSWORD },
      // SIPp signs the address it sends to unless told; the site checks the digest's uri is the
      // REGISTER's Request-URI (sip:realm).
      extraArgs: ['-auth_uri', REALM],
      keys: { extension, domain: REALM, contact_port: contactPort, expires: 300 },
    });
    assertAllSucceeded(`register ${extension}`, await register.done, 1);
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
    phone: 'registered' | 'not-registered' = 'registered',
    deskAnswers = true,
  ): Promise<DeskEvent[]> {
    const events = await this.signedInAgent(agentId, phone, deskAnswers);
    await this.desk.setReady(agentId);
    return events;
  }

  /** The agent signed in at the desk, not ready; it answers every offer at the desk. Logged out after. */
  async signedInAgent(
    agentId: string,
    phone: 'registered' | 'not-registered',
    deskAnswers = true,
  ): Promise<DeskEvent[]> {
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
    assert.equal(view.phone, phone);
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
   * the desk to name it, and these tests run one at a time.
   */
  callSince(sinceMs: number): Promise<string> {
    return waitFor('the call in PG', async () => {
      const r = await this.real.pool.query<{ id: string }>(`SELECT id FROM calls WHERE created_at >= $1`, [
        new Date(sinceMs),
      ]);
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

  /** Every leg the port opened has ended. */
  legsClosed(): Promise<true> {
    return waitFor('every leg closed', () => this.voice.port.openLegs === 0);
  }
}
