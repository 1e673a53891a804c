/**
 * `fedctl`: the network admins' CLI for the hub (issue 3). Every command but `validate`
 * talks to the hub's admin API over mTLS with an ADMIN certificate (deploy/pki.sh <dir> node
 * admin <name>); the certificate's name is what the audit trail records as "who".
 *
 *   fedctl validate <topology.yaml>                    check a file here; every problem listed
 *   fedctl diff     <topology.yaml>                    what applying it would change
 *   fedctl apply    <topology.yaml> [--comment TEXT]   store as the next version, push live
 *   fedctl rollback <version>       [--comment TEXT]   make an earlier version current again
 *   fedctl history  [--limit N]                        stored versions with who/when/what
 *   fedctl status                                      each site's link, heartbeat, version
 *   fedctl drain    <site> [--comment TEXT]            route no overflow/cover to a site
 *   fedctl undrain  <site> [--comment TEXT]
 *   fedctl stats    [--window 1h] [--threshold 20s] [--json]
 *   fedctl reads    [--customer ID] [--site ID] [--since 24h] [--limit 100] [--json]
 *                                                      the read audit, newest first
 *   fedctl cover start <entry-id> [--until TIME] [--comment TEXT]   on-demand cover on
 *   fedctl cover stop  <entry-id> [--comment TEXT]                  and off
 *   fedctl cover list  [--json]                        every cover entry and its state
 *   fedctl routes   [--site ID] [--limit 20] [--json]  routing decisions, newest first
 *
 *   fedctl help [command] | --help | <command> --help   what each command takes (no hub needed)
 *
 * Connection: --hub host:port (or FEDCTL_HUB), and either --pki <dir> --admin <name> (the
 * files pki.sh wrote) or --ca/--cert/--key (or FEDCTL_CA, FEDCTL_CERT, FEDCTL_KEY). With two
 * hubs (a leader and a standby, docs/architecture.md §6.6) --hub lists both, `a:7443,b:7443`:
 * a command goes to the first, and on "unavailable" (unreachable, or a standby's "not leader")
 * to the leader the refusal named, if listed, else to the next (shared/federation/hub-failover.ts).
 * `status` asks every listed hub and prints which leads and which stands by.
 * Exit codes: 0 done, 1 refused by the hub or an invalid file, 2 bad usage.
 * The command line itself (commands, flags, help text) is fedctl-args.ts.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AdminClient } from '../../proto/gen/admin.js';
import { durationMs } from '../../shared/duration.js';
import { DomainError, isDomainError } from '../../shared/errors.js';
import { call, clientOptions } from '../../shared/grpc/client.js';
import {
  leaderHintOf,
  nextHubAddress,
  parseHubAddresses,
  refusingStandbyOf,
} from '../../shared/federation/hub-failover.js';
import type { StatusResponse } from '../../proto/gen/admin.js';
import { loadTlsMaterial, mtlsClientCredentials, tlsTargetOptions } from '../../shared/grpc/tls.js';
import { formatStatsTable } from '../stats/format-stats.js';
import { loadTopology } from '../../shared/topology/validate.js';
import { statsFromProto } from './admin-mapping.js';
import { type FedctlFlags, UsageError, commandUsage, parseFedctlArgs } from './fedctl-args.js';
import {
  formatCoverChange,
  formatCoverList,
  formatHistory,
  formatReads,
  formatStatus,
} from './format-status.js';
import { parseCoverUntil, type CoverUntil } from './cover-until.js';
import { formatRoutes } from './format-routes.js';

export interface FedctlIo {
  out: (text: string) => void;
  err: (text: string) => void;
  env: NodeJS.ProcessEnv;
}

function readFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}

function parseDuration(flag: string, v: string | undefined): number {
  if (v === undefined) return 0;
  const r = durationMs.safeParse(/^\d+$/.test(v) ? Number(v) : v);
  if (!r.success) throw new UsageError(`--${flag}: "${v}" is not a duration (e.g. 90s, 15m, 1h)`);
  return r.data;
}

/** Run one fedctl command; returns the exit code. Exported for tests. */
export async function fedctl(argv: string[], io: FedctlIo): Promise<number> {
  let parsed;
  try {
    parsed = parseFedctlArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.err(`fedctl: ${e.message}\n${e.usage}`);
    return 2;
  }
  if ('help' in parsed) {
    io.out(parsed.help);
    return 0;
  }
  const { command, arg, flags: v } = parsed;
  try {
    if (command === 'validate') {
      const t = loadTopology(readFile(arg!));
      const full = t.sites.filter((s) => s.kind === 'full').length;
      io.out(
        `${arg}: valid. ${t.sites.length} sites (${full} full, ${t.sites.length - full} access), ` +
          `${t.overflow.length} overflow policies, ${t.cover.length} cover entries; hub site ${t.hubSite}`,
      );
      return 0;
    }
    // A malformed --until is a usage error before anything connects.
    let until: CoverUntil | null = null;
    if (command === 'cover start' && v.until !== undefined) {
      try {
        until = parseCoverUntil(v.until);
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
    }
    const hubs = connectTo(v, io.env);
    const deadlineMs = Number(v['deadline-ms']);
    const rpc = <Req, Res>(m: Parameters<typeof call<Req, Res>>[0], req: Req) => call(m, req, { deadlineMs });
    if (command === 'status') {
      const { leader, probes } = await probeHubs(hubs, deadlineMs);
      io.out(
        v.json
          ? JSON.stringify({ ...leader, hubs: probes })
          : [
              ...probes.map((h) => `${h.role.padEnd(11)} ${h.address}${h.detail ? `  ${h.detail}` : ''}`),
              '',
              formatStatus(leader),
            ].join('\n'),
      );
      return 0;
    }
    return await onLeader(hubs, async (client) => {
      switch (command) {
        case 'diff': {
          const p = await rpc(client.planTopology.bind(client), { yaml: readFile(arg!) });
          io.out(
            p.changes.length === 0
              ? `no change against version ${p.currentVersion}`
              : [
                  `against version ${p.currentVersion} (apply stores version ${p.nextVersion}):`,
                  ...p.changes,
                ].join('\n'),
          );
          return 0;
        }
        case 'apply': {
          const yaml = readFile(arg!);
          const plan = await rpc(client.planTopology.bind(client), { yaml });
          if (plan.changes.length === 0) {
            io.out(`no change against version ${plan.currentVersion}; nothing applied`);
            return 0;
          }
          const r = await rpc(client.applyTopology.bind(client), {
            yaml,
            expectedCurrentVersion: plan.currentVersion,
            comment: v.comment ?? '',
          });
          io.out(
            [
              `applied version ${r.version}:`,
              ...r.changes,
              `pushed to ${r.pushedTo.length ? r.pushedTo.join(', ') : 'no connected site'}; \`fedctl status\` shows each site's acknowledgement`,
            ].join('\n'),
          );
          return 0;
        }
        case 'rollback': {
          const to = Number(arg);
          if (!Number.isInteger(to) || to < 1)
            throw new UsageError('rollback: which version (a number >= 1)?');
          const st = await rpc(client.status.bind(client), {});
          const r = await rpc(client.rollbackTopology.bind(client), {
            toVersion: to,
            expectedCurrentVersion: st.currentVersion,
            comment: v.comment ?? '',
          });
          io.out([`version ${r.version} restores version ${to}:`, ...r.changes].join('\n'));
          return 0;
        }
        case 'history': {
          const limit = Number(v.limit); // its default is in fedctl-args.ts
          if (!Number.isInteger(limit) || limit < 1) throw new UsageError('--limit: a number >= 1');
          const r = await rpc(client.topologyHistory.bind(client), { limit });
          io.out(formatHistory(r.versions));
          return 0;
        }
        case 'drain':
        case 'undrain': {
          const r = await rpc(client.setDrain.bind(client), {
            siteId: arg!,
            drained: command === 'drain',
            comment: v.comment ?? '',
          });
          io.out(
            `${arg} ${r.drained ? 'drained' : 'undrained'}${r.pushed ? '' : ' (not connected now; it is told on its next hello)'}`,
          );
          return 0;
        }
        case 'stats': {
          const r = await rpc(client.stats.bind(client), {
            windowMs: parseDuration('window', v.window),
            thresholdMs: parseDuration('threshold', v.threshold),
          });
          io.out(v.json ? JSON.stringify(r) : formatStatsTable(statsFromProto(r)));
          return 0;
        }
        case 'reads': {
          const limit = Number(v.limit); // its default is in fedctl-args.ts
          if (!Number.isInteger(limit) || limit < 1) throw new UsageError('--limit: a number >= 1');
          const sinceAgo = parseDuration('since', v.since);
          const r = await rpc(client.customerReads.bind(client), {
            customerId: v.customer ?? '',
            readerSiteId: v.site ?? '',
            sinceMs: sinceAgo === 0 ? 0 : Date.now() - sinceAgo,
            limit,
          });
          io.out(v.json ? JSON.stringify(r) : formatReads(r));
          return 0;
        }
        case 'cover start': {
          const r = await rpc(client.startCover.bind(client), {
            entryId: arg!,
            untilMs: until && 'untilMs' in until ? until.untilMs : 0,
            forMs: until && 'forMs' in until ? until.forMs : 0,
            comment: v.comment ?? '',
          });
          io.out(formatCoverChange(r.entry!, r.pushedTo));
          return 0;
        }
        case 'cover stop': {
          const r = await rpc(client.stopCover.bind(client), { entryId: arg!, comment: v.comment ?? '' });
          io.out(formatCoverChange(r.entry!, r.pushedTo));
          return 0;
        }
        case 'cover list': {
          const r = await rpc(client.listCover.bind(client), {});
          io.out(v.json ? JSON.stringify(r) : formatCoverList(r.entries));
          return 0;
        }
        case 'routes': {
          const limit = Number(v.limit); // its default is in fedctl-args.ts
          if (!Number.isInteger(limit) || limit < 1) throw new UsageError('--limit: a number >= 1');
          const r = await rpc(client.routeDecisions.bind(client), { siteId: v.site ?? '', limit });
          io.out(v.json ? JSON.stringify(r) : formatRoutes(r));
          return 0;
        }
      }
      return 2; // not reached: every hub command has its case above
    });
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`fedctl: ${e.message}\n${commandUsage(command)}`);
      return 2;
    }
    if (isDomainError(e)) {
      // The hub sends the first problems of a long list (shared/grpc/status.ts); the whole
      // list is one local command away.
      const more =
        e.kind === 'invalid-argument' && /… and \d+ more problems$/.test(e.message) && arg !== undefined
          ? `\n(\`fedctl validate ${arg}\` lists every problem)`
          : '';
      io.err(`fedctl: ${e.kind}: ${e.message}${more}`);
      return 1;
    }
    io.err(`fedctl: ${(e as Error).message}`);
    return 1;
  }
}

