/**
 * The site config's `sip:` section (docs/operations.md "A site's SIP section"): where the site
 * listens for SIP, what it writes into Contact and SDP, its RTP ports, the digest realm and the
 * nonce secret's source, the trunks it takes calls from, the agents' phones and the timers.
 * config.ts embeds the schema and calls `compileSipSection` with what only it knows (the
 * roster, the trunk channel count); every problem names its field (`site.sip.phones[2].agent`).
 *
 * Secrets: a phone is stored as its HA1 per algorithm (`npm run sip-ha1`), never a password;
 * the nonce secret is named (a file or an environment variable), never written in the file, and
 * read only at start by `loadNonceSecret`, whose errors never carry it.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { z } from 'zod';
import { durationMs } from '../shared/duration.js';
import { invalidArgument, isDomainError } from '../shared/errors.js';
import {
  DIGEST_ALGORITHMS,
  DIGEST_HEX_LENGTH,
  DIGEST_REALM_RE,
  type DigestAlgorithm,
} from '../shared/sip/digest-hash.js';
import { checkDigestRealm } from '../shared/sip/digest.js';
import { checkRegistrarLimits, type RegistrarLimits } from '../shared/sip/registrar.js';
import { compileTimerOptions } from '../shared/sip/transaction/timers.js';
import { MIN_SE_FLOOR_S } from '../shared/media/session-expires.js';
import { DEFAULT_RTP_LATCHING, RTP_LATCHING_MODES } from '../shared/media/engine/latch.js';
import type { RtpLatching } from '../shared/media/engine/port.js';
import { SIP_EXTENSION_RE } from './admin/sip-ha1-args.js';
import { cidrOverlap, parseCidr, type CidrBlock } from './telephony/cidr.js';

const port = z.number().int().min(1).max(65535);
const ipLiteral = z.string().refine((s) => isIP(s) !== 0, 'must be an IP address (IPv4 or IPv6)');
const positiveDuration = durationMs.refine((v) => v > 0, 'must be more than 0');
const hex = z.string().regex(/^[0-9a-fA-F]+$/, 'must be hex (the output of npm run sip-ha1)');

export const DEFAULT_SIP_TIMERS = {
  t1Ms: 500,
  sessionIntervalS: 1800,
  rtpInactivityMs: 30_000,
  ringTimeoutMs: 20_000,
} as const;

export const DEFAULT_REGISTRAR_LIMITS: RegistrarLimits = {
  minExpiresS: 60,
  maxExpiresS: 3600,
  defaultExpiresS: 3600,
  maxContactsPerAor: 3,
};

/**
 * The stack's bounds against floods and slow peers (docs/sip.md "Under attack"); the defaults
 * are the stack's own (shared/sip/stack/sip-stack.ts, shared/sip/transport/tcp-transport.ts).
 */
export const DEFAULT_SIP_LIMITS: SipLimits = {
  maxServerTransactions: 10_000,
  tcp: { idleMs: 300_000, maxConnections: 1024, messageMs: 32_000, maxPendingBytes: 1024 * 1024 },
};

