/**
 * A call moved in from another site joins a recorded queue at the target, and is recorded there
 * (docs/sip.md "Call recording", "Handing a caller to another site"; docs/architecture.md §5.9).
 * Two real sites over SIP in this process (test/support/site-over-sip.ts: wanzhou and chongqing
 * from their example configs, each on its own PostgreSQL database with its own SIP stack, media
 * engine and recordings folder) linked to a real hub (test/support/federation.ts) whose topology
 * names their SIP addresses and one overflow policy: wanzhou's complaints callers go to chongqing
 * as soon as one waits. A SIPp caller on wanzhou's trunk makes a complaint (6, 1, #: the flow
 * records it at wanzhou from its complaint ticket node) and waits in wanzhou's complaints queue,
 * where nobody is signed in; the call moves, wanzhou hands the caller's leg over (INVITE with the
 * token, media relayed through wanzhou), chongqing's a04 answers on its SIPp phone, both talk,
 * the caller hangs up. chongqing's CDR of the moved-in call names its WAV (reason
 * `queue:complaints`): stereo 8 kHz, the caller on channel 0, the agent on channel 1.
 */
import { afterAll, afterEach, beforeAll, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { PROVINCE_TOPOLOGY } from '../../deploy/demo/layout.js';
import { getCdr, type Cdr } from '../../site-node/store/index.js';
import { startTestProvince, type TestProvince } from '../support/federation.js';
import {
  assertStereoRecording,
  savedRecording,
  speechMs,
  stereoChannels,
} from '../support/recording-checks.js';
import { freeUdpPort } from '../support/sipp.js';
import { RETAIL_ANI } from '../support/sipp-walk.js';
import { assertAllSucceeded, LOCAL, offeredCall, SiteOverSip } from '../support/site-over-sip.js';
import { waitFor } from '../support/wait.js';

const skip = !process.env.TEST_PG_URL;
/** From the # to the caller's BYE: the queue at wanzhou, the move, then chongqing's agent. */
const TALK_MS = 16_000;

let dir: string;
let p: TestProvince;
let wz: SiteOverSip;
let cq: SiteOverSip;

/** A site of the example province over SIP on `sipPort`, linked to the test hub. */
function federatedSipSite(siteId: string, sipPort: number, rtpBase: number, phones: string[]) {
  p.pki.issue('site', siteId);
  const tls = p.pki.paths('site', siteId);
  return SiteOverSip.start({
    database: `rec_moved_${siteId}`,
    example: new URL(`../../deploy/examples/site-${siteId}.yaml`, import.meta.url).pathname,
    sipPort,
    rtpBase,
    phones,
    configure: (doc) => {
      doc.hub = {
        address: p.address,
        id: 'hub',
        tls: { ca: tls.caPath, cert: tls.certPath, key: tls.keyPath },
        events: 'link',
        snapshotIntervalMs: 200,
      };
    },
  });
}

beforeAll(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'hand-over-recording-'));
  const [wzSip, cqSip] = [await freeUdpPort(), await freeUdpPort()];
  // The example province, with the two sites' real SIP addresses, one policy and no cover.
  const doc = parseYaml(readFileSync(PROVINCE_TOPOLOGY, 'utf8')) as {
    sites: Array<{ id: string; endpoints: Record<string, string> }>;
    overflow: unknown[];
    cover: unknown[];
  };
  for (const site of doc.sites) {
    if (site.id === 'wanzhou') site.endpoints.sip = `${LOCAL}:${wzSip}`;
    if (site.id === 'chongqing') site.endpoints.sip = `${LOCAL}:${cqSip}`;
  }
  doc.overflow = [
    {
      id: 'wanzhou-complaints',
      from: 'wanzhou',
      queues: ['complaints'],
      to: ['chongqing'],
      when: { waitingOver: 0 },
      maxHops: 1,
    },
  ];
  doc.cover = [];
  const topologyPath = join(dir, 'province.yaml');
  writeFileSync(topologyPath, toYaml(doc));
  p = await startTestProvince({ label: 'rec_moved_hub', topologyPath });
  const base = 36000 + 2 * Math.floor(Math.random() * 1000);
  wz = await federatedSipSite('wanzhou', wzSip, base, []);
  cq = await federatedSipSite('chongqing', cqSip, base + 200, ['a04']);
  await waitFor(
    'both sites linked, speaking overflow, running the topology',
    () => [wz, cq].every((s) => s.real.site.hubLink!.overflowReady && s.real.site.hubLink!.topology !== null),
    30_000,
  );
}, 120_000);

afterEach(async () => {
  await wz?.cleanup();
  await cq?.cleanup();
});
afterAll(async () => {
  await wz?.stop();
  await cq?.stop();
  await p?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(skip)('a call moved in from another site, recorded at the target', () => {
  test("a complaint moved from wanzhou joins chongqing's complaints queue: recorded there, the caller on channel 0, chongqing's agent on 1, the CDR names the WAV", async () => {
    const sinceMs = Date.now();
    const phone = await cq.registeredPhone('a04');
    const events = await cq.readyAgent('a04');
    const caller = await wz.caller('caller-complaint.xml', {
      dnis: '95588',
      ani: RETAIL_ANI,
      greeting_ms: 1500,
      menu_ms: 800,
      skip_ms: 1000,
      talk_ms: TALK_MS,
    });
    const callId = await waitFor(
      'the offer at chongqing',
      () => events.some((e) => e.type === 'offer') && offeredCall(events),
      TALK_MS,
    );
    assertAllSucceeded('complaining caller', await caller.done, 1);
    assertAllSucceeded('agent phone', await phone.stop(), 1);

    await waitFor('a04 in wrap-up', async () => (await cq.desk.agent('a04')).state === 'wrap-up');
    await cq.desk.completeWrapup('a04', callId, 'complaint-logged');
    const cdr: Cdr = await waitFor('the CDR at chongqing', () => getCdr(cq.real.pool, callId));
    assert.equal(cdr.outcome, 'answered', JSON.stringify(cdr));
    assert.equal(cdr.queueId, 'complaints', JSON.stringify(cdr));
    assert.equal(cdr.agentId, 'a04', JSON.stringify(cdr));
    const r = await assertStereoRecording(
      cq.real.pool,
      cq.recordings,
      callId,
      'queue:complaints',
      cdr.talkMs,
    );
    // The recording began with the caller's leg at chongqing: the talk after the move, not the
    // walk through wanzhou's IVR.
    assert.ok(r.rec.durationMs! <= TALK_MS + 1_000, JSON.stringify(r));

    // wanzhou ended its call overflowed. It recorded the complaint from its ticket node, and that
    // file runs on with the caller's side until the caller hangs up (the leg it relays): no agent
    // of wanzhou was ever on it.
    const originId = await wz.callSince(sinceMs);
    const origin = await waitFor('the CDR at wanzhou', () => getCdr(wz.real.pool, originId));
    assert.equal(origin.outcome, 'overflowed', JSON.stringify(origin));
    assert.deepEqual(origin.overflowOut?.toSiteId, 'chongqing', JSON.stringify(origin));
    const atOrigin = await savedRecording(wz.real.pool, originId);
    assert.equal(atOrigin.reason, 'node:complaint_ticket', JSON.stringify(atOrigin));
    assert.equal(speechMs(stereoChannels(atOrigin.path!).agent), 0, "no agent on wanzhou's file");
    await waitFor(
      'every leg closed at both sites',
      () => wz.voice.port.openLegs === 0 && cq.voice.port.openLegs === 0,
    );
    assert.equal(cq.voice.port.recordings.running, 0);
  }, 150_000);
});
