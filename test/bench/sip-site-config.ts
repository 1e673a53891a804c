/**
 * The site the sip-site bench runs (docs/operations.md §8.7): the example site
 * (deploy/examples/site-chongqing.yaml) with its desk in plaintext on loopback, sized for the
 * load, and a `sip:` section for loopback. Pure: the YAML document and the roster, no files.
 *
 * Sized for the load, and nothing else changed: `trunks`, `ivrPorts` and the trunk's
 * `maxChannels` at the site's bound (10,000), so the bench finds what the code can carry, not
 * a licence count; a roster of `agents` retail agents, each with an extension and an MD5 HA1
 * of one shared phone password (docs/sip.md "Agent phones: registration and digest"), in one
 * team under the example's supervisor; the RTP range two ports (RTP and RTCP) per leg, two
 * legs per call. The IVR flow, the queues and the ACD's timers are the example's.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { ha1 } from '../../shared/sip/digest-hash.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const EXAMPLE_SITE = `${ROOT}deploy/examples/site-chongqing.yaml`;
export const BENCH_REALM = 'chongqing.cc.example';
/** The DNIS the bench's trunk takes: the bank's service number. */
export const BENCH_DNIS = '95588';
/** The site's upper bound on trunks, IVR ports and a trunk's channels (site-node/config.ts). */
const SITE_MAX_CHANNELS = 10_000;

export interface BenchAgent {
  id: string;
  extension: string;
}

export interface BenchSiteOptions {
  agents: number;
  sipPort: number;
  rtpFrom: number;
  /** Calls the site must hold at once: the RTP range is sized from it (two legs a call). */
  maxCalls: number;
  phonePassword: string;
  secretEnv: string;
  /** Where the flow's recorded calls (complaints) go; the bench's walk records none. */
  recordingsDir: string;
}

/** `b0001`... and extensions `20001`...: apart from the example's a01-a08 and 1001-1008. */
export function benchRoster(n: number): BenchAgent[] {
  if (!Number.isInteger(n) || n < 1 || n > 9999) throw new RangeError(`agents: 1 to 9999, not ${n}`);
  return Array.from({ length: n }, (_, i) => {
    const k = String(i + 1).padStart(4, '0');
    return { id: `b${k}`, extension: `2${k}` };
  });
}

/** An even RTP range from `from` holding `calls` calls of two legs, each an RTP and an RTCP port. */
export function rtpRange(from: number, calls: number): { from: number; to: number } {
  if (from % 2 !== 0) throw new RangeError(`rtpFrom must be even, not ${from}`);
  const to = from + 4 * calls + 3;
  if (to > 65_535) throw new RangeError(`${calls} calls need ports ${from}-${to}: past 65535`);
  return { from, to };
}

export function benchSiteDocument(o: BenchSiteOptions): {
  doc: Record<string, unknown>;
  roster: BenchAgent[];
} {
  const doc = parseYaml(readFileSync(EXAMPLE_SITE, 'utf8')) as Record<string, unknown>;
  const cti = doc.cti as Record<string, unknown>;
  delete cti.tls; // the desk in plaintext on loopback (--insecure-loopback)
  const ivr = doc.ivr as Record<string, unknown>;
  ivr.flow = `${ROOT}site-node/ivr/flows/phone-banking.yaml`;
  const roster = benchRoster(o.agents);
  doc.trunks = SITE_MAX_CHANNELS;
  doc.ivrPorts = SITE_MAX_CHANNELS;
  doc.agents = roster.map((a) => ({ id: a.id, name: `bench ${a.id}`, skills: { retail: 5 } }));
  doc.teams = [{ id: 'bench', supervisors: ['s01'], agents: roster.map((a) => a.id) }];
  doc.sip = {
    listen: [{ transport: 'udp', host: '127.0.0.1', port: o.sipPort }],
    publicAddress: '127.0.0.1',
    rtpPorts: rtpRange(o.rtpFrom, o.maxCalls),
    realm: BENCH_REALM,
    digest: { secretEnv: o.secretEnv, algorithms: ['MD5'] },
    trunks: [
      { name: 'loopback', sources: ['127.0.0.1/32'], dnis: [BENCH_DNIS], maxChannels: SITE_MAX_CHANNELS },
    ],
    phones: roster.map((a) => ({
      agent: a.id,
      extension: a.extension,
      ha1: { MD5: ha1('MD5', a.extension, BENCH_REALM, o.phonePassword) },
    })),
  };
  doc.recordings = { dir: o.recordingsDir };
  return { doc, roster };
}
