/**
 * A real call through a real site (issue 12): the example site in this process on its own
 * PostgreSQL database, with the SIP media port (site-node/telephony/sip-voice.ts) instead of the
 * simulated one. A SIPp agent phone registers with digest and answers; the agent signs in and
 * goes ready through the gRPC desk and answers the offer there; a SIPp caller from the trunk
 * walks the IVR with RFC 4733 keys (1, PIN 135790#, 9, 0), waits, talks and hangs up.
 * docs/sip.md "The site over SIP".
 */
import { afterAll, afterEach, beforeAll, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { seedDemoLedger } from '../../shared/bank-host/pg-ledger.js';
import { DEMO_LEDGER_CUSTOMERS } from '../../shared/bank-host/demo.js';
import { ha1 } from '../../shared/sip/digest-hash.js';
import { createLogger, silentLogger } from '../../shared/log.js';
import type { DeskEvent } from '../../site-node/cti/agent-desk.js';
import { DEMO_PROFILES } from '../../site-node/ivr/test-support.js';
import { getCdr, seedCustomers } from '../../site-node/store/index.js';
import { createSipVoice, type SipVoice } from '../../site-node/telephony/sip-voice.js';
import { startExampleSite, type ExampleSite } from '../support/example-site.js';
import {
  describeSipp,
  freeUdpPort,
  startSipp,
  type SippOptions,
  type SippResult,
  type SippRun,
} from '../support/sipp.js';
import { callerKeys, RETAIL_ANI } from '../support/sipp-walk.js';
import { waitFor } from '../support/wait.js';

const REALM = 'chongqing.cc.example';
const PASSWORD = 'phone-1001-test-password';
const LOCAL = '127.0.0.1';
const SECRET_ENV = 'I1_SITE_SIP_NONCE_SECRET';
/** Keys come fast: the site skips a prompt when a key is already waiting (type-ahead). */
/** SITE_SIP_TEST_LOG=debug shows the site's log on stderr when a run needs explaining. */
const log = process.env['SITE_SIP_TEST_LOG']
  ? createLogger({}, { level: process.env['SITE_SIP_TEST_LOG'] as 'debug' })
  : silentLogger;
const QUICK_WALK = { greeting_ms: 1500, pin_ms: 800, balance_ms: 800, menu_ms: 800, digit_ms: 250 };

let ex: ExampleSite;
let voice: SipVoice;
let sipPort: number;

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function sipp(o: SippOptions): Promise<SippRun> {
  const run = await startSipp({ timeoutSec: 90, ...o });
  cleanups.push(() => run.dispose());
  return run;
}

function assertAllSucceeded(what: string, r: SippResult, calls: number): void {
  assert.equal(r.code, 0, describeSipp(what, r));
  assert.equal(r.stats?.successful, calls, describeSipp(what, r));
  assert.equal(r.stats.failed, 0, describeSipp(what, r));
}

beforeAll(async () => {
  sipPort = await freeUdpPort();
  const rtpBase = 32000 + 2 * Math.floor(Math.random() * 2000);
  ex = await startExampleSite({
    label: 'site_over_sip',
    drainMs: 500,
    log,
    edit: (doc) => {
      doc.sip = {
        listen: [{ transport: 'udp', host: LOCAL, port: sipPort }],
        publicAddress: LOCAL,
        rtpPorts: { from: rtpBase, to: rtpBase + 99 },
        realm: REALM,
        digest: { secretEnv: SECRET_ENV, algorithms: ['MD5'] },
        trunks: [{ name: 'loopback', sources: [`${LOCAL}/32`], dnis: ['95588'], maxChannels: 10 }],
        phones: [{ agent: 'a01', extension: '1001', ha1: { MD5: ha1('MD5', '1001', REALM, PASSWORD) } }],
        timers: { ringTimeout: 4000 },
      };
    },
    phones: { phoneState: (agentId) => voice.registrar?.phoneState(agentId) ?? 'no-phone' },
    media: async (config, scheduler) => {
      voice = await createSipVoice({
        config,
        scheduler,
        log,
        env: { [SECRET_ENV]: 'an-integration-test-nonce-secret-of-40-chars' },
      });
      return voice.port;
    },
  });
  await voice.listen(ex.pool, (agentId) => ex.site.desk.phoneChanged(agentId));
  // The walk's caller: the demo customer c-1001, known by number, PIN 135790.
  await seedDemoLedger(ex.pool, DEMO_LEDGER_CUSTOMERS.slice(0, 1));
  await seedCustomers(ex.site.store, [{ ...DEMO_PROFILES[0]!, homeSiteId: ex.config.siteId }]);
}, 60_000);

afterAll(async () => {
  await ex?.close();
  await voice?.stop();
});

/** The agent phone (agent-phone.xml) and its registration (agent-register.xml) as 1001. */
async function registeredPhone(
  scenario = 'agent-phone.xml',
  keys: Record<string, number> = {},
): Promise<SippRun> {
  const phone = await sipp({ scenario, keys: { ring_ms: 200, ...keys } });
  const register = await sipp({
    scenario: 'agent-register.xml',
    remote: `${LOCAL}:${sipPort}`,
    calls: 1,
    timeoutSec: 20,
    auth: { username: '1001', password: PASSWORD },
    // SIPp signs the address it sends to unless told; the site checks the digest's uri is the
    // REGISTER's Request-URI (sip:realm).
    extraArgs: ['-auth_uri', REALM],
    keys: { extension: '1001', domain: REALM, contact_port: phone.port, expires: 300 },
  });
  assertAllSucceeded('register 1001', await register.done, 1);
  await waitFor('1001 registered', () => voice.registrar?.phoneState('a01') === 'registered');
  return phone;
}

describe('a real site over SIP', () => {
  test('a caller walks the IVR to an agent whose phone registered and answers; the caller hangs up; CDR and timeline in PG', async () => {
    const phone = await registeredPhone();
    const events: DeskEvent[] = [];
    const unsubscribe = ex.desk.subscribe('a01', (e) => {
      events.push(e);
      if (e.type === 'offer') void ex.desk.answer('a01', e.pop.callId);
    });
    cleanups.push(async () => unsubscribe());
    const view = await ex.desk.login('a01');
    assert.equal(view.phone, 'registered');
    await ex.desk.setReady('a01');

    const caller = await sipp({
      scenario: 'caller.xml',
      remote: `${LOCAL}:${sipPort}`,
      calls: 1,
      keys: callerKeys(QUICK_WALK, { dnis: '95588', ani: RETAIL_ANI, talkMs: 6000 }),
    });
    const callerResult = await caller.done;
    assertAllSucceeded('caller', callerResult, 1);
    assertAllSucceeded('agent phone', await phone.stop(), 1);

    const offer = events.find((e) => e.type === 'offer');
    assert.ok(offer?.type === 'offer', `the agent was offered the call: ${JSON.stringify(events)}`);
    const callId = offer.pop.callId;
    assert.equal(offer.pop.customer?.customerId, 'c-1001');
    const view2 = await waitFor('a01 in wrap-up', async () => {
      const v = await ex.desk.agent('a01');
      return v.state === 'wrap-up' ? v : undefined;
    });
    assert.ok(view2);
    await ex.desk.completeWrapup('a01', callId, 'resolved');
    const cdr = await waitFor('the CDR', () => getCdr(ex.pool, callId));
    assert.equal(cdr.outcome, 'answered', JSON.stringify(cdr));
    assert.equal(cdr.agentId, 'a01');
    assert.ok(cdr.answeredAtMs !== undefined && cdr.endedAtMs !== undefined, JSON.stringify(cdr));
    assert.ok(cdr.answeredAtMs >= cdr.startedAtMs && cdr.endedAtMs > cdr.answeredAtMs, JSON.stringify(cdr));
    const timeline = await ex.pool.query<{ event: string }>(
      `SELECT event FROM call_timeline WHERE call_id = $1 ORDER BY seq`,
      [callId],
    );
    const kinds = timeline.rows.map((r) => r.event);
    for (const k of ['offer', 'answer'])
      assert.ok(kinds.includes(k), `timeline has ${k}: ${kinds.join(', ')}`);
    await waitFor('every leg closed', () => voice.port.openLegs === 0);
  }, 120_000);
});
