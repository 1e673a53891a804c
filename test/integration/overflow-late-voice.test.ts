/**
 * A moved-in call whose caller's voice arrives after the admit (docs/architecture.md §5.9, docs/
 * sip.md "Handing a caller to another site"): over SIP the origin's INVITE with the token follows
 * the commit-ack, so the target's ACD may offer the call, and its agent answer, before the leg is
 * there. Two real sites and the real hub as in overflow.test.ts, but the simulated caller moves
 * through an in-process voice network at the origin's `handOver` (after the ack), as over SIP,
 * instead of travelling in the request, and reaches the target 1.5 s later (a slow WAN), by
 * which time the target's agent has answered. chongqing's agent answers every offer at once: the bridge
 * must wait for the caller's leg, not fail on the stand-in (which sent the agent not-ready
 * `phone-failed` and the caller back to the queue).
 */
import { afterEach, beforeEach, test } from 'vitest';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { pgSkip } from '../../hub/store/testing.js';
import { PROVINCE_TOPOLOGY, seedProvinceDirectory } from '../../deploy/demo/layout.js';
import { SimVoiceNetwork, type SimCallerState } from '../../site-node/sim/sim-hand-over.js';
import { startTestProvince, type TestProvince } from '../support/federation.js';
import { startFederatedSite, type FederatedSite } from '../support/federated-site.js';
import { customerPhone, movedIn, row } from '../support/overflow-checks.js';
import { waitFor } from '../support/wait.js';

const skip = pgSkip || !process.env.TOXIPROXY_URL;
const CUSTOMERS = 3;
const SEED = 5;

let p: TestProvince;
let wz: FederatedSite;
let cq: FederatedSite;
let dir: string;

/** The voice a WAN away: each hand-over reaches the target this much later (after the answer). */
const VOICE_DELAY_MS = 1500;
class SlowVoiceNetwork extends SimVoiceNetwork {
  override deliver(toSiteId: string, token: string, caller: SimCallerState): Promise<void> {
    return new Promise((r) => setTimeout(r, VOICE_DELAY_MS)).then(() =>
      super.deliver(toSiteId, token, caller),
    );
  }
}

beforeEach(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'overflow-late-voice-'));
  const doc = parseYaml(readFileSync(PROVINCE_TOPOLOGY, 'utf8')) as {
    overflow: Array<{ id: string; when: Record<string, unknown> }>;
    cover: Array<{ id: string }>;
  };
  for (const pol of doc.overflow) if (pol.id === 'wanzhou-busy') pol.when = { waitingOver: 0 };
  doc.cover = [];
  const topologyPath = join(dir, 'province.yaml');
  writeFileSync(topologyPath, toYaml(doc));
  p = await startTestProvince({ label: 'ovf_late_hub', topologyPath });
  await seedProvinceDirectory(p.hubDb.pool, ['wanzhou', 'chongqing'], CUSTOMERS, SEED);
  const network = new SlowVoiceNetwork();
  [wz, cq] = await Promise.all([
    startFederatedSite(p, 'wanzhou', { network }),
    startFederatedSite(p, 'chongqing', { network }),
  ]);
  await waitFor('both sites linked, speaking overflow, running the topology', () =>
    [wz, cq].every((s) => s.site.hubLink!.overflowReady && s.site.hubLink!.topology !== null),
  );
}, 120_000);

afterEach(async () => {
  await wz?.close();
  await cq?.close();
  await p?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test.skipIf(skip)(
  "the target's agent answers before the caller's leg arrives: bridged once it does, answered, the agent never sent not-ready",
  async () => {
    // wanzhou busy: its only ready agent on a first call.
    await wz.readyAgent('w07');
    wz.placeRetailCall(customerPhone('wanzhou', 2, CUSTOMERS, SEED));
    await waitFor('w07 on a call', () => wz.site.engine.agent('w07')?.state === 'on-call');
    const pops = await cq.readyAgent('a03');
    const leg = wz.placeRetailCall(customerPhone('wanzhou', 0, CUSTOMERS, SEED));
    const callId = await waitFor('the call taken at wanzhou', () => leg.callId || undefined);

    await waitFor('the call offered at chongqing', () => pops[0], 20_000);
    await waitFor('a03 on the call', () => cq.site.engine.agent('a03')?.state === 'on-call', 20_000);
    // Given the leg's travel time to fail, if it would.
    await waitFor('the caller’s leg at chongqing', () => cq.media.counters.handedIn === 1, 20_000);
    assert.deepEqual(
      cq.lines.filter((l) => l.includes('agent phone did not take the call')),
      [],
      'no agent sent not-ready',
    );
    const mine = await movedIn(cq, callId);
    assert.equal(mine.length, 1, 'admitted once');
    const target = await waitFor('the target call connected in its store', () =>
      row<{ state: string }>(cq, `SELECT state FROM calls WHERE id = $1 AND state = 'connected'`, [
        mine[0]!.id,
      ]),
    );
    assert.equal(target.state, 'connected');
    assert.equal(cq.media.counters.bridged, 1, 'bridged to the agent once');
    const timeline = await cq.pool.query<{ event: string }>(
      `SELECT event FROM call_timeline WHERE call_id = $1 ORDER BY seq`,
      [mine[0]!.id],
    );
    assert.ok(
      !timeline.rows.some((r) => r.event === 'agent-phone-failed'),
      `no failed bridge: ${JSON.stringify(timeline.rows)}`,
    );
    const out = await waitFor('the origin CDR', () =>
      row<{ outcome: string }>(wz, `SELECT outcome FROM cdrs WHERE call_id = $1`, [callId]),
    );
    assert.equal(out.outcome, 'overflowed');
  },
);