/** How long `status` waits for the other hubs once the leader answered. */
const PROBE_GRACE_MS = 500;

interface Hubs {
  addresses: string[];
  client(address: string): AdminClient;
}

/**
 * Run `fn` on the leading hub: the first address, then on "unavailable" the leader the refusal
 * named (if listed) or the next, each address at most twice. A refusal is the standby's before
 * anything is done; a call cut off mid-way may have been done by a leader that then failed:
 * apply and rollback plan against the version current when they run, so a retry never applies
 * on top of a change it did not see.
 */
async function onLeader<T>(hubs: Hubs, fn: (client: AdminClient) => Promise<T>): Promise<T> {
  let current: string | undefined;
  let last: unknown;
  for (let i = 0; i < hubs.addresses.length * 2; i++) {
    const address = nextHubAddress(hubs.addresses, current, leaderHintOf(last));
    const client = hubs.client(address);
    try {
      return await fn(client);
    } catch (e) {
      if (!isDomainError(e, 'unavailable') || hubs.addresses.length === 1) throw e;
      last = e;
      current = address;
    } finally {
      client.close();
    }
  }
  throw last;
}

export interface HubProbe {
  address: string;
  role: 'leader' | 'standby' | 'unreachable';
  /** What the hub said: who leads, or why it could not be asked. */
  detail: string;
}

