/**
 * The hub's cover component (docs/architecture.md §5.8): which cover entries are active, told
 * to the sites concerned, and changed by admins. A thin adapter over the pure parts
 * (`activeCoverEntries`, hub/routing/cover-windows.ts; cover-set.ts) and the `CoverStore`.
 *
 * Time comes from an injected `Scheduler` (the hub's clock; tests move a VirtualScheduler
 * across a window edge). The set is re-evaluated at the next boundary (a window edge, an
 * `until`), after every admin start or stop, on every topology version, and when a term
 * starts. When it changes, each change is logged once (`cover started` / `cover ended` with
 * the entry, the served and covering sites and why: `schedule`, the admin's id, `until`, or
 * `topology vN`), and every connected site that speaks `cover` whose own list changed gets a
 * `CoverState` with the active entries in which it is the served or the covering site. A site
 * that attaches gets its list after `Welcome`, as it gets DrainState.
 *
 * An entry is pushed only while it is routable: its covering site connected, speaking
 * `overflow`, and not drained (`routable`). The served site asks under every pushed entry
 * without a trigger (docs/architecture.md §5.9), so an entry whose covering site the hub would
 * skip anyway would have it ask for every waiting call, each refused by the hub, again and
 * again. The lists are pushed again when that changes (`sitesChanged`: a site attached, its
 * link closed or went down, a drain or undrain). The schedule itself (the logs, routing,
 * `fedctl status`) is not changed by it.
 *
 * Only a leading hub runs it: `start()` when a term starts (the admins' activations are read
 * from the table, so they survive a restart and a takeover), `stop()` when it ends. Routing
 * asks `activeCoverEntryIds(nowMs)`, computed afresh from the same inputs, so it never waits
 * for a timer.
 *
 * start():  load open activations -> evaluate (logs and pushes) -> arm the next boundary.
 * stop():   cancel the boundary timer; forget the set (the next term logs it again).
 *
 * A topology version that drops an on-demand entry (or makes it scheduled) closes the entry's
 * open activation, stored with its audit row by `topology vN` (`cover.stop`): left open, the
 * same id added back later would silently start covering again with nobody having asked. The
 * component forgets it at once (routing and the pushes stop); a write that fails is logged
 * and done again at the next term's start, which closes whatever the running version lacks.
 */
