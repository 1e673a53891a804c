/**
 * The hub's live registry of sites: one entry per site that ever said hello since the hub
 * started, holding its link state (link-state.ts), what it announced (versions,
 * capabilities), the topology version it acknowledged, its latest live snapshot, and the
 * open stream to push to. It is memory only on purpose: all of it is re-announced by the
 * site on its next hello, and what must survive a hub restart (topology versions, drains,
 * customers, events) is in Postgres.
 *
 * One stream per site: a newer hello from the same site replaces the older stream (a site
 * that reconnects after a network blip, while the old TCP connection is still half open),
 * and the older one is ended with a status saying why.
 */
import type { HubMessage } from '../../proto/gen/federation.js';
import type { LiveSnapshot } from '../stats/province-stats.js';
import { initialLink, linkStep, type LinkEvent, type LinkTimes, type SiteLink } from './link-state.js';

/** Where the service writes to one site's open stream. */
export interface SiteStream {
  /** Returns false when the stream is gone (the message is dropped; the site resyncs on hello). */
  send(msg: HubMessage): boolean;
  /** End the stream with a status naming why (replaced, link down, hub stopping). */
  close(reason: string): void;
}

export interface SiteEntry {
  siteId: string;
  link: SiteLink;
  softwareVersion: string;
  contractVersion: number;
  capabilities: string[];
  /** The topology version the site last acknowledged running (0 = none). */
  topologyVersion: number;
  /** Set when the site refused a pushed version (it keeps running its previous one). */
  topologyError: string;
  customerCursor: number;
  outboxBacklog: number;
  snapshot: LiveSnapshot | null;
  /**
   * The hub's clock when `snapshot` arrived (null = none yet): routing measures a snapshot's
   * age from here, never from the site's own `atMs` (docs/architecture.md §5.8).
   */
  snapshotReceivedAtMs: number | null;
  stream: SiteStream | null;
  /** Increments per hello; lets a closing stream tell whether it is still the current one. */
  generation: number;
}

export class SiteRegistry {
  private readonly sites = new Map<string, SiteEntry>();

  constructor(readonly times: LinkTimes) {}

  get(siteId: string): SiteEntry | undefined {
    return this.sites.get(siteId);
  }

  all(): SiteEntry[] {
    return [...this.sites.values()].sort((a, b) => a.siteId.localeCompare(b.siteId));
  }

  private entry(siteId: string): SiteEntry {
    let e = this.sites.get(siteId);
    if (!e) {
      e = {
        siteId,
        link: initialLink(),
        softwareVersion: '',
        contractVersion: 0,
        capabilities: [],
        topologyVersion: 0,
        topologyError: '',
        customerCursor: 0,
        outboxBacklog: 0,
        snapshot: null,
        snapshotReceivedAtMs: null,
        stream: null,
        generation: 0,
      };
      this.sites.set(siteId, e);
    }
    return e;
  }

  private step(e: SiteEntry, ev: LinkEvent, nowMs: number): void {
    e.link = linkStep(e.link, ev, nowMs, this.times);
  }

  /**
   * A site said hello on a new stream. Returns its entry and generation; an older stream of
   * the same site is closed first.
   */
  connect(
    siteId: string,
    hello: {
      softwareVersion: string;
      contractVersion: number;
      capabilities: string[];
      topologyVersion: number;
      customerCursor: number;
    },
    stream: SiteStream,
    nowMs: number,
  ): { entry: SiteEntry; generation: number } {
    const e = this.entry(siteId);
    const old = e.stream;
    e.stream = null;
    old?.close(`replaced by a newer connection from site ${siteId}`);
    e.generation++;
    Object.assign(e, hello, { stream, topologyError: '' });
    this.step(e, { kind: 'hello' }, nowMs);
    return { entry: e, generation: e.generation };
  }

  /** The entry if `generation` is still its current stream. */
  current(siteId: string, generation: number): SiteEntry | undefined {
    const e = this.sites.get(siteId);
    return e && e.generation === generation ? e : undefined;
  }

  /** Any message from the current stream. */
  heard(siteId: string, generation: number, nowMs: number): SiteEntry | undefined {
    const e = this.sites.get(siteId);
    if (!e || e.generation !== generation) return undefined;
    this.step(e, { kind: 'heard' }, nowMs);
    return e;
  }

  /** A snapshot from the current stream, taken as received at `receivedAtMs` (hub clock). */
  snapshotReceived(entry: SiteEntry, snapshot: LiveSnapshot, receivedAtMs: number): void {
    entry.snapshot = snapshot;
    entry.snapshotReceivedAtMs = receivedAtMs;
  }

  /** The stream ended. Ignored when a newer stream has replaced it. */
  disconnect(siteId: string, generation: number, nowMs: number): void {
    const e = this.sites.get(siteId);
    if (!e || e.generation !== generation) return;
    e.stream = null;
    this.step(e, { kind: 'closed' }, nowMs);
  }

  /** The clock: moves silent links to suspect/down; closes streams of links gone down. */
  tick(nowMs: number): string[] {
    const wentDown: string[] = [];
    for (const e of this.sites.values()) {
      const before = e.link.state;
      this.step(e, { kind: 'tick' }, nowMs);
      if (before !== 'down' && e.link.state === 'down') {
        wentDown.push(e.siteId);
        const s = e.stream;
        e.stream = null;
        s?.close(`no message from site ${e.siteId} for ${nowMs - (e.link.lastHeardMs ?? nowMs)} ms`);
      }
    }
    return wentDown;
  }

  /** Send to one site if it is connected. */
  send(siteId: string, msg: HubMessage): boolean {
    return this.sites.get(siteId)?.stream?.send(msg) ?? false;
  }

  /** Sites with an open stream. */
  connected(): string[] {
    return this.all()
      .filter((e) => e.stream !== null)
      .map((e) => e.siteId);
  }

  /** Close every stream (hub stopping): sites reconnect to the hub when it is back. */
  closeAll(reason: string): void {
    for (const e of this.sites.values()) {
      const s = e.stream;
      e.stream = null;
      s?.close(reason);
    }
  }
}
