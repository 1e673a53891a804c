/** The one-line live view of a site an operator watches scroll by. */
import type { SiteSnapshot } from './runtime/site.js';

const pct = (x: number | null): string => (x === null ? '  -  ' : `${x.toFixed(1)}%`);

export function formatStatsLine(s: SiteSnapshot): string {
  const clock = new Date(s.atMs).toISOString().slice(11, 19);
  const waiting = s.queues.reduce((n, q) => n + q.waiting, 0);
  const oldest = Math.max(0, ...s.queues.map((q) => q.oldestWaitMs ?? 0));
  const a = s.agents;
  const agents = `agents ready ${a['ready'] ?? 0} busy ${(a['reserved'] ?? 0) + (a['on-call'] ?? 0) + (a['wrap-up'] ?? 0)} away ${a['not-ready'] ?? 0}`;
  const sum = s.summary;
  return (
    `[${s.siteId} ${clock}] live ${s.liveCalls} ivr ${s.ivrSessions} waiting ${waiting} ` +
    `(oldest ${Math.round(oldest / 1000)}s) ${agents} | offered ${sum.offered} self-service ${sum.selfService} ` +
    `answered ${sum.answered} abandoned ${sum.abandoned} SL ${pct(sum.serviceLevelPct)} ` +
    `ASA ${sum.asaSec === null ? '-' : sum.asaSec + 's'} tickets ${sum.tickets}` +
    (s.hub
      ? ` | hub ${s.hub.state} v${s.hub.topologyVersion}${s.hub.drained ? ' drained' : ''} shipped ${s.hub.eventsShipped}`
      : '') +
    storePart(s.store)
  );
}

/** Said only while something is wrong, so the usual line stays short (docs/operations.md §9.4). */
function storePart(st: SiteSnapshot['store']): string {
  if (st.state === 'up' && st.admission === 'open') return '';
  return ` | store ${st.state}, ${st.buffered}/${st.capacity} writes waiting, admission ${st.admission}`;
}