/** Ask every listed hub for its status: the leader's answer, and each hub's role. */
async function probeHubs(
  hubs: Hubs,
  deadlineMs: number,
): Promise<{ leader: StatusResponse; probes: HubProbe[] }> {
  let leader: StatusResponse | undefined;
  let refusal: unknown;
  // Once the leader has answered, a hub that is still silent (hung) is not waited for to the
  // deadline: it gets PROBE_GRACE_MS more and is reported as not answering.
  let leaderAnswered: () => void = () => undefined;
  const grace = new Promise<'late'>((resolve) => {
    leaderAnswered = () => setTimeout(() => resolve('late'), PROBE_GRACE_MS).unref();
  });
  const probes = await Promise.all(
    hubs.addresses.map(async (address): Promise<HubProbe> => {
      const client = hubs.client(address);
      const asked = call(client.status.bind(client), {}, { deadlineMs }).then(
        (r) => {
          leader = r;
          leaderAnswered();
          return { address, role: 'leader', detail: '' } satisfies HubProbe;
        },
        (e: unknown): HubProbe => {
          if (!isDomainError(e, 'unavailable')) refusal ??= e;
          const hint = leaderHintOf(e);
          const standby = refusingStandbyOf(e) !== undefined;
          return {
            address,
            role: standby ? 'standby' : 'unreachable',
            detail: standby
              ? hint
                ? `(names ${hint} as leader)`
                : '(knows no leader)'
              : (e as Error).message,
          };
        },
      );
      try {
        const r = await Promise.race([asked, grace]);
        return r === 'late'
          ? { address, role: 'unreachable', detail: `no answer within ${PROBE_GRACE_MS} ms of the leader's` }
          : r;
      } finally {
        client.close();
      }
    }),
  );
  if (leader) return { leader, probes };
  if (refusal) throw refusal;
  throw new DomainError(
    'unavailable',
    `no listed hub leads: ${probes.map((p) => `${p.address} ${p.role}${p.detail ? ` ${p.detail}` : ''}`).join('; ')}`,
  );
}

