/**
 * What `fedctl status`, `fedctl history` and `fedctl reads` print (pure): one row per site
 * with its link state, when it was last heard from, the topology version it runs against the
 * current one, and the rest of what the hub knows; one block per stored topology version;
 * one row per audited read of a customer by another site.
 */
import type {
  CoverEntryStatus,
  CustomerReadsResponse,
  StatusResponse,
  TopologyVersion,
} from '../../proto/gen/admin.js';
import { NONE, renderTable } from '../stats/format-stats.js';

function ago(nowMs: number, atMs: number): string {
  if (atMs <= 0) return NONE;
  const s = Math.max(0, Math.round((nowMs - atMs) / 1000));
  if (s < 120) return `${s}s ago`;
  if (s < 7200) return `${Math.round(s / 60)}m ago`;
  return `${Math.round(s / 3600)}h ago`;
}

type Row = StatusResponse['sites'][number];

export function formatStatus(r: StatusResponse): string {
  const now = r.hubTimeMs;
  const version = (s: Row): string => {
    if (s.topologyError) return `v${s.topologyVersion} REFUSED`;
    if (s.link === 'never') return NONE;
    return s.topologyVersion === r.currentVersion
      ? `v${s.topologyVersion}`
      : `v${s.topologyVersion} (behind)`;
  };
  const lines = renderTable<Row>(
    [
      { header: 'SITE', align: 'left', cell: (s) => s.siteId },
      { header: 'KIND', align: 'left', cell: (s) => s.kind },
      { header: 'LINK', align: 'left', cell: (s) => s.link + (s.drained ? ' (drained)' : '') },
      { header: 'HEARD', align: 'left', cell: (s) => ago(now, s.lastHeartbeatMs) },
      { header: 'TOPOLOGY', align: 'left', cell: version },
      {
        header: 'SOFTWARE',
        align: 'left',
        cell: (s) => (s.softwareVersion ? `${s.softwareVersion}/c${s.contractVersion}` : NONE),
      },
      { header: 'BACKLOG', align: 'right', cell: (s) => String(s.outboxBacklog) },
      { header: 'EVENTS', align: 'right', cell: (s) => String(s.eventsIngested) },
    ],
    r.sites,
  );
  const head = `topology version ${r.currentVersion || NONE} at the hub; ${r.sites.filter((s) => s.link === 'up').length}/${r.sites.length} sites up`;
  const problems = r.sites
    .filter((s) => s.topologyError)
    .map((s) => `  ${s.siteId} refused v${r.currentVersion}: ${s.topologyError}`);
  const cover =
    r.activeCover.length === 0
      ? ['', 'active cover: none']
      : ['', 'active cover:', ...coverTable(r.activeCover)];
  return [head, ...lines, ...(problems.length ? ['', 'refused versions:', ...problems] : []), ...cover].join(
    '\n',
  );
}

const utcMinute = (ms: number): string => (ms > 0 ? `${new Date(ms).toISOString().slice(0, 16)}Z` : NONE);

/** How an entry is (or would be) active: by its schedule, or started by whom. */
function how(c: CoverEntryStatus): string {
  if (c.kind === 'weekly') return `scheduled ${c.schedule}`;
  if (c.kind === 'on-demand') return c.active ? `on-demand by ${c.startedBy}` : 'on-demand';
  return c.kind;
}

function coverTable(entries: readonly CoverEntryStatus[]): string[] {
  return renderTable<CoverEntryStatus>(
    [
      { header: 'ENTRY', align: 'left', cell: (c) => c.entryId },
      {
        header: 'SERVED -> COVERING',
        align: 'left',
        cell: (c) => `${c.servedSiteId} -> ${c.coveringSiteId}`,
      },
      { header: 'QUEUES', align: 'left', cell: (c) => c.queues.join(',') },
      { header: 'ACTIVE', align: 'left', cell: (c) => (c.active ? 'yes' : 'no') },
      { header: 'SINCE (UTC)', align: 'left', cell: (c) => utcMinute(c.sinceMs) },
      {
        header: 'UNTIL (UTC)',
        align: 'left',
        cell: (c) => (c.active && c.untilMs === 0 ? 'stopped' : utcMinute(c.untilMs)),
      },
      { header: 'HOW', align: 'left', cell: how },
    ],
    entries,
  );
}

/** `fedctl cover list`: every entry of the running topology. */
export function formatCoverList(entries: readonly CoverEntryStatus[]): string {
  return entries.length === 0 ? 'no cover entries in the running topology' : coverTable(entries).join('\n');
}

/** What `cover start` / `cover stop` print. */
export function formatCoverChange(c: CoverEntryStatus, pushedTo: readonly string[]): string {
  const state = c.active
    ? `active: ${c.servedSiteId} ${c.queues.join(',')} served by ${c.coveringSiteId}'s agents, until ${c.untilMs ? utcMinute(c.untilMs) : 'stopped'}`
    : 'not active';
  return `${c.entryId} ${state}; told ${pushedTo.length ? pushedTo.join(', ') : 'no connected site (each is told on its next hello)'}`;
}

export function formatHistory(versions: readonly TopologyVersion[]): string {
  if (versions.length === 0) return 'no topology version stored yet';
  return versions
    .map((v) => {
      const when = new Date(v.appliedAtMs).toISOString();
      const what = v.rollbackOf ? ` (rollback to v${v.rollbackOf})` : '';
      const comment = v.comment ? `  "${v.comment}"` : '';
      const changes = v.changes.length ? v.changes.map((c) => `    ${c}`) : ['    (no change)'];
      return [`v${v.version}${what}  ${when}  by ${v.appliedBy}${comment}`, ...changes].join('\n');
    })
    .join('\n');
}

type Read = CustomerReadsResponse['reads'][number];

export function formatReads(r: CustomerReadsResponse): string {
  if (r.reads.length === 0) return 'no audited read matches';
  const lines = renderTable<Read>(
    [
      { header: 'WHEN (UTC)', align: 'left', cell: (x) => new Date(x.atMs).toISOString().slice(0, 19) },
      { header: 'READER', align: 'left', cell: (x) => x.readerSiteId },
      { header: 'CUSTOMER', align: 'left', cell: (x) => x.customerId },
      // The directory's home, never a reported read's claim (a differing claim is in FLAG).
      { header: 'HOME', align: 'left', cell: (x) => x.homeSiteId || NONE },
      { header: 'WHY', align: 'left', cell: (x) => x.reason },
      {
        header: 'BY',
        align: 'left',
        cell: (x) => (x.agentId ? `agent ${x.agentId}` : x.ivrSessionId ? `ivr ${x.ivrSessionId}` : NONE),
      },
      { header: 'CALL', align: 'left', cell: (x) => x.callId || NONE },
      { header: 'SERVED FROM', align: 'left', cell: (x) => x.servedFrom },
      // Why the hub doubts a read a site reported (it grants no change-feed interest).
      { header: 'FLAG', align: 'left', cell: (x) => x.flag || NONE },
    ],
    r.reads,
  );
  const tail = r.truncated
    ? [`(more reads match: narrow with --customer, --site or --since, or raise --limit)`]
    : [];
  return [...lines, ...tail].join('\n');
}
