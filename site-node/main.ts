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
 * Without `--simulate` the site takes real calls over SIP/RTP (sip-site.ts, docs/sip.md "The
 * site over SIP"): the config needs its `sip:` section, and the prompts built (`npm run
 * prompts`). Without either it refuses to start, naming what is missing, rather than pretend.
 * Prints one JSON line `{"event":"ready",...}` on stdout when it accepts calls.
 */
import { parseSiteArgs, type SiteCliOptions } from './cli-args.js';
import { loadSiteConfig, type SiteConfig } from './config.js';
import type { Site } from './runtime/site.js';
import { startSipSite } from './sip-site.js';
import { startSimulatedSite } from './sim/simulated-site.js';
import { makePopulation } from './sim/population.js';
import { formatStatsLine } from './stats-line.js';
import { createLogger, type Logger } from '../shared/log.js';

async function main(): Promise<void> {
  const args = parseSiteArgs(process.argv.slice(2), {
    config: 'deploy/examples/site-chongqing.yaml',
    simulate: false,
  });
  const config = loadSiteConfig(args.config);
  const databaseUrl = args.database ?? config.databaseUrl ?? process.env.SITE_DATABASE_URL;
  if (!databaseUrl)
    throw new Error('no database: give --database, database.url in the config, or SITE_DATABASE_URL');
  if (!args.simulate && !config.sip) {
    throw new Error(
      `${args.config} has no sip: section: a site without --simulate takes its calls over SIP ` +
        '(docs/operations.md "A site\'s SIP section"); add one, or run with --simulate',
    );
  }
  const log = createLogger({ site: config.siteId });
  const running = args.simulate
    ? await simulated(args, config, databaseUrl, log)
    : await real(args, config, databaseUrl, log);
  process.stdout.write(
    JSON.stringify({
      event: 'ready',
      siteId: config.siteId,
      ctiPort: running.site.ctiPort,
      wallboard: `http://${config.web.host}:${running.site.webPort}/`,
      hub: config.hub?.addresses.join(',') ?? null,
      ...(running.sip ? { sip: running.sip } : {}),
      pid: process.pid,
    }) + '\n',
  );
  const timer = setInterval(
    () => process.stdout.write(formatStatsLine(running.site.snapshot()) + '\n'),
    args.statsEverySec * 1000,
  );
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    clearInterval(timer);
    log.info('stopping', { signal });
    running.stop().then(
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

interface Running {
  site: Site;
  /** The SIP addresses taken, for a real site. */
  sip?: string[];
  stop(): Promise<void>;
}

async function real(
  args: SiteCliOptions,
  config: SiteConfig,
  databaseUrl: string,
  log: Logger,
): Promise<Running> {
  const s = await startSipSite({ config, databaseUrl, log, insecureLoopback: args.insecureLoopback });
  const stack = s.voice.stack!;
  const sip = config.sip!.listen.map((l) => `${l.transport}:${l.host}:${stack.address(l.transport).port}`);
  return { site: s.site, sip, stop: () => s.stop() };
}

async function simulated(
  args: SiteCliOptions,
  config: SiteConfig,
  databaseUrl: string,
  log: Logger,
): Promise<Running> {
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
  return { site: sim.site, stop: () => sim.stop() };
}

main().catch((e: unknown) => {
  process.stderr.write(`site-node: ${(e as Error).message}\n`);
  process.exit(1);
});
