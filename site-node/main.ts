/**
 * The site node's composition root: read the config, build the adapters, start the site,
 * stop it in order on SIGTERM/SIGINT (docs/architecture.md §3.7).
 *
 *   tsx site-node/main.ts --config deploy/examples/site-chongqing.yaml --database postgres://...
 *   tsx site-node/main.ts ... --simulate [--speed 20 --rate 600]   simulated callers and agents
 *       [--roam-from wanzhou,fuling --roam-share 0.1]   some callers are other sites' customers
 *   --insecure-loopback   the agent desk in plaintext, only on a loopback cti.host (one machine);
 *                         without it the desk needs cti.tls (docs/operations.md §3.2)
 *
 * Voice over SIP/RTP is a later issue, so today a site runs with the simulated media port
 * and simulated callers (`--simulate`); without it, it refuses to start rather than pretend.
 * Prints one JSON line `{"event":"ready",...}` on stdout when it accepts calls.
 */
import { parseSiteArgs } from './cli-args.js';
import { loadSiteConfig } from './config.js';
import { startSimulatedSite } from './sim/simulated-site.js';
import { makePopulation } from './sim/population.js';
import { formatStatsLine } from './stats-line.js';
import { createLogger } from '../shared/log.js';

async function main(): Promise<void> {
  const args = parseSiteArgs(process.argv.slice(2), {
    config: 'deploy/examples/site-chongqing.yaml',
    simulate: false,
  });
  const config = loadSiteConfig(args.config);
  const databaseUrl = args.database ?? config.databaseUrl ?? process.env.SITE_DATABASE_URL;
  if (!databaseUrl)
    throw new Error('no database: give --database, database.url in the config, or SITE_DATABASE_URL');
  if (!args.simulate) {
    throw new Error('no voice adapter yet: SIP/RTP comes with the telephony issue; run with --simulate');
  }
  const log = createLogger({ site: config.siteId });
  const sim = await startSimulatedSite({
    config,
    databaseUrl,
    speed: args.speed,
    callsPerHour: args.callsPerHour,
    customers: args.customers,
    seed: args.seed,
    log,
    // The other sites' simulated customers: the same generator and seed they use themselves.
    roamers: args.roamFrom.flatMap((id) => makePopulation(id, args.customers, args.seed)),
    roamingShare: args.roamingShare,
    insecureLoopback: args.insecureLoopback,
  });
  process.stdout.write(
    JSON.stringify({
      event: 'ready',
      siteId: config.siteId,
      ctiPort: sim.site.ctiPort,
      wallboard: `http://${config.web.host}:${sim.site.webPort}/`,
      hub: config.hub?.addresses.join(',') ?? null,
      pid: process.pid,
    }) + '\n',
  );
  const timer = setInterval(
    () => process.stdout.write(formatStatsLine(sim.site.snapshot()) + '\n'),
    args.statsEverySec * 1000,
  );
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    clearInterval(timer);
    log.info('stopping', { signal });
    sim.stop().then(
      () => process.exit(0),
      (e: unknown) => {
        log.error('unclean stop', { err: e });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((e: unknown) => {
  process.stderr.write(`site-node: ${(e as Error).message}\n`);
  process.exit(1);
});