export const sipSectionSchema = z
  .object({
    /** Where the site takes SIP: one entry per transport and address. */
    listen: z
      .array(z.object({ transport: z.enum(['udp', 'tcp']), host: ipLiteral, port }).strict())
      .min(1, 'needs at least one address to listen on'),
    /** The address phones and trunks reach the site at, written into Contact and SDP. */
    publicAddress: ipLiteral,
    /** RTP (and RTCP on the next odd port) takes ports from `from` to `to`, inclusive. */
    rtpPorts: z.object({ from: port, to: port }).strict(),
    /**
     * Whose RTP a leg takes (docs/sip.md "Media engine", "Latching"): `sdp-host` only its SDP's
     * host's, ours to the SDP's address; `any` latches to where the far end sends from, in the
     * first seconds of a call even off its SDP's host (phones behind NAT); `off` anyone's.
     */
    rtpLatching: z.enum(RTP_LATCHING_MODES as [RtpLatching, ...RtpLatching[]]).default(DEFAULT_RTP_LATCHING),
    /** The digest realm; an HA1 is made for exactly this text (npm run sip-ha1 --realm). */
    realm: z.string().regex(DIGEST_REALM_RE, 'letters, digits and . - _ @ only, at most 255'),
    digest: z
      .object({
        /** A file holding the nonce secret (at least 32 characters), relative to the config. */
        secretFile: z.string().min(1).optional(),
        /** Or the environment variable holding it. */
        secretEnv: z
          .string()
          .regex(/^[A-Z_][A-Z0-9_]*$/, 'must be an environment variable name (A-Z, 0-9, _)')
          .optional(),
        nonceLifetime: positiveDuration.default(300_000),
        /** Offered in this order; every phone needs an HA1 for each. */
        algorithms: z
          .array(z.enum(DIGEST_ALGORITHMS as [DigestAlgorithm, ...DigestAlgorithm[]]))
          .default(['SHA-256', 'MD5']),
        /** How many nonces' last nc are remembered against replays. */
        nonceMemory: z.number().int().min(1).max(1_000_000).default(10_000),
      })
      .strict(),
    /** Carriers' trunks: an INVITE from any other address (not a registered phone) is refused. */
    trunks: z
      .array(
        z
          .object({
            name: z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'must be lower-case letters, digits and dashes'),
            /** The carrier's signalling addresses: IPv4 or IPv6 addresses or CIDR blocks. */
            sources: z.array(z.string()).min(1, 'needs at least one source address or block'),
            /** The dialled numbers (DNIS) the trunk carries to this site. */
            dnis: z
              .array(z.string().regex(/^\+?[0-9]{3,20}$/, 'must be 3-20 digits, optionally after +'))
              .min(1),
            maxChannels: z.number().int().min(1).max(10_000),
            /**
             * Where the site sends calls out on this trunk (the carrier's SIP proxy): an IP
             * address (the stack does no DNS), default port 5060 over UDP. Without it the trunk
             * only takes calls in.
             */
            outbound: z
              .object({
                host: ipLiteral,
                port: port.default(5060),
                transport: z.enum(['udp', 'tcp']).default('udp'),
              })
              .strict()
              .optional(),
          })
          .strict(),
      )
      .default([]),
    /**
     * Which trunk callbacks leave by, and the number they show (the bank's): a trunk with
     * `outbound`. Without it the site does not dial out over SIP (a callback's dial fails).
     */
    dialOut: z
      .object({
        trunk: z.string().min(1),
        callerId: z.string().regex(/^\+?[0-9]{3,20}$/, 'must be 3-20 digits, optionally after +'),
      })
      .strict()
      .optional(),
    /** Agents' phones: each agent's extension (its SIP user) and the HA1 of its password. */
    phones: z
      .array(
        z
          .object({
            agent: z.string().min(1),
            extension: z.string().regex(SIP_EXTENSION_RE, 'letters, digits and . _ + - only, at most 64'),
            ha1: z.partialRecord(z.enum(DIGEST_ALGORITHMS as [DigestAlgorithm, ...DigestAlgorithm[]]), hex),
          })
          .strict(),
      )
      .default([]),
    timers: z
      .object({
        t1: positiveDuration.default(DEFAULT_SIP_TIMERS.t1Ms),
        sessionInterval: positiveDuration.default(DEFAULT_SIP_TIMERS.sessionIntervalS * 1000),
        rtpInactivity: positiveDuration.default(DEFAULT_SIP_TIMERS.rtpInactivityMs),
        ringTimeout: positiveDuration.default(DEFAULT_SIP_TIMERS.ringTimeoutMs),
      })
      .strict()
      .default({
        t1: DEFAULT_SIP_TIMERS.t1Ms,
        sessionInterval: DEFAULT_SIP_TIMERS.sessionIntervalS * 1000,
        rtpInactivity: DEFAULT_SIP_TIMERS.rtpInactivityMs,
        ringTimeout: DEFAULT_SIP_TIMERS.ringTimeoutMs,
      }),
    /** Registration intervals and contacts per phone (shared/sip/registrar.ts). */
    registrar: z
      .object({
        minExpiresS: z.number().default(DEFAULT_REGISTRAR_LIMITS.minExpiresS),
        maxExpiresS: z.number().default(DEFAULT_REGISTRAR_LIMITS.maxExpiresS),
        defaultExpiresS: z.number().default(DEFAULT_REGISTRAR_LIMITS.defaultExpiresS),
        maxContactsPerAor: z.number().default(DEFAULT_REGISTRAR_LIMITS.maxContactsPerAor),
      })
      .strict()
      .default({ ...DEFAULT_REGISTRAR_LIMITS }),
    /** The stack's bounds: server transactions open, and TCP connections and their timers. */
    limits: z
      .object({
        maxServerTransactions: z
          .number()
          .int()
          .min(100)
          .max(1_000_000)
          .default(DEFAULT_SIP_LIMITS.maxServerTransactions),
        tcp: z
          .object({
            idle: positiveDuration.default(DEFAULT_SIP_LIMITS.tcp.idleMs),
            maxConnections: z
              .number()
              .int()
              .min(1)
              .max(100_000)
              .default(DEFAULT_SIP_LIMITS.tcp.maxConnections),
            messageTimeout: positiveDuration.default(DEFAULT_SIP_LIMITS.tcp.messageMs),
            maxPendingBytes: z
              .number()
              .int()
              .min(64 * 1024)
              .max(64 * 1024 * 1024)
              .default(DEFAULT_SIP_LIMITS.tcp.maxPendingBytes),
          })
          .strict()
          .default({
            idle: DEFAULT_SIP_LIMITS.tcp.idleMs,
            maxConnections: DEFAULT_SIP_LIMITS.tcp.maxConnections,
            messageTimeout: DEFAULT_SIP_LIMITS.tcp.messageMs,
            maxPendingBytes: DEFAULT_SIP_LIMITS.tcp.maxPendingBytes,
          }),
      })
      .strict()
      .default({
        maxServerTransactions: DEFAULT_SIP_LIMITS.maxServerTransactions,
        tcp: {
          idle: DEFAULT_SIP_LIMITS.tcp.idleMs,
          maxConnections: DEFAULT_SIP_LIMITS.tcp.maxConnections,
          messageTimeout: DEFAULT_SIP_LIMITS.tcp.messageMs,
          maxPendingBytes: DEFAULT_SIP_LIMITS.tcp.maxPendingBytes,
        },
      }),
  })
  .strict();

