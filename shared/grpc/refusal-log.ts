/**
 * The `rpc refused` log of a server (docs/operations.md §8.4): every refusal is one line with
 * who (a certificate's kind and id, a desk user, or `anonymous`), the peer's address, the
 * method, the kind and the reason, throttled per peer (windowed-log.ts). A peer is who
 * and the address together: `who` is never what the caller claims (a verified certificate, a
 * session's user, or `anonymous`), so one address cannot spread a flood over many keys, and
 * two sites behind one address are still told apart. The first refusal from a peer in a
 * window is logged at once; the rest are counted and summed up in one `more rpc refusals`
 * line when the window ends, so even a caller with a valid certificate cannot flood the log,
 * and no refusal goes uncounted.
 *
 *   const refusals = new RefusalLog(log, { clock });
 *   refusals.refused({ method, who: 'site wanzhou', peer: '10.1.2.3', kind, reason });
 *   refusals.stop(); // at the server's stop: say the counts still unsaid
 */
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { WindowedLog } from './windowed-log.js';

/** Joins who and address in a window key; neither can contain it. */
const SEP = '\u0000';

export interface Refusal {
  /** The RPC, e.g. `/pcc.federation.v1.Federation/WriteCustomer`. */
  method: string | undefined;
  /** Who asked: `site wanzhou`, `admin alice`, `user a01`, `anonymous`... */
  who: string;
  /** The peer's address (no port). */
  peer: string;
  kind: string;
  reason: string;
  /** The request field at fault, when there is one. */
  field?: string;
}

export interface RefusalLogOptions {
  /** Refusals from one address past the first are summed up once per this window. Default 10 s. */
  windowMs?: number;
  clock?: Clock;
}

export class RefusalLog {
  private readonly lines: WindowedLog;

  constructor(
    private readonly log: Logger,
    opts: RefusalLogOptions = {},
  ) {
    this.lines = new WindowedLog(log, {
      ...opts,
      summary: 'more rpc refusals',
      keyFields: (key) => {
        const [who, peer] = key.includes(SEP) ? key.split(SEP) : [key, key];
        return { who, peer };
      },
    });
  }

  refused(r: Refusal): void {
    this.lines.note(`${r.who}${SEP}${r.peer}`, r.kind, () =>
      this.log.warn('rpc refused', {
        method: r.method,
        who: r.who,
        peer: r.peer,
        kind: r.kind,
        reason: r.reason,
        ...(r.field ? { field: r.field } : {}),
      }),
    );
  }

  /** Say the counts still unsaid and stop the summary timer. */
  stop(): void {
    this.lines.stop();
  }
}

/** A grpc-js peer string (`ipv4:1.2.3.4:5`, `1.2.3.4:5`, `[::1]:5`) as an address without its port. */
export function peerAddressOf(peer: string | undefined): string {
  if (!peer) return 'unknown';
  const m = /^(.*):\d+$/.exec(peer.replace(/^ipv[46]:/, ''));
  return (m ? m[1]! : peer).replace(/^\[|\]$/g, '') || 'unknown';
}
