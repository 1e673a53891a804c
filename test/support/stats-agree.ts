/**
 * The check that a site's live figures are what its records say (docs/architecture.md §4.8):
 * the day's tally and each queue's window rebuilt from the stored events, as a restart rebuilds
 * them (site-node/runtime/stats-rebuild.ts), equal the ones the site counted live.
 */
import assert from 'node:assert/strict';
import type pg from 'pg';
import type { SiteConfig } from '../../site-node/config.js';
import type { Site } from '../../site-node/runtime/site.js';
import {
  STATS_EVENT_TYPES,
  rebuildOptions,
  rebuildSinceMs,
  rebuildStats,
} from '../../site-node/runtime/stats-rebuild.js';
import { summarise } from '../../site-node/runtime/tally.js';
import { readStatsEvents } from '../../site-node/store/index.js';

export async function assertStatsMatchRecords(
  site: Site,
  pool: pg.Pool,
  config: Pick<SiteConfig, 'acd' | 'utcOffsetMs'>,
  nowMs: number,
  queueId = 'retail',
): Promise<void> {
  await site.flushWrites();
  const o = rebuildOptions(config, site.engine.queueIds(), nowMs);
  const rebuilt = rebuildStats(await readStatsEvents(pool, STATS_EVENT_TYPES, rebuildSinceMs(o), nowMs), o);
  assert.deepEqual(summarise(rebuilt.tally), site.snapshot().summary, 'the day tally: rebuilt vs live');
  assert.equal(site.snapshot().failedWrites, 0);
  assert.equal(rebuilt.tally.queued, site.tally.queued);
  const live = site.engine.stats(queueId).window;
  const w = rebuilt.windows.get(queueId)!;
  const count = (kind: string): number => w.filter((r) => r.kind === kind).length;
  assert.deepEqual(
    { answered: count('answered'), abandoned: count('abandoned'), rejected: count('rejected') },
    { answered: live.answered, abandoned: live.abandoned, rejected: live.rejected },
    `queue ${queueId}'s window: rebuilt vs live`,
  );
}
