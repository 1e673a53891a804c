/**
 * One chaos scenario from start to verdict: a fresh province (hub, three sites, simulated
 * traffic) on the suite's own PostgreSQL servers (and its own Kafka broker when the scenario
 * needs one), warmed up, the scenario's fault injected and healed, then the invariants checked
 * with the sites stopped cleanly and the hub still up. Every failure, of a step or of an
 * invariant, lands in the verdict; nothing is thrown past it.
 */
import { appendFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startProvince, type Province, type ProvinceSiteSpec } from '../support/province.js';
import { waitFor } from '../support/wait.js';
import { Random } from '../../shared/random.js';
import { leaderAndStandby, type HubControl } from './hubs.js';
import {
  agentsLoggedOut,
  agentsMoveOn,
  callsTerminal,
  eventsAtHub,
  movesKept,
  statsMatch,
  toldRecorded,
  type Check,
} from './invariants.js';
import { startKafkaBroker, type KafkaBroker } from './kafka-broker.js';
import { allUp, missingAtHub, noFigures, outboxMarks, type Figures } from './measure.js';
import { Observer } from './observe.js';
import type { PgCluster } from './pg-cluster.js';

/** The servers the scenarios share: the hub's PostgreSQL and the sites'. */
export interface ChaosEnv {
  hubPg: PgCluster;
  sitePg: PgCluster;
}

export interface ScenarioContext {
  p: Province;
  hubs: HubControl;
  obs: Observer;
  env: ChaosEnv;
  kafka: KafkaBroker | undefined;
  figures: Figures;
  /** Fault durations are multiplied by this (1 for `npm run chaos`, less in `npm test`). */
  scale: number;
  rng: Random;
  note(msg: string): void;
}

export interface Scenario {
  name: string;
  summary: string;
  /** Ship fuling's events through a Kafka broker of the suite's own (to stop it). */
  kafka?: boolean;
  /** Simulated calls per hour of some sites, in place of the province's 900 (a busy city). */
  rates?: Readonly<Record<string, number>>;
  run(ctx: ScenarioContext): Promise<void>;
}

export interface Verdict {
  scenario: string;
  pass: boolean;
  invariants: Record<string, Check>;
  figures: Figures;
  durationS: number;
}

export interface RunOptions {
  scale?: number;
  /** Where every process's output is kept, one file per process (default: a temp dir). */
  logDir?: string;
  seed?: number;
  /** Progress lines (stderr in `npm run chaos`). */
  progress?: (line: string) => void;
}

const SITES = (s: Scenario): ProvinceSiteSpec[] =>
  (
    [
      { id: 'chongqing', events: 'link' },
      { id: 'wanzhou', events: 'link' },
      { id: 'fuling', events: s.kafka === true ? 'kafka' : 'link' },
    ] as const
  ).map((x) => ({ ...x, ...(s.rates?.[x.id] === undefined ? {} : { rate: s.rates[x.id] }) }));

/** Calls each site places before the fault, so it strikes a province under load. */
const WARM_UP_CALLS = 10;

/**
 * The fault's own duration (a link cut for 30 s, a server down for 10 s): the scenario's
 * definition, not a wait for a condition.
 */
