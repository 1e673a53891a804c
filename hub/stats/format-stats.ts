/**
 * `fedctl stats` output: one fixed-width table for the sites (with the province total as its
 * last row) and one for the queues. Pure, so the CLI and its tests share it. Columns are sized
 * to their widest cell, numbers right-aligned, text left-aligned; a figure that does not
 * exist (no calls offered, none answered) prints as "—" rather than a misleading 0.
 */
import type { ProvinceStats, QueueStats, SiteStats } from './province-stats.js';

export const NONE = '—';

interface Column<R> {
  header: string;
  align: 'left' | 'right';
  cell: (r: R) => string;
}

const pct = (x: number | null): string => (x === null ? NONE : (100 * x).toFixed(1));
const secs = (ms: number | null): string => (ms === null ? NONE : (ms / 1000).toFixed(1));

const outcomeColumns = <R extends SiteStats | QueueStats>(): Array<Column<R>> => [
  { header: 'OFFERED', align: 'right', cell: (r) => String(r.offered) },
  { header: 'ANSWERED', align: 'right', cell: (r) => String(r.answered) },
  { header: 'ABANDONED', align: 'right', cell: (r) => String(r.abandoned) },
  { header: 'SL %', align: 'right', cell: (r) => pct(r.serviceLevel) },
  { header: 'ASA s', align: 'right', cell: (r) => secs(r.averageSpeedOfAnswerMs) },
  { header: 'ABAND %', align: 'right', cell: (r) => pct(r.abandonRate) },
];

const siteColumns: Array<Column<SiteStats>> = [
  { header: 'SITE', align: 'left', cell: (r) => (r.siteId === '*' ? 'PROVINCE' : r.siteId) },
  { header: 'LINK', align: 'left', cell: (r) => r.link },
  ...outcomeColumns<SiteStats>(),
  { header: 'WAITING', align: 'right', cell: (r) => String(r.callsWaiting) },
  { header: 'LIVE', align: 'right', cell: (r) => String(r.liveCalls) },
  {
    header: 'AGENTS',
    align: 'left',
    cell: (r) => (r.agents.length === 0 ? NONE : r.agents.map((a) => `${a.state} ${a.count}`).join(', ')),
  },
];

const queueColumns: Array<Column<QueueStats>> = [
  { header: 'SITE', align: 'left', cell: (r) => r.siteId },
  { header: 'QUEUE', align: 'left', cell: (r) => r.queueId },
  ...outcomeColumns<QueueStats>(),
  { header: 'WAITING', align: 'right', cell: (r) => String(r.callsWaiting) },
  { header: 'OLDEST s', align: 'right', cell: (r) => secs(r.callsWaiting === 0 ? null : r.oldestWaitMs) },
  { header: 'READY', align: 'right', cell: (r) => String(r.agentsReady) },
];

/** Render rows as a table; trailing spaces are trimmed so the output diffs cleanly. */
export function renderTable<R>(columns: ReadonlyArray<Column<R>>, rows: readonly R[]): string[] {
  const cells = rows.map((r) => columns.map((c) => c.cell(r)));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((row) => row[i]!.length)));
  const line = (values: readonly string[]): string =>
    values
      .map((v, i) => (columns[i]!.align === 'right' ? v.padStart(widths[i]!) : v.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...cells.map(line)];
}

export function formatStatsTable(stats: ProvinceStats): string {
  const minutes = Math.round(stats.windowMs / 60_000);
  const out = [
    `Province statistics at ${new Date(stats.atMs).toISOString()}; window ${minutes} min; ` +
      `service level = answered within ${stats.thresholdMs / 1000} s / offered (abandons count against it)`,
    '',
    ...renderTable(siteColumns, [...stats.sites, stats.province]),
    '',
  ];
  if (stats.queues.length === 0) out.push('No queues reported.');
  else out.push(...renderTable(queueColumns, stats.queues));
  return out.join('\n') + '\n';
}
