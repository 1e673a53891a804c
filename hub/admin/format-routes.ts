/**
 * What `fedctl routes` prints (pure): one row per routing decision, newest first, with where
 * the call went (or why it stayed home) and every candidate's verdict with the age of the
 * snapshot it was judged on, so an admin reads "why did this call go there" from one line.
 */
import type { RouteDecision, RouteDecisionsResponse } from '../../proto/gen/admin.js';
import { NONE, renderTable } from '../stats/format-stats.js';

/** `chongqing no-capacity 120ms, fuling taken 80ms`: each candidate, its verdict and age. */
export function candidatesLine(d: RouteDecision): string {
  if (d.candidates.length === 0) return NONE;
  return d.candidates
    .map((c) => `${c.siteId} ${c.verdict} ${c.ageMs === undefined ? 'no snapshot' : `${c.ageMs}ms`}`)
    .join(', ');
}

export function formatRoutes(r: RouteDecisionsResponse): string {
  if (r.decisions.length === 0) return 'no routing decision matches';
  return renderTable<RouteDecision>(
    [
      {
        header: 'WHEN (UTC)',
        align: 'left',
        cell: (x) => new Date(x.decidedAtMs).toISOString().slice(0, 19),
      },
      { header: 'REQUEST', align: 'left', cell: (x) => x.requestId },
      { header: 'RULE', align: 'left', cell: (x) => `${x.kind} ${x.ruleId}` },
      { header: 'FROM', align: 'left', cell: (x) => `${x.originSiteId}/${x.queueId}` },
      { header: 'TO', align: 'left', cell: (x) => x.targetSiteId || `(home: ${x.reason})` },
      { header: 'CANDIDATES (verdict, snapshot age)', align: 'left', cell: candidatesLine },
    ],
    r.decisions,
  ).join('\n');
}