export const hold = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function runScenario(s: Scenario, env: ChaosEnv, o: RunOptions = {}): Promise<Verdict> {
  const t0 = Date.now();
  const note = (msg: string) =>
    o.progress?.(`[chaos ${((Date.now() - t0) / 1000).toFixed(1)}s] ${s.name}: ${msg}`);
  const invariants: Record<string, Check> = {};
  const figures = noFigures();
  const fail = (name: string, e: unknown) => {
    invariants[name] = { pass: false, detail: `FAIL ${(e as Error).message.split('\n')[0]}` };
    note(`${name} failed: ${(e as Error).message.split('\n')[0]}`);
  };
  const obs = new Observer();
  const logDir = join(o.logDir ?? mkdtempSync(join(tmpdir(), 'chaos-logs-')), s.name);
  mkdirSync(logDir, { recursive: true });
  note(`process output in ${logDir}`);
  const keep = (name: string, line: string) =>
    appendFileSync(join(logDir, `${name.replace(/\W+/g, '-')}.log`), line + '\n');
  let kafka: KafkaBroker | undefined;
  let p: Province | undefined;
  try {
    if (s.kafka) {
      note('starting a Kafka broker of its own');
      kafka = await startKafkaBroker();
    }
    note('starting the province');
    p = await startProvince({
      sites: SITES(s),
      label: `chaos_${s.name.replace(/-/g, '_')}`,
      // The hub leader and its standby on the one hub database (docs/architecture.md §6.6).
      standby: true,
      // The product's liveness defaults (heartbeat 100 ms, suspect 400 ms, down 1.5 s), so the
      // detection figures are what a deployment would see.
      heartbeatIntervalMs: 100,
      hubDatabaseServer: env.hubPg.url,
      siteDatabaseServer: env.sitePg.url,
      ...(kafka ? { kafkaBrokers: kafka.brokers } : {}),
      onLine: (name, line) => {
        obs.line(name, line);
        keep(name, line);
      },
    });
    const prov = p;
    await allUp(prov);
    await waitFor(
      `${WARM_UP_CALLS} calls placed at every site`,
      () => prov.siteIds.every((id) => obs.placedCount(id) >= WARM_UP_CALLS),
      60_000,
      200,
    );
    note('warm; injecting the fault');
    try {
      await s.run({
        p: prov,
        hubs: leaderAndStandby(prov),
        obs,
        env,
        kafka,
        figures,
        scale: o.scale ?? 1,
        rng: new Random(o.seed ?? 9),
        note,
      });
    } catch (e) {
      fail('scenario', e);
    }
    note('healed; checking');
    // The province must be whole again: every link up, every event written so far at the hub.
    try {
      await allUp(prov, 90_000);
      const marks = await outboxMarks(prov);
      await waitFor(
        "the sites' events at the hub",
        async () => {
          for (const id of prov.siteIds) if ((await missingAtHub(prov, id, marks.get(id)!)) > 0) return false;
          return true;
        },
        120_000,
        500,
      );
      invariants.recovered = {
        pass: true,
        detail: 'every link up and every event written before the checks at the hub',
      };
      invariants.noAgentStuck = await agentsMoveOn(prov);
      await stopSites(prov, invariants);
      invariants.eventsAtHub = await eventsAtHub(prov, marks);
    } catch (e) {
      fail('recovered', e);
      await stopSites(prov, invariants);
      invariants.eventsAtHub = await eventsAtHub(prov, new Map()).catch((x: unknown) => ({
        pass: false,
        detail: `FAIL ${(x as Error).message}`,
      }));
    }
    const loggedOut = await agentsLoggedOut(prov);
    const live = invariants.noAgentStuck;
    invariants.noAgentStuck = {
      pass: (live?.pass ?? true) && loggedOut.pass,
      detail: [live?.detail ?? 'live check not run', loggedOut.detail].filter((x) => x !== '').join('; '),
    };
    invariants.callsTerminal = await callsTerminal(prov, obs);
    invariants.statsMatch = await statsMatch(prov, obs);
    invariants.toldRecorded = await toldRecorded(prov, obs);
    const moves = await movesKept(prov);
    invariants.answeredOnce = moves.answeredOnce;
    invariants.movesLanded = moves.movesLanded;
    invariants.countedOnce = moves.countedOnce;
    figures.moves = moves.moves;
    figures.splitByKill = moves.splitByKill;
    figures.splitByTargetKill = moves.splitByTargetKill;
  } catch (e) {
    fail('setup', e);
  } finally {
    await p?.stop().catch((e: unknown) => note(`cleanup: ${(e as Error).message}`));
    await kafka?.remove().catch((e: unknown) => note(`kafka cleanup: ${(e as Error).message}`));
  }
  const verdict: Verdict = {
    scenario: s.name,
    pass: Object.values(invariants).every((c) => c.pass),
    invariants,
    figures,
    durationS: Math.round((Date.now() - t0) / 100) / 10,
  };
  note(
    verdict.pass
      ? 'PASS'
      : `FAIL (${Object.entries(invariants)
          .filter(([, c]) => !c.pass)
          .map(([n]) => n)
          .join(', ')})`,
  );
  return verdict;
}

/** Stop every site cleanly (traffic stops, calls drain, the outbox flushes); a kill is a finding. */
async function stopSites(p: Province, invariants: Record<string, Check>): Promise<void> {
  const exits = await Promise.all(
    p.siteIds.map(async (id) => [id, await p.stopSite(id, 'SIGTERM')] as const),
  );
  const unclean = exits
    .filter(([, x]) => x.killed || x.code !== 0)
    .map(([id, x]) => `${id} ${JSON.stringify(x)}`);
  if (unclean.length > 0)
    invariants.cleanStop = { pass: false, detail: `FAIL sites did not stop cleanly: ${unclean.join(', ')}` };
}