export type SipSectionInput = z.infer<typeof sipSectionSchema>;

/** Where a trunk's outgoing calls go: the carrier's SIP proxy. */
export interface SipTrunkOutbound {
  host: string;
  port: number;
  transport: 'udp' | 'tcp';
}

export interface SipTrunkConfig {
  name: string;
  sources: CidrBlock[];
  dnis: string[];
  maxChannels: number;
  /** Undefined: the trunk only takes calls in. */
  outbound?: SipTrunkOutbound | undefined;
}

/** Callbacks' way out: the trunk (which has `outbound`) and the caller id they show. */
export interface SipDialOutConfig {
  trunk: string;
  callerId: string;
}

export interface SipPhoneConfig {
  agentId: string;
  extension: string;
  /** Lower-case hex per algorithm, one for each algorithm the realm offers. */
  ha1: Partial<Record<DigestAlgorithm, string>>;
}

export interface SipLimits {
  maxServerTransactions: number;
  tcp: { idleMs: number; maxConnections: number; messageMs: number; maxPendingBytes: number };
}

/** Where the nonce secret is read from at start; the config holds no secret itself. */
export type NonceSecretSource = { file: string } | { env: string };

export interface SiteSipConfig {
  listen: Array<{ transport: 'udp' | 'tcp'; host: string; port: number }>;
  publicAddress: string;
  rtpPorts: { from: number; to: number };
  /** Whose RTP a leg takes and where it sends ours (shared/media/engine/latch.ts). */
  rtpLatching: RtpLatching;
  realm: string;
  digest: {
    secret: NonceSecretSource;
    nonceLifetimeMs: number;
    algorithms: DigestAlgorithm[];
    nonceMemory: number;
  };
  trunks: SipTrunkConfig[];
  /** Undefined: no dialling out over SIP (a callback's dial is refused `unavailable`). */
  dialOut?: SipDialOutConfig | undefined;
  phones: SipPhoneConfig[];
  timers: { t1Ms: number; sessionIntervalS: number; rtpInactivityMs: number; ringTimeoutMs: number };
  registrar: RegistrarLimits;
  limits: SipLimits;
}

export interface SipSectionContext {
  /** The field prefix, `site.sip`. */
  at: string;
  baseDir: string;
  agentIds: ReadonlySet<string>;
  /** The site's `trunks` (channels across all carriers). */
  siteChannels: number;
}

