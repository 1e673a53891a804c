/**
 * A site's real voice, built from its config's `sip:` section (docs/sip.md "The site over
 * SIP"): the media engine in its worker, the prompt library, and the SIP media port; then,
 * once the site has migrated its database, the phone registrar on it, the invite gate and the
 * SIP stack with the port as its transaction user. main.ts and the end-to-end tests build a
 * real site with these two calls, so they cannot drift apart.
 */
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import type { Logger } from '../../shared/log.js';
import type { Scheduler } from '../../shared/scheduler.js';
import { SipStack } from '../../shared/sip/stack/sip-stack.js';
import { failedPrecondition, invalidArgument } from '../../shared/errors.js';
import type { SiteConfig } from '../config.js';
import { loadNonceSecret, type SiteSipConfig } from '../config-sip.js';
import { ensureRecordingsDir } from '../config-recordings.js';
import { flowRecords, loadPromptCatalogueFile, recordingFields } from '../ivr/flow.js';
import { loadFlow } from '../ivr/load-flow.js';
import { PgRegistrationStore } from '../store/sip-registrations-repo.js';
import type { Topology } from '../../shared/topology/schema.js';
import { InviteGate } from './invite-gate.js';
import { peerSites } from './peer-sites.js';
import { startMediaEngine, type MediaEngine } from './media-engine.js';
import { PhoneRegistrar } from './phone-registrar.js';
import { PromptLibrary } from './prompt-library.js';
import { SipMediaPort, type SipMediaPortOptions } from './sip-media-port.js';
import { TrunkAcl } from './trunk-acl.js';

/** `npm run prompts`'s default output: the repository's .cache/prompts/manifest.json. */
export const DEFAULT_PROMPT_MANIFEST = fileURLToPath(
  new URL('../../.cache/prompts/manifest.json', import.meta.url),
);

export interface SipVoiceOptions {
  config: SiteConfig;
  scheduler: Scheduler;
  log: Logger;
  /** The prompt build's manifest; default DEFAULT_PROMPT_MANIFEST. */
  promptManifest?: string;
  env?: Readonly<Record<string, string | undefined>>;
  port?: Partial<
    Pick<SipMediaPortOptions, 'language' | 'holdMusic' | 'queueAnnouncement' | 'announceEveryMs'>
  >;
  /**
   * The topology the site runs now (null: none yet), asked at each hand-over and each INVITE
   * carrying a hand-over token: the other sites' SIP addresses (peer-sites.ts).
   */
  topology?: () => Topology | null;
}

export interface SipVoice {
  sip: SiteSipConfig;
  port: SipMediaPort;
  engine: MediaEngine;
  /** Set by `listen`. */
  stack: SipStack | undefined;
  registrar: PhoneRegistrar | undefined;
  /**
   * Open the registrar on the site's (migrated) database and start taking SIP. The desk is
   * told of phone changes through `onPhoneChange`.
   */
  listen(pool: pg.Pool, onPhoneChange: (agentId: string) => void): Promise<SipStack>;
  /** Stop taking calls, end the legs, close the stack and the engine. */
  stop(): Promise<void>;
}

/** The warning at stop with the engine's run total of stalls (the sip-site bench reads it). */
export const PLAYOUT_LAG_AT_STOP = 'media engine run total: prompts and music heard late after stalls';

export async function createSipVoice(o: SipVoiceOptions): Promise<SipVoice> {
  const sip = o.config.sip;
  if (!sip) throw failedPrecondition('the site config has no sip: section: real voice needs one');
  const secret = loadNonceSecret(sip.digest.secret, o.env ?? process.env, 'site.sip.digest');
  const catalogue = loadPromptCatalogueFile(
    o.config.ivr.promptsPath ?? fileURLToPath(new URL('../ivr/prompts.yaml', import.meta.url)),
  );
  const prompts = PromptLibrary.load(o.promptManifest ?? DEFAULT_PROMPT_MANIFEST, catalogue);
  const recordingsDir = recordingsFolder(o.config);
  const log = o.log.child({ part: 'sip' });
  const engine = await startMediaEngine(
    {
      host: sip.publicAddress,
      portMin: sip.rtpPorts.from,
      portMax: sip.rtpPorts.to,
      rtpTimeoutMs: sip.timers.rtpInactivityMs,
      latching: sip.rtpLatching,
    },
    log,
  );
  const peers = peerSites(
    o.config.siteId,
    sip.listen.map((l) => l.transport),
    o.topology ?? (() => null),
  );
  const port = new SipMediaPort({
    sip,
    engine,
    prompts,
    scheduler: o.scheduler,
    log,
    peers,
    ...(recordingsDir === undefined ? {} : { recordingsDir }),
    ...o.port,
  });
  let stopGate = (): void => {};
  const voice: SipVoice = {
    sip,
    port,
    engine,
    stack: undefined,
    registrar: undefined,
    async listen(pool, onPhoneChange) {
      const registrar = await PhoneRegistrar.open({
        sip,
        secret,
        store: new PgRegistrationStore(pool),
        clock: o.scheduler,
        log,
        onPhoneChange,
      });
      registrar.start();
      voice.registrar = registrar;
      const gate = new InviteGate(new TrunkAcl(sip.trunks), registrar, log, o.scheduler, { peers });
      const udp = sip.listen.find((l) => l.transport === 'udp');
      const tcp = sip.listen.find((l) => l.transport === 'tcp');
      const stack = await SipStack.start(
        {
          ...(udp ? { udp: { host: udp.host, port: udp.port } } : {}),
          ...(tcp ? { tcp: { host: tcp.host, port: tcp.port, ...sip.limits.tcp } } : {}),
          viaHost: sip.publicAddress,
          maxServerTransactions: sip.limits.maxServerTransactions,
          timers: { t1Ms: sip.timers.t1Ms },
          log,
        },
        port,
      );
      voice.stack = stack;
      stopGate = () => gate.stop();
      port.attach({ stack, registrar, gate });
      return stack;
    },
    async stop() {
      await port.stop();
      voice.registrar?.stop();
      stopGate();
      await voice.stack?.close();
      // The time our prompts and music lost to a starved engine over its whole run, once (the
      // warnings on the way say it at most every 10 s): docs/operations.md §8.7.
      const lag = await engine.stats().then(
        (s) => s.playoutLag,
        () => undefined,
      );
      if (lag && lag.stalls > 0) log.warn(PLAYOUT_LAG_AT_STOP, { ...lag });
      await engine.stop();
    },
  };
  return voice;
}

/**
 * The recordings' folder, created (config-recordings.ts). A flow that records calls on a site
 * with real voice needs one: without it the site would take complaint calls it cannot record,
 * so it does not start, naming the field and the flow's fields that ask for recordings.
 */
function recordingsFolder(config: SiteConfig): string | undefined {
  if (config.recordings) return ensureRecordingsDir(config.recordings);
  const { flow } = loadFlow(config);
  if (flowRecords(flow))
    throw invalidArgument(
      'recordings.dir',
      `required: the IVR flow records calls (${recordingFields(flow).join(', ')}) and the site takes real voice`,
    );
  return undefined;
}
