/**
 * The hub's composition root: read the config, open the database, start the hub, stop it in
 * order on SIGTERM/SIGINT (docs/architecture.md §3.7).
 *
 *   tsx hub/main.ts --config deploy/examples/hub.yaml [--database postgres://...]
 *
 * Prints one JSON line `{"event":"ready","hubId":...,"port":...,"role":"leader"|"standby",...}` on
 * stdout once it serves (as leader, or as a standby that knows who leads),
 * then a status line per site every `--stats-every` seconds (0 = never).
 */
import { parseArgs } from 'node:util';
import { createPool } from '../shared/pg/pool.js';
import { invalidArgument } from '../shared/errors.js';
import { systemClock } from '../shared/clock.js';
import { createLogger } from '../shared/log.js';
import { loadHubConfig } from './config.js';
import { Hub } from './hub.js';

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      config: { type: 'string', default: 'deploy/examples/hub.yaml' },
      database: { type: 'string' },
      'stats-every': { type: 'string', default: '0' },
    },
    strict: true,
  });
  const statsEvery = Number(values['stats-every']);
  if (!Number.isFinite(statsEvery) || statsEvery < 0) throw invalidArgument('--stats-every', 'must be >= 0');
  const config = loadHubConfig(values.config);
  const databaseUrl = values.database ?? config.databaseUrl ?? process.env.HUB_DATABASE_URL;
  if (!databaseUrl)
    throw new Error('no database: give --database, database.url in the config, or HUB_DATABASE_URL');
  const log = createLogger({ hub: config.hubId });
  const pool = createPool(databaseUrl, { applicationName: `hub-${config.hubId}`, max: 16 });
  // The lease renews on connections of its own (hub/hub.ts HubOptions.leasePool).
  const leasePool = createPool(databaseUrl, { applicationName: `hub-${config.hubId}-lease`, max: 2 });
  const hub = new Hub({ config, pool, leasePool, clock: systemClock, log });
  const port = await hub.start();
  process.stdout.write(
    JSON.stringify({
      event: 'ready',
      hubId: config.hubId,
      port,
      role: hub.role,
      advertiseAddress: hub.advertiseAddress,
      leader: hub.leader ? `${hub.leader.hubId}@${hub.leader.address}` : null,
      board: config.web ? `http://${config.web.host}:${hub.webPort}/` : null,
      topologyVersion: hub.state.currentVersion,
      pid: process.pid,
    }) + '\n',
  );
  const timer =
    statsEvery > 0
      ? setInterval(() => {
          const sites = hub.registry
            .all()
            .map((e) => `${e.siteId}:${e.link.state}/v${e.topologyVersion}`)
            .join(' ');
          const role = hub.role === 'leader' ? 'leader' : `standby (leader ${hub.leader?.address ?? 'none'})`;
          process.stdout.write(
            `hub ${role} v${hub.state.currentVersion} ${sites || '(no site connected yet)'}\n`,
          );
        }, statsEvery * 1000)
      : undefined;
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    if (timer) clearInterval(timer);
    log.info('stopping', { signal });
    hub
      .stop()
      .then(() => Promise.all([pool.end(), leasePool.end()]))
      .then(
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
  process.stderr.write(`hub: ${(e as Error).message}\n`);
  process.exit(1);
});
