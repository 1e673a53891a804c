/**
 * Link liveness benchmark (issue 9, items 4 and 5): how long a silent link takes to be
 * noticed on each side, and how long a site takes to rejoin a restarted hub.
 *
 * What runs, in this process: a real hub (its own PostgreSQL database from TEST_PG_URL, mTLS
 * gRPC on loopback, the default thresholds: heartbeats every 100 ms, suspect after 400 ms of
 * silence, down after 1.5 s) and one real site link (`GrpcHubLink`, its own site database)
 * that reaches the hub through a TCP relay (test/support/relay.ts). The relay can freeze the
 * connections it carries: bytes are dropped both ways and nothing is closed, which is a
 * half-open link (a cable cut behind a router); connections opened after a freeze go through.
 *
 * - `--silences N` (default 5) rounds: freeze; time until the site's link is `suspect` and
 *   `down` (from its state callback) and until the hub's registry shows the site `suspect`
 *   and `down` (polled every 2 ms, so up to 2 ms late); then until the site is `up` again on
 *   a new connection. `hubDownMs` is null in a round where the site's new stream (it redials
 *   at once when it calls the link down) reached the hub first: its Hello replaced the silent
 *   stream, so the hub went from `suspect` to `up` without passing `down`.
 * - `--restarts N` (default 3) rounds: stop the hub, wait for `--away-dials` (default 4)
 *   failed dials, start a new hub on the same port; time from its being ready to the site's
 *   link `up`.
 *
 * Baseline, measured in the same run before the rounds: on the healthy link (`--healthy-ms`,
 * default 2000, with the false alarms seen in that time), the gaps between messages the hub
 * hears (the heartbeat interval as it really is on this machine: the floor
 * for any silence threshold), and the time of one dial on a live hub (TCP, mTLS, Hello,
 * Welcome: the floor of a rejoin).
 *
 * Progress lines go to stderr; the result is one JSON document (test/bench/run.ts).
 */
import type { SiteLinkMachine, SiteLinkState } from '../../site-node/link/link-state.js';
import { startTestProvince } from '../support/federation.js';
import { relayTo } from '../support/relay.js';
import { waitFor } from '../support/wait.js';

