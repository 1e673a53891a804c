/**
 * The sip-site bench (docs/operations.md §8.7) at a tiny load, so it cannot rot: the Kamailio
 * reference and the site half in one run, three calls each, through the same code as a full run
 * (`npm run -s bench -- sip-site`). Every call of the site walks the IVR with the prompts
 * playing, reaches an agent whose SIPp phone answers, and carries RTP both ways; the JSON has
 * the figures the docs describe and the site's ratios against the reference.
 */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { run } from './sip-site.js';

test('the sip-site bench runs both halves at 1 call/s: every site call answered by an agent, RTP both ways, none lost', async () => {
  const lines: string[] = [];
  const out = (await run(['--rate', '1', '--seconds', '3', '--talk', '2000'], (l) => lines.push(l))) as {
    reference: Record<string, unknown> & { callsSuccessful: number; callsFailed: number };
    site: {
      callsAttempted: number;
      callsSuccessful: number;
      callsFailed: number;
      cdrs: { byOutcome: Record<string, number> };
      setupLatency: { count: number };
      queuedToAgentAnswer: { count: number };
      rtp: {
        toCaller: { packets: number; lost: number };
        toAgent: { packets: number; lost: number };
        droppedOnArrival: { site: number };
      };
      resources: {
        site: {
          cpuMs: number;
          peakRssMiB: number;
          perCallByThread: { mainMs: number; mediaWorkerMs: number };
        };
        machine: { cores: number; busyPercent: number };
      };
      mediaPlayoutLag: { stalls: number; delayedMs: number };
    };
    siteVsReference: Record<string, unknown>;
    exitCode: number;
  };
  const why = `${JSON.stringify(out.site, null, 1).slice(0, 3000)}\n${lines.join('\n')}`;
  assert.equal(out.reference.callsSuccessful, 3, why);
  assert.equal(out.reference.callsFailed, 0, why);
  const s = out.site;
  assert.equal(s.callsAttempted, 3, why);
  assert.equal(s.callsSuccessful, 3, why);
  assert.equal(s.callsFailed, 0, why);
  assert.deepEqual(s.cdrs.byOutcome, { answered: 3 }, why);
  assert.equal(s.setupLatency.count, 3, why);
  assert.equal(s.queuedToAgentAnswer.count, 3, why);
  // Prompts, hold and the agent's voice to the caller; the caller's voice to the agent.
  assert.ok(s.rtp.toCaller.packets > 3 * 100, why);
  assert.ok(s.rtp.toAgent.packets > 3 * 20, why);
  assert.equal(s.rtp.toCaller.lost + s.rtp.toAgent.lost + s.rtp.droppedOnArrival.site, 0, why);
  assert.ok(s.resources.site.cpuMs > 0 && s.resources.site.peakRssMiB > 0, why);
  const byThread = s.resources.site.perCallByThread;
  assert.ok(byThread.mainMs > 0 && byThread.mediaWorkerMs > 0, why);
  const machine = s.resources.machine;
  assert.ok(machine.cores >= 1 && machine.busyPercent > 0 && machine.busyPercent <= 100, why);
  assert.ok(s.mediaPlayoutLag.stalls >= 0 && s.mediaPlayoutLag.delayedMs >= 0, why);
  for (const k of ['callsPerSecondAchieved', 'setupLatencyP50', 'cpuMsPerCall'])
    assert.equal(typeof out.siteVsReference[k], 'number', `${k}: ${why}`);
  assert.equal(out.exitCode, 0, why);
}, 300_000);