/** Compiles the section, adding every problem found to `problems` (each naming its field). */
export function compileSipSection(
  raw: SipSectionInput,
  ctx: SipSectionContext,
  problems: string[],
): SiteSipConfig {
  const { at } = ctx;
  const add = (field: string, msg: string) => problems.push(`${at}.${field}: ${msg}`);
  const catching = (fn: () => void) => {
    try {
      fn();
    } catch (e) {
      if (!isDomainError(e, 'invalid-argument')) throw e;
      problems.push(e.message);
    }
  };

  const bound = new Set<string>();
  raw.listen.forEach((l, i) => {
    const key = `${l.transport} ${l.host} ${l.port}`;
    if (bound.has(key)) add(`listen[${i}]`, `${l.transport} ${l.host}:${l.port} is listed twice`);
    bound.add(key);
  });
  const { from, to } = raw.rtpPorts;
  // RTP takes even ports and RTCP the odd one above (RFC 3550 §11), so a range starts even.
  if (from % 2 !== 0) add('rtpPorts.from', `must be even (RTP on even ports), not ${from}`);
  if (to <= from) add('rtpPorts.to', `must be above rtpPorts.from (${from})`);
  if (from < 1024) add('rtpPorts.from', 'must be 1024 or above');
  raw.listen.forEach((l, i) => {
    if (l.port >= from && l.port <= to)
      add(`listen[${i}].port`, `${l.port} is inside rtpPorts (${from}-${to})`);
  });

  const secret: NonceSecretSource | undefined =
    raw.digest.secretFile !== undefined && raw.digest.secretEnv === undefined
      ? { file: resolve(ctx.baseDir, raw.digest.secretFile) }
      : raw.digest.secretEnv !== undefined && raw.digest.secretFile === undefined
        ? { env: raw.digest.secretEnv }
        : undefined;
  if (!secret) add('digest', 'name the nonce secret with exactly one of secretFile or secretEnv');
  catching(() =>
    checkDigestRealm(
      {
        realm: raw.realm,
        // The real secret is checked when it is read (loadNonceSecret); a stand-in here.
        secret: new Uint8Array(16),
        nonceLifetimeMs: raw.digest.nonceLifetime,
        algorithms: raw.digest.algorithms,
        nonceMemory: raw.digest.nonceMemory,
      },
      `${at}.digest`,
    ),
  );

  const trunks: SipTrunkConfig[] = [];
  const names = new Set<string>();
  const blocks: Array<{ block: CidrBlock; where: string }> = [];
  raw.trunks.forEach((t, i) => {
    if (names.has(t.name)) add(`trunks[${i}].name`, `duplicate trunk name "${t.name}"`);
    names.add(t.name);
    if (t.maxChannels > ctx.siteChannels)
      add(`trunks[${i}].maxChannels`, `${t.maxChannels} is more than the site's ${ctx.siteChannels} trunks`);
    if (new Set(t.dnis).size !== t.dnis.length) add(`trunks[${i}].dnis`, 'lists a number twice');
    const sources: CidrBlock[] = [];
    t.sources.forEach((s, j) => {
      const where = `${at}.trunks[${i}].sources[${j}]`;
      catching(() => {
        const block = parseCidr(s, where);
        const clash = blocks.find((b) => cidrOverlap(b.block, block));
        if (clash) throw invalidArgument(where, `${s} overlaps ${clash.block.text} (${clash.where})`);
        blocks.push({ block, where });
        sources.push(block);
      });
    });
    trunks.push({
      name: t.name,
      sources,
      dnis: t.dnis,
      maxChannels: t.maxChannels,
      ...(t.outbound ? { outbound: t.outbound } : {}),
    });
  });
  const dialOut = raw.dialOut;
  if (dialOut) {
    const i = raw.trunks.findIndex((t) => t.name === dialOut.trunk);
    const out = raw.trunks[i]?.outbound;
    if (i < 0) add('dialOut.trunk', `"${dialOut.trunk}" is not a trunk of this site (trunks[].name)`);
    else if (!out)
      add(
        'dialOut.trunk',
        `trunk "${dialOut.trunk}" has no outbound (trunks[${i}].outbound): calls cannot leave by it`,
      );
    // The INVITE leaves from one of our own sockets: the site must listen on that transport.
    else if (!raw.listen.some((l) => l.transport === out.transport))
      add(
        `trunks[${i}].outbound.transport`,
        `${out.transport}: the site does not listen on ${out.transport} (listen), so it cannot send by it`,
      );
  }

  const phones: SipPhoneConfig[] = [];
  const byAgent = new Set<string>();
  const byExtension = new Map<string, string>();
  raw.phones.forEach((p, i) => {
    if (!ctx.agentIds.has(p.agent)) add(`phones[${i}].agent`, `"${p.agent}" is not an agent of this site`);
    if (byAgent.has(p.agent)) add(`phones[${i}].agent`, `agent "${p.agent}" has a phone already`);
    byAgent.add(p.agent);
    const other = byExtension.get(p.extension);
    if (other !== undefined)
      add(`phones[${i}].extension`, `extension ${p.extension} is agent "${other}"'s already`);
    byExtension.set(p.extension, p.agent);
    const ha1: Partial<Record<DigestAlgorithm, string>> = {};
    for (const alg of raw.digest.algorithms) {
      const h = p.ha1[alg];
      if (h === undefined) add(`phones[${i}].ha1`, `needs the ${alg} HA1 (digest.algorithms offers it)`);
      else if (h.length !== DIGEST_HEX_LENGTH[alg])
        add(`phones[${i}].ha1.${alg}`, `must be ${DIGEST_HEX_LENGTH[alg]} hex digits, not ${h.length}`);
      else ha1[alg] = h.toLowerCase();
    }
    phones.push({ agentId: p.agent, extension: p.extension, ha1 });
  });

  const timers = {
    t1Ms: raw.timers.t1,
    sessionIntervalS: raw.timers.sessionInterval / 1000,
    rtpInactivityMs: raw.timers.rtpInactivity,
    ringTimeoutMs: raw.timers.ringTimeout,
  };
  catching(() =>
    compileTimerOptions({ t1Ms: timers.t1Ms, t2Ms: Math.max(4000, timers.t1Ms) }, `${at}.timers`),
  );
  if (!Number.isInteger(timers.sessionIntervalS) || timers.sessionIntervalS < MIN_SE_FLOOR_S)
    add('timers.sessionInterval', `must be whole seconds, at least ${MIN_SE_FLOOR_S} s (RFC 4028 Min-SE)`);
  catching(() => checkRegistrarLimits(raw.registrar, `${at}.registrar`));

  return {
    listen: raw.listen,
    publicAddress: raw.publicAddress,
    rtpPorts: raw.rtpPorts,
    rtpLatching: raw.rtpLatching,
    realm: raw.realm,
    digest: {
      secret: secret ?? { env: '' },
      nonceLifetimeMs: raw.digest.nonceLifetime,
      algorithms: raw.digest.algorithms,
      nonceMemory: raw.digest.nonceMemory,
    },
    trunks,
    ...(dialOut ? { dialOut: { trunk: dialOut.trunk, callerId: dialOut.callerId } } : {}),
    phones,
    timers,
    registrar: raw.registrar,
    limits: {
      maxServerTransactions: raw.limits.maxServerTransactions,
      tcp: {
        idleMs: raw.limits.tcp.idle,
        maxConnections: raw.limits.tcp.maxConnections,
        messageMs: raw.limits.tcp.messageTimeout,
        maxPendingBytes: raw.limits.tcp.maxPendingBytes,
      },
    },
  };
}

/** At least this many characters: `openssl rand -hex 32` gives 64. */
export const MIN_NONCE_SECRET_CHARS = 32;

/**
 * Reads the nonce secret named by the config, at start. The same secret across restarts keeps
 * the phones' nonces good. Errors name where it was looked for, never what was found.
 */
export function loadNonceSecret(
  source: NonceSecretSource,
  env: Readonly<Record<string, string | undefined>> = process.env,
  at = 'sip.digest',
): Uint8Array {
  let text: string | undefined;
  let field: string;
  if ('file' in source) {
    field = `${at}.secretFile`;
    try {
      text = readFileSync(source.file, 'utf8');
    } catch (e) {
      throw invalidArgument(
        field,
        `cannot read ${source.file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
      );
    }
  } else {
    field = `${at}.secretEnv`;
    text = env[source.env];
    if (text === undefined) throw invalidArgument(field, `environment variable ${source.env} is not set`);
  }
  const secret = text.trim();
  if (secret.length < MIN_NONCE_SECRET_CHARS)
    throw invalidArgument(
      field,
      `the secret must be at least ${MIN_NONCE_SECRET_CHARS} characters (openssl rand -hex 32)`,
    );
  return new Uint8Array(Buffer.from(secret, 'utf8'));
}