import type { HubMessage } from '../../proto/gen/federation.js';
import type { CoverEntryStatus } from '../../proto/gen/admin.js';
import { DomainError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { Cancel, Scheduler } from '../../shared/scheduler.js';
import type { CoverSchedule, Topology } from '../../shared/topology/schema.js';
import type { CoverActivation, CoverStore } from '../ports.js';
import {
  activeCoverEntries,
  checkCoverStart,
  type ActiveCover,
  type StartedCover,
} from '../routing/cover-windows.js';
import {
  activeSince,
  coverChanges,
  coverEntriesForSite,
  describeSchedule,
  nextCoverBoundary,
} from './cover-set.js';

/**
 * A boundary further ahead than this is re-evaluated at this distance instead (setTimeout
 * takes at most ~24.8 days; an `until` may be later). An early evaluation changes nothing.
 */
const MAX_WAIT_MS = 86_400_000;

/** The sites the component talks to: the hub's live registry (hub/federation/registry.ts). */
export interface CoverSites {
  connected(): string[];
  get(siteId: string): { capabilities: string[] } | undefined;
  send(siteId: string, msg: HubMessage): boolean;
}

export interface HubCoverDeps {
  store: CoverStore;
  scheduler: Scheduler;
  log: Logger;
  /** The running topology (none before the first version). */
  topology: () => { version: number; topology: Topology } | undefined;
  sites: CoverSites;
  /** Whether a covering site can take cover calls now (header); default: always. */
  routable?: (siteId: string) => boolean;
}

interface Active {
  how: ActiveCover['how'];
  sinceMs: number;
  endsAtMs: number | null;
  startedBy: string | null;
}

export class HubCover {
  /** Open activations by entry id (the table's, kept in step after each commit). */
  private open = new Map<string, CoverActivation>();
  private active = new Map<string, Active>();
  /** The list last sent to each site (joined ids), so only sites whose list changed are told. */
  private sent = new Map<string, string>();
  private timer: Cancel | undefined;
  private running = false;

  constructor(private readonly d: HubCoverDeps) {}

  async start(): Promise<void> {
    const rows = await this.d.store.open();
    this.open = new Map(rows.map((r) => [r.entryId, r]));
    this.running = true;
    this.sent.clear();
    const v = this.d.topology()?.version;
    const dropped = v === undefined ? [] : this.forgetDropped();
    this.evaluate(() => undefined);
    // Not awaited: the term does not wait on these writes (closeDropped logs its own failures).
    if (v !== undefined) void this.closeDropped(dropped, v);
  }

  stop(): void {
    this.running = false;
    this.timer?.();
    this.timer = undefined;
    this.active.clear();
    this.sent.clear();
  }

  /** The ids active at `nowMs` (for the overflow router): the same reading the pushes use. */
  activeCoverEntryIds(nowMs: number): string[] {
    const t = this.d.topology()?.topology;
    return t ? activeCoverEntries(t, this.started(), nowMs).map((a) => a.entryId) : [];
  }

  /**
   * An admin starts an on-demand entry: checked against the running topology and the open
   * activations (checkCoverStart), stored with its audit row, then told. `untilMs` is an
   * instant; `forMs` a duration from now on this component's clock (at most one of them).
   */
  async startEntry(a: {
    entryId: string;
    by: string;
    untilMs: number | null;
    forMs: number | null;
    comment: string;
  }): Promise<{ entry: CoverEntryStatus; pushedTo: string[] }> {
    const t = this.requireTopology();
    const nowMs = this.d.scheduler.now();
    const untilMs = a.forMs !== null ? nowMs + a.forMs : a.untilMs;
    checkCoverStart(t, a.entryId, untilMs, nowMs, this.started());
    const row = await this.d.store.start({
      entryId: a.entryId,
      by: a.by,
      nowMs,
      untilMs,
      comment: a.comment,
    });
    this.open.set(row.entryId, row);
    const pushedTo = this.evaluate((id) => (id === a.entryId ? a.by : undefined));
    return { entry: this.status(t, a.entryId, this.d.scheduler.now()), pushedTo };
  }

  /** An admin stops an active on-demand entry: stored with its audit row, then told. */
  async stopEntry(a: {
    entryId: string;
    by: string;
    comment: string;
  }): Promise<{ entry: CoverEntryStatus; pushedTo: string[] }> {
    const t = this.d.topology()?.topology;
    const entry = t?.cover.find((c) => c.id === a.entryId);
    if (entry?.when.kind === 'weekly') {
      throw new DomainError(
        'failed-precondition',
        `cover entry "${a.entryId}" is scheduled (${describeSchedule(entry.when)}); the clock starts and stops it`,
        { field: 'entryId' },
      );
    }
    // An entry a later topology dropped may still have an open row: stopping it closes that.
    const nowMs = this.d.scheduler.now();
    await this.d.store.stop({ entryId: a.entryId, by: a.by, nowMs, comment: a.comment });
    this.open.delete(a.entryId);
    const pushedTo = this.evaluate((id) => (id === a.entryId ? a.by : undefined));
    return {
      entry: t && entry ? this.status(t, a.entryId, this.d.scheduler.now()) : unknownEntry(a.entryId),
      pushedTo,
    };
  }

  /**
   * A new topology version is running: entries may have appeared, gone or moved. Resolves
   * when the activations it dropped are closed in the table (or their closing was logged as
   * failed); the set is re-evaluated and pushed before that, at once.
   */
  topologyChanged(version: number): Promise<void> {
    const dropped = this.running ? this.forgetDropped() : [];
    this.evaluate(() => `topology v${version}`);
    return this.closeDropped(dropped, version);
  }

  /**
   * A site said hello: it gets its list after Welcome (an empty list too: it may hold an old
   * one), and the sites it covers for may get theirs (it is routable again).
   */
  attached(siteId: string, capabilities: readonly string[]): void {
    if (!this.running) return;
    if (capabilities.includes('cover')) {
      const t = this.d.topology()?.topology;
      const ids = t ? coverEntriesForSite(t, this.pushable(t), siteId) : [];
      if (this.d.sites.send(siteId, coverState(ids))) this.sent.set(siteId, ids.join(','));
    }
    this.sitesChanged();
  }

  /** A covering site may have become routable or not (link, drain): push the lists that changed. */
  sitesChanged(): void {
    const t = this.d.topology()?.topology;
    if (this.running && t) this.push(t);
  }

  /** The active entries (for `fedctl status`), in the topology's order. */
  activeStatus(): CoverEntryStatus[] {
    const t = this.d.topology()?.topology;
    const nowMs = this.d.scheduler.now();
    return t ? this.activeCoverEntryIds(nowMs).map((id) => this.status(t, id, nowMs)) : [];
  }

  /** Every entry of the running topology with its state (for `fedctl cover list`). */
  list(): { entries: CoverEntryStatus[]; nowMs: number } {
    const t = this.d.topology()?.topology;
    const nowMs = this.d.scheduler.now();
    return { entries: t ? t.cover.map((c) => this.status(t, c.id, nowMs)) : [], nowMs };
  }

  // ---- internals ------------------------------------------------------------------------

  /** Forget the open activations the running topology has no on-demand entry for; their ids. */
  private forgetDropped(): CoverActivation[] {
    const t = this.d.topology()?.topology;
    const onDemand = new Set(t?.cover.filter((c) => c.when.kind === 'on-demand').map((c) => c.id));
    const dropped = [...this.open.values()].filter((r) => !onDemand.has(r.entryId));
    for (const r of dropped) this.open.delete(r.entryId);
    return dropped;
  }

  /** Close the dropped activations in the table, each with its audit row (header). */
  private async closeDropped(dropped: CoverActivation[], version: number): Promise<void> {
    const by = `topology v${version}`;
    const nowMs = this.d.scheduler.now();
    for (const r of dropped) {
      // One past its `until` is not running: nothing to stop, and it can never start again
      // by itself (the next start of the id closes it at its until).
      if (r.untilMs !== null && r.untilMs <= nowMs) continue;
      try {
        await this.d.store.stop({
          entryId: r.entryId,
          by,
          nowMs,
          comment: `the entry is not on demand in ${by}`,
        });
        this.d.log.info('cover activation closed', { entryId: r.entryId, startedBy: r.startedBy, by });
      } catch (e) {
        this.d.log.error('cover activation not closed', { entryId: r.entryId, by, err: e });
      }
    }
  }

  private started(): Map<string, StartedCover> {
    return new Map([...this.open].map(([id, r]) => [id, { untilMs: r.untilMs }]));
  }

  private requireTopology(): Topology {
    const t = this.d.topology()?.topology;
    if (!t) throw new DomainError('failed-precondition', 'no topology is running yet (fedctl apply)');
    return t;
  }

  private status(t: Topology, entryId: string, nowMs: number): CoverEntryStatus {
    const c = t.cover.find((e) => e.id === entryId);
    if (!c) return unknownEntry(entryId);
    const a = activeCoverEntries({ ...t, cover: [c] }, this.started(), nowMs)[0];
    const row = this.open.get(entryId);
    return {
      entryId,
      servedSiteId: c.serves.site,
      queues: c.serves.queues,
      coveringSiteId: c.agentsOf,
      kind: c.when.kind,
      active: a !== undefined,
      sinceMs: a ? activeSince(c, a, row?.startedAtMs) : 0,
      untilMs: a?.endsAtMs ?? 0,
      startedBy: a && a.how === 'on-demand' ? (row?.startedBy ?? '') : '',
      schedule: c.when.kind === 'weekly' ? describeSchedule(c.when) : '',
    };
  }

  /**
   * Compute the set now, log and push what changed, arm the next boundary. `cause` names why
   * an entry changed when an admin or a topology changed it; otherwise the clock did
   * (`schedule`, or `until` for an on-demand entry whose time ran out). Returns the sites told.
   */
  private evaluate(cause: (entryId: string) => string | undefined): string[] {
    if (!this.running) return [];
    this.timer?.();
    this.timer = undefined;
    const { log, scheduler } = this.d;
    const t = this.d.topology()?.topology;
    const nowMs = scheduler.now();
    const started = this.started();
    const next = t ? activeCoverEntries(t, started, nowMs) : [];
    const { started: began, ended } = coverChanges(new Set(this.active.keys()), next);
    const entryOf = (id: string): CoverSchedule | undefined => t?.cover.find((c) => c.id === id);
    for (const id of ended) {
      const was = this.active.get(id)!;
      const e = entryOf(id);
      // Admin stops and topology versions name themselves; otherwise the clock ended it.
      const why = cause(id) ?? (was.how === 'scheduled' ? 'schedule' : 'until');
      log.info('cover ended', {
        entryId: id,
        servedSiteId: e?.serves.site ?? null,
        coveringSiteId: e?.agentsOf ?? null,
        how: was.how,
        why,
      });
    }
    const active = new Map<string, Active>();
    for (const a of next) {
      const row = this.open.get(a.entryId);
      const e = entryOf(a.entryId)!;
      active.set(a.entryId, {
        how: a.how,
        sinceMs: activeSince(e, a, row?.startedAtMs),
        endsAtMs: a.endsAtMs,
        startedBy: a.how === 'on-demand' ? (row?.startedBy ?? null) : null,
      });
    }
    for (const a of began) {
      const e = entryOf(a.entryId)!;
      const why =
        cause(a.entryId) ??
        (a.how === 'scheduled' ? 'schedule' : (this.open.get(a.entryId)?.startedBy ?? 'admin'));
      log.info('cover started', {
        entryId: a.entryId,
        servedSiteId: e.serves.site,
        coveringSiteId: e.agentsOf,
        how: a.how,
        why,
        untilMs: a.endsAtMs,
      });
    }
    this.active = active;
    const pushedTo = t ? this.push(t) : [];
    const boundary = t ? nextCoverBoundary(t, started, nowMs) : null;
    if (boundary !== null) {
      this.timer = scheduler.after(Math.min(boundary - nowMs, MAX_WAIT_MS), () => {
        this.timer = undefined;
        this.evaluate(() => undefined);
      });
    }
    return pushedTo;
  }

  /** The active entries whose covering site is routable now (header). */
  private pushable(t: Topology): Set<string> {
    const routable = this.d.routable ?? (() => true);
    return new Set(
      [...this.active.keys()].filter((id) => {
        const e = t.cover.find((c) => c.id === id);
        return e !== undefined && routable(e.agentsOf);
      }),
    );
  }

  /** Tell every connected `cover` site whose own list changed; returns those told. */
  private push(t: Topology): string[] {
    const ids = this.pushable(t);
    const told: string[] = [];
    for (const siteId of this.d.sites.connected()) {
      if (!this.d.sites.get(siteId)?.capabilities.includes('cover')) continue;
      const list = coverEntriesForSite(t, ids, siteId);
      const key = list.join(',');
      if (this.sent.get(siteId) === key) continue;
      if (this.d.sites.send(siteId, coverState(list))) {
        this.sent.set(siteId, key);
        told.push(siteId);
      } else {
        this.sent.delete(siteId);
      }
    }
    return told;
  }
}

function coverState(activeEntryIds: string[]): HubMessage {
  return { body: { $case: 'cover', value: { activeEntryIds } } };
}

/** An entry the running topology does not have (stopped after a version dropped it). */
function unknownEntry(entryId: string): CoverEntryStatus {
  return {
    entryId,
    servedSiteId: '',
    queues: [],
    coveringSiteId: '',
    kind: 'unknown',
    active: false,
    sinceMs: 0,
    untilMs: 0,
    startedBy: '',
    schedule: '',
  };
}
