/**
 * A hub whose own process stalls (a long GC pause, a burst of synchronous work) longer than the
 * down threshold must not call a healthy site silent: the site's heartbeats kept arriving and
 * wait in the socket. After a stall, Node runs expired timers before it reads sockets, so the
 * silence check has to look after the messages that already came in (docs/architecture.md §6).
 * The site runs in a process of its own (test/support/heartbeat-site.ts), so its heartbeats
 * really do keep coming while this process is blocked.
 */
import { afterAll, beforeAll, test } from 'vitest';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { pgSkip } from '../../hub/store/testing.js';
import { startTestProvince, type TestProvince } from '../support/federation.js';
import { waitFor } from '../support/wait.js';

let p: TestProvince;
let site: ChildProcess | undefined;

beforeAll(async () => {
  if (pgSkip) return;
  p = await startTestProvince({ label: 'stall_hub' });
  p.pki.issue('site', 'wanzhou');
  const tls = p.pki.paths('site', 'wanzhou');
  site = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'test/support/heartbeat-site.ts',
      p.address,
      'wanzhou',
      tls.caPath,
      tls.certPath,
      tls.keyPath,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
});

afterAll(async () => {
  site?.kill('SIGKILL');
  await p?.close();
});

test.skipIf(pgSkip)(
  'a hub stalled past the down threshold does not drop a site that kept talking',
  async () => {
    const link = () => p.hub.registry.get('wanzhou')?.link;
    await waitFor('the site linked and heard', () => link()?.state === 'up', 30_000);
    const downAfterMs = p.hub.registry.times.downAfterMs;
    const downsBefore = p.hubLog.filter((l) => l.includes('"site link down"')).length;

    // Block this process (the hub's) for longer than the down threshold.
    const stallMs = downAfterMs + 1_000;
    const until = Date.now() + stallMs;
    while (Date.now() < until) {
      /* the hub cannot run: no timers, no socket reads */
    }
    const afterStall = Date.now();

    // Once the process runs again, heartbeats sent after the stall are heard on the same link.
    await waitFor('a heartbeat heard after the stall', () => (link()?.lastHeardMs ?? 0) > afterStall + 200);
    assert.equal(
      p.hubLog.filter((l) => l.includes('"site link down"')).length,
      downsBefore,
      'the hub did not declare the site down',
    );
    assert.equal(link()?.state, 'up');
  },
);
