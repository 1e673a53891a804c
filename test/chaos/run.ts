/**
 * The chaos suite's entry point (docs/operations.md, "Chaos suite"):
 *
 *   npm run chaos -- <scenario>... | all      [--scale 0.5] [--seed 9]
 *
 * Starts the suite's own PostgreSQL servers (the hub's and the sites'), runs each scenario on
 * a fresh province, and prints one JSON verdict line per scenario on stdout; progress goes to
 * stderr. Exits 1 when any verdict fails, 2 on bad arguments.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPgCluster } from './pg-cluster.js';
import { runScenario, type ChaosEnv, type Verdict } from './harness.js';
import { SCENARIOS } from './scenarios/index.js';

const USAGE = `usage: npm run chaos -- <scenario>...|all [--scale <0..1>] [--seed <n>]
scenarios:
${SCENARIOS.map((s) => `  ${s.name.padEnd(16)} ${s.summary}`).join('\n')}`;

function parse(argv: string[]): { names: string[]; scale: number; seed: number } {
  const names: string[] = [];
  let scale = 1;
  let seed = 9;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--scale' || a === '--seed') {
      const v = Number(argv[++i]);
      if (a === '--scale' && !(v > 0 && v <= 1)) throw new Error(`--scale must be in (0, 1], got ${argv[i]}`);
      if (a === '--seed' && !Number.isInteger(v))
        throw new Error(`--seed must be an integer, got ${argv[i]}`);
      if (a === '--scale') scale = v;
      else seed = v;
    } else if (a === 'all') names.push(...SCENARIOS.map((s) => s.name));
    else if (SCENARIOS.some((s) => s.name === a)) names.push(a);
    else throw new Error(`unknown scenario "${a}"`);
  }
  if (names.length === 0) throw new Error('no scenario given');
  return { names, scale, seed };
}

async function main(): Promise<number> {
  let args;
  try {
    args = parse(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`chaos: ${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const progress = (line: string) => process.stderr.write(line + '\n');
  progress('[chaos] starting PostgreSQL for the hub and for the sites');
  const env: ChaosEnv = { hubPg: await startPgCluster('hub'), sitePg: await startPgCluster('sites') };
  const verdicts: Verdict[] = [];
  const logDir = mkdtempSync(join(tmpdir(), 'chaos-logs-'));
  try {
    for (const name of args.names) {
      const s = SCENARIOS.find((x) => x.name === name)!;
      const v = await runScenario(s, env, { scale: args.scale, seed: args.seed, progress, logDir });
      verdicts.push(v);
      process.stdout.write(JSON.stringify(v) + '\n');
    }
  } finally {
    env.hubPg.remove();
    env.sitePg.remove();
  }
  return verdicts.every((v) => v.pass) ? 0 : 1;
}

// Ctrl-C or a kill: exit through 'exit', whose handlers kill the province's processes and
// stop the suite's own servers (province.ts, pg-cluster.ts, kafka-broker.ts).
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130));

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`chaos: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