function parseFlags(args: string[], defaults: Record<string, number>): Record<string, number> {
  const out = { ...defaults };
  for (let i = 0; i < args.length; i += 2) {
    const k = args[i]!.replace(/^--/, '');
    if (!(k in defaults)) throw new Error(`unknown flag --${k}; flags: ${Object.keys(defaults).join(', ')}`);
    out[k] = Number(args[i + 1]);
  }
  return out;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? null;
const max = (xs: number[]) => (xs.length ? Math.max(...xs) : null);
const summary = (xs: number[]) => ({ median: median(xs), max: max(xs), all: xs });

export async function run(args: string[], progress: (line: string) => void): Promise<unknown> {
  const f = parseFlags(args, { silences: 5, restarts: 3, 'away-dials': 4, 'healthy-ms': 2000 });
  if (!process.env.TEST_PG_URL) throw new Error('TEST_PG_URL is not set (source the test services env)');
  const p = await startTestProvince({ label: 'bench_liveness', heartbeatIntervalMs: 100 });
  const relay = await relayTo(Number(p.address.split(':')[1]));
  const seen: Array<{ state: SiteLinkState; atMs: number }> = [];
  const onState = (state: SiteLinkState, _m: SiteLinkMachine) => seen.push({ state, atMs: Date.now() });
  try {
    const cq = await p.addSite('chongqing', {
      addresses: [`127.0.0.1:${relay.port}`],
      onState,
      minBackoffMs: undefined,
      maxBackoffMs: undefined,
    });
    const siteUp = () => cq.link.state === 'up';
    const hubState = () => p.hub.registry.get('chongqing')?.link.state;
    await waitFor('site up', () => siteUp() && hubState() === 'up');
    const firstDial = seen.find((s) => s.state === 'connecting')!.atMs;
    const firstWelcome = seen.find((s) => s.state === 'resyncing')!.atMs;

    progress(`baseline: message gaps the hub hears on a healthy link, ${f['healthy-ms']} ms`);
    const gaps: number[] = [];
    const seenBefore = seen.length;
    let hubNotUp = 0;
    let last = p.hub.registry.get('chongqing')!.link.lastHeardMs!;
    const until = Date.now() + f['healthy-ms']!;
    while (Date.now() < until) {
      await new Promise((r) => setTimeout(r, 2));
      if (hubState() !== 'up') hubNotUp++;
      const h = p.hub.registry.get('chongqing')!.link.lastHeardMs!;
      if (h !== last) {
        gaps.push(h - last);
        last = h;
      }
    }
    gaps.sort((a, b) => a - b);
    // False alarms on the healthy link: any state change of the site's link, and polls that
    // found the hub's view of it other than up.
    const falseAlarms = { siteStateChanges: seen.length - seenBefore, hubPollsNotUp: hubNotUp };

    const silences: Array<Record<string, number | null>> = [];
    for (let i = 0; i < f.silences!; i++) {
      await waitFor('site and hub up', () => siteUp() && hubState() === 'up');
      const from = seen.length;
      const t0 = Date.now();
      relay.freeze();
      let hubSuspect: number | null = null;
      let hubDown: number | null = null;
      while (hubDown === null && Date.now() - t0 < 10_000) {
        const s = hubState();
        if (s === 'suspect' && hubSuspect === null) hubSuspect = Date.now() - t0;
        if (s === 'down' || s === 'never') hubDown = Date.now() - t0;
        await new Promise((r) => setTimeout(r, 2));
      }
      await waitFor('site up again', () => siteUp() && seen.length > from, 15_000, 5);
      const after = seen.slice(from);
      const at = (st: SiteLinkState) => {
        const x = after.find((s) => s.state === st);
        return x ? x.atMs - t0 : null;
      };
      const round = {
        siteSuspectMs: at('suspect'),
        siteDownMs: at('down'),
        hubSuspectMs: hubSuspect,
        hubDownMs: hubDown,
        siteUpAgainMs: after.filter((s) => s.state === 'up').at(-1)!.atMs - t0,
      };
      silences.push(round);
      progress(`silence ${i + 1}: ${JSON.stringify(round)}`);
    }

    const restarts: Array<Record<string, number>> = [];
    for (let i = 0; i < f.restarts!; i++) {
      await waitFor('site up', siteUp);
      const from = seen.length;
      await p.stopHub();
      const failed = () =>
        seen.slice(from).filter((s, j, a) => s.state === 'down' && a[j - 1]?.state === 'connecting').length;
      await waitFor('failed dials while the hub is away', () => failed() >= f['away-dials']!, 15_000, 5);
      const readyAt = await p.startHub();
      await waitFor(
        'site up on the new hub',
        () => siteUp() && seen.slice(from).some((s) => s.state === 'up'),
        15_000,
        2,
      );
      const upAt = seen
        .slice(from)
        .filter((s) => s.state === 'up')
        .at(-1)!.atMs;
      const dialsAfterReady = seen
        .slice(from)
        .filter((s) => s.state === 'connecting' && s.atMs >= readyAt).length;
      const round = { rejoinAfterReadyMs: upAt - readyAt, dialsAfterReady, awayDials: failed() };
      restarts.push(round);
      progress(`restart ${i + 1}: ${JSON.stringify(round)}`);
    }

    const col = (k: string) => silences.map((r) => r[k]).filter((v): v is number => typeof v === 'number');
    return {
      config: { heartbeatIntervalMs: 100, suspectAfterMs: 400, downAfterMs: 1500, backoffMs: [100, 500] },
      baseline: {
        healthyGapMs: {
          median: median(gaps),
          p99: gaps[Math.floor(gaps.length * 0.99)] ?? null,
          max: max(gaps),
          n: gaps.length,
        },
        dialOnLiveHubMs: firstWelcome - firstDial,
        falseAlarms,
      },
      silentLink: {
        siteSuspectMs: summary(col('siteSuspectMs')),
        siteDownMs: summary(col('siteDownMs')),
        hubSuspectMs: summary(col('hubSuspectMs')),
        hubDownMs: summary(col('hubDownMs')),
        siteUpAgainMs: summary(col('siteUpAgainMs')),
      },
      hubRestart: {
        rejoinAfterReadyMs: summary(restarts.map((r) => r.rejoinAfterReadyMs!)),
        dialsAfterReady: restarts.map((r) => r.dialsAfterReady),
      },
    };
  } finally {
    await p.close();
    await relay.close();
  }
}