function connectTo(v: FedctlFlags, env: NodeJS.ProcessEnv): Hubs {
  const hub = v.hub ?? env.FEDCTL_HUB;
  if (!hub) throw new UsageError('--hub host:port (or FEDCTL_HUB) is required');
  let addresses: string[];
  try {
    addresses = parseHubAddresses(hub, '--hub');
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  let paths: { caPath: string; certPath: string; keyPath: string };
  if (v.pki !== undefined || v.admin !== undefined) {
    if (!v.pki || !v.admin) throw new UsageError('--pki <dir> and --admin <name> go together');
    paths = {
      caPath: join(v.pki, 'ca.crt'),
      certPath: join(v.pki, `admin-${v.admin}.crt`),
      keyPath: join(v.pki, `admin-${v.admin}.key`),
    };
  } else {
    const ca = v.ca ?? env.FEDCTL_CA;
    const cert = v.cert ?? env.FEDCTL_CERT;
    const key = v.key ?? env.FEDCTL_KEY;
    if (!ca || !cert || !key) {
      throw new UsageError(
        'an admin certificate is required: --pki <dir> --admin <name>, or --ca --cert --key',
      );
    }
    paths = { caPath: ca, certPath: cert, keyPath: key };
  }
  let tls;
  try {
    tls = loadTlsMaterial(paths);
  } catch (e) {
    throw new UsageError(e instanceof DomainError ? e.message : String(e));
  }
  const creds = mtlsClientCredentials(tls, { expectServer: { kind: 'hub' } });
  return {
    addresses,
    client: (address) => new AdminClient(address, creds, clientOptions(tlsTargetOptions(address))),
  };
}

// Run as a program (not when imported by tests).
const entry = process.argv[1];
if (entry !== undefined && realpathSync(entry) === fileURLToPath(import.meta.url)) {
  fedctl(process.argv.slice(2), {
    out: (t) => process.stdout.write(t + '\n'),
    err: (t) => process.stderr.write(t + '\n'),
    env: process.env,
  }).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`fedctl: ${(e as Error).message}\n`);
      process.exit(1);
    },
  );
}
