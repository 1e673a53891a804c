/**
 * The example site's config with a `sip:` section, and its callers' keys, for the tests of a real
 * site over SIP: in this process (test/support/site-over-sip.ts) or as its own process
 * (test/sip/site-crash-sip.test.ts). SIP on a loopback port, the carrier's trunk at 127.0.0.1
 * (DNIS 95588), agents' phones 100N for aN (digest MD5, one password), the desk in plaintext.
 */
import { parse as parseYaml } from 'yaml';
import { readFileSync } from 'node:fs';
import { ha1 } from '../../shared/sip/digest-hash.js';
import { LOCAL } from './sip-peers.js';
import { callerKeys, RETAIL_ANI, WALK_WITH_BARGE_IN } from './sipp-walk.js';

export const EXAMPLE = new URL('../../deploy/examples/site-chongqing.yaml', import.meta.url).pathname;
export const REALM = 'chongqing.cc.example';
/** Every phone's password. */
export const PHONE_PASSWORD = 'phone-1001-test-password';
/** The environment variable the config names for the digest nonce secret. */
export const SECRET_ENV = 'SITE_SIP_TEST_NONCE_SECRET';
export const NONCE_SECRET = 'an-integration-test-nonce-secret-of-40-chars';

/** Keys come fast: the site skips a prompt when a key is already waiting (type-ahead). */
export const QUICK_WALK = WALK_WITH_BARGE_IN;

/** caller.xml's keys for the quick walk to an agent, then `talkMs` of voice from the 0. */
export const walk = (talkMs: number): Record<string, string | number> =>
  callerKeys(QUICK_WALK, { dnis: '95588', ani: RETAIL_ANI, talkMs });

/** The walk's keys without talk_ms, for the scenarios that talk until something happens. */
export function walkUntilEnd(): Record<string, string | number> {
  const { talk_ms: _talk, ...keys } = walk(0);
  return keys;
}

/** The site config as parsed YAML, its sections by name. */
export type SiteDoc = Record<string, Record<string, unknown>>;

export interface SiteSipDocOptions {
  sipPort: number;
  /** The first of the 100 RTP ports. */
  rtpBase: number;
  /** Where the flow's recordings go (the site creates it at start). */
  recordingsDir: string;
  /** The agents with a phone (extension 100N for aN); default a01-a06. */
  phones?: string[];
  /** `sip.timers`, as written there (ms). */
  timers?: Record<string, number>;
  /** The trunk's channels; default 10. */
  maxChannels?: number;
  /**
   * Calls out (callbacks) through the trunk, to its outbound proxy at 127.0.0.1:`proxyPort`,
   * showing `callerId`.
   */
  dialOut?: { proxyPort: number; callerId: string };
}

/** The example config, the desk in plaintext on loopback (--insecure-loopback), with a `sip:` section. */
export function siteSipDoc(o: SiteSipDocOptions): SiteDoc {
  const doc = parseYaml(readFileSync(EXAMPLE, 'utf8')) as SiteDoc;
  delete doc.cti!.tls;
  const trunk: Record<string, unknown> = {
    name: 'loopback',
    sources: [`${LOCAL}/32`],
    dnis: ['95588'],
    maxChannels: o.maxChannels ?? 10,
  };
  if (o.dialOut) trunk.outbound = { host: LOCAL, port: o.dialOut.proxyPort };
  doc.sip = {
    listen: [{ transport: 'udp', host: LOCAL, port: o.sipPort }],
    publicAddress: LOCAL,
    rtpPorts: { from: o.rtpBase, to: o.rtpBase + 99 },
    realm: REALM,
    digest: { secretEnv: SECRET_ENV, algorithms: ['MD5'] },
    trunks: [trunk],
    ...(o.dialOut ? { dialOut: { trunk: 'loopback', callerId: o.dialOut.callerId } } : {}),
    phones: (o.phones ?? ['a01', 'a02', 'a03', 'a04', 'a05', 'a06']).map((agent) => ({
      agent,
      extension: extensionOf(agent),
      ha1: { MD5: ha1('MD5', extensionOf(agent), REALM, PHONE_PASSWORD) },
    })),
    timers: o.timers ?? {},
  };
  doc.recordings = { dir: o.recordingsDir };
  return doc;
}

/** aN's phone: 100N. */
export function extensionOf(agentId: string): string {
  return `100${agentId.slice(-1)}`;
}
