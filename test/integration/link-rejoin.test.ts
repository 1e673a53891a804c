/**
 * A silent link is noticed on both sides, and a site rejoins a restarted hub at once (issue 9,
 * items 4 and 5). A real hub (its own Postgres, mTLS
 * on loopback) is stopped and started again on the same port; the site's link must be `up`
 * again, and the link's own record says how: the first redial after the drop was immediate,
 * no redial waited more than the backoff cap, and no dial made once the new hub was serving
 * failed (before the fix the first one did, in milliseconds, with the error of the previous
 * connection, because the gRPC channel was reused in its TRANSIENT_FAILURE backoff). No
 * wall-clock durations are asserted: the rejoin time is measured by the link-liveness bench.
 */
import { afterEach, test } from 'vitest';
import assert from 'node:assert/strict';
import { pgSkip } from '../../hub/store/testing.js';
import type { SiteLinkMachine, SiteLinkState } from '../../site-node/link/link-state.js';
import { startTestProvince, type TestProvince } from '../support/federation.js';
import { relayTo, type Relay } from '../support/relay.js';
import { waitFor } from '../support/wait.js';

let p: TestProvince | undefined;
let relay: Relay | undefined;
afterEach(async () => {
  // The relay first: a frozen connection would hold up the hub's graceful stop.
  await relay?.close();
  await p?.close();
  p = undefined;
  relay = undefined;
});

interface Seen {
  state: SiteLinkState;
  atMs: number;
  redialDelayMs: number | null;
}

test.skipIf(pgSkip)('a site rejoins a hub restarted on the same port without a backoff wait', async () => {
  p = await startTestProvince({ label: 'rejoin_hub', heartbeatIntervalMs: 100 });
  const seen: Seen[] = [];
  const onState = (state: SiteLinkState, m: SiteLinkMachine) =>
    seen.push({ state, atMs: Date.now(), redialDelayMs: m.lastRedialDelayMs });
  // The link's own defaults for the backoff (100 ms doubling to 500 ms), not the support's.
  const cq = await p.addSite('chongqing', { onState, minBackoffMs: undefined, maxBackoffMs: undefined });
  await waitFor('chongqing up', () => cq.link.state === 'up');
  // A link that has been up a while (longer than the minimum backoff) redials at once.
  const upAt = seen.find((s) => s.state === 'up')!.atMs;
  await waitFor('the link up for 100 ms', () => Date.now() - upAt >= 100);
  const drops = cq.link.status.drops;
  const from = seen.length;

  await p.stopHub();
  // The hub stays away for eight failed dials, so that grpc-js's own reconnect backoff (200 ms
  // growing by 1.6 to 5 s) has grown past the link's: a reused channel would then fail the
  // first dial after the restart at once.
  const failedDials = () =>
    seen.slice(from).filter((s, i, a) => s.state === 'down' && a[i - 1]?.state === 'connecting').length;
  await waitFor('eight failed dials while the hub is away', () => failedDials() >= 8, 15_000);
  const readyAtMs = await p.startHub();
  await waitFor(
    'chongqing up again on the restarted hub',
    () => cq.link.state === 'up' && cq.link.status.drops > drops,
    15_000,
  );
  await waitFor('the new hub sees chongqing up', () => p!.hub.registry.get('chongqing')?.link.state === 'up');

  const after = seen.slice(from);
  const downs = after.filter((s) => s.state === 'down');
  assert.ok(downs.length >= 1, 'the link went down with the hub');
  assert.equal(downs[0]!.redialDelayMs, 0, 'the first redial after the drop is immediate');
  for (const d of downs)
    assert.ok(d.redialDelayMs! <= 500, `no redial waited past the 500 ms cap (${d.redialDelayMs} ms)`);
  // Dials started once the new hub was serving: each ended in a welcome, none failed.
  const dialsAfterReady = after.flatMap((s, i) =>
    s.state === 'connecting' && s.atMs >= readyAtMs ? [after[i + 1]?.state] : [],
  );
  assert.ok(
    dialsAfterReady.length <= 1,
    `one dial at most after the hub was ready (${dialsAfterReady.join(', ')})`,
  );
  assert.ok(
    !dialsAfterReady.includes('down'),
    `no dial after the hub was ready failed: ${JSON.stringify(after)}`,
  );
});

test.skipIf(pgSkip)(
  'a silent link (half open): both sides go suspect, then down, and the site redials',
  async () => {
    p = await startTestProvince({ label: 'silent_hub', heartbeatIntervalMs: 100 });
    relay = await relayTo(Number(p.address.split(':')[1]));
    const seen: SiteLinkState[] = [];
    const cq = await p.addSite('chongqing', {
      addresses: [`127.0.0.1:${relay.port}`],
      onState: (state) => seen.push(state),
    });
    const hubView = () => p!.hub.registry.get('chongqing')?.link;
    await waitFor('chongqing up on both sides', () => cq.link.state === 'up' && hubView()?.state === 'up');
    const hubSeen = new Set<string>();
    const from = seen.length;
    const generation = p.hub.registry.get('chongqing')!.generation;

    relay.freeze();
    // The hub's view, polled: suspect first; then either down, or straight back to up when the
    // site's new stream (the site calls the link down and redials) replaced the silent one.
    await waitFor(
      'the hub suspects chongqing',
      () => {
        hubSeen.add(hubView()!.state);
        return hubSeen.has('suspect');
      },
      15_000,
      5,
    );
    await waitFor('the site calls the link down', () => seen.slice(from).includes('down'));
    await waitFor(
      'chongqing up again on a new stream',
      () =>
        cq.link.state === 'up' &&
        p!.hub.registry.get('chongqing')!.generation > generation &&
        hubView()?.state === 'up',
    );
    const states = seen.slice(from);
    assert.deepEqual(states.slice(0, 2), ['suspect', 'down'], 'suspect before down on the site');
    assert.equal(cq.link.status.lastError, null, 'the new stream was welcomed');
    assert.equal(cq.link.status.failedDials, 0, 'the redial through the relay succeeded at once');
  },
);
