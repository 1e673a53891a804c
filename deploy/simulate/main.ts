/**
 * `npm run simulate -- <scenario.yaml> [--out plot.svg]`: the province what-if simulator
 * (docs/operations.md "The province what-if simulator"). Runs the scenario's day twice,
 * federation off and on, on the same calls (province-run.ts), prints the JSON summary on
 * stdout, a progress line per simulated hour on stderr, and writes the SVG plot (by default
 * next to the scenario, `<name>.svg`), whose path it prints. A bad scenario is refused before
 * anything runs: one line per problem, each naming its field, exit 2.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { isDomainError } from '../../shared/errors.js';
import { runProvince, type RunResult } from './province-run.js';
import { plotServiceLevel } from './plot.js';
import { loadScenario, type CompiledScenario } from './scenario.js';
import { summarise } from './summary.js';

const USAGE = 'usage: npm run simulate -- <scenario.yaml> [--out plot.svg]';

function fail(message: string): never {
  process.stderr.write(`simulate: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function progress(run: 'off' | 'on', s: CompiledScenario) {
  return (hour: number, r: RunResult): void => {
    let ended = 0;
    let moved = 0;
    for (const t of r.tally.sites.values()) {
      const c = t.total;
      ended += c.answeredWithinT + c.answeredAfterT + c.abandoned + c.other;
      moved += t.movedIn;
    }
    process.stderr.write(
      `simulate: federation ${run.padEnd(3)} ${String(hour + 1).padStart(2, '0')}:00  calls ended ${ended}/${s.totalCalls}  moved ${moved}\n`,
    );
  };
}

function main(argv: string[]): void {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { out: { type: 'string' } } });
  } catch (e) {
    fail((e as Error).message);
  }
  if (parsed.positionals.length !== 1) fail('give exactly one scenario file');
  const path = resolve(parsed.positionals[0]!);
  const dir = dirname(path);
  let scenario: CompiledScenario;
  try {
    scenario = loadScenario(readFileSync(path, 'utf8'), (rel) => readFileSync(resolve(dir, rel), 'utf8'));
  } catch (e) {
    if (isDomainError(e)) fail(`${path}: ${e.message}`);
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') fail(`${path}: no such file`);
    throw e;
  }
  const out = parsed.values.out
    ? resolve(parsed.values.out)
    : join(dir, `${basename(path, extname(path))}.svg`);

  const t0 = performance.now();
  const off = runProvince(scenario, false, { onHour: progress('off', scenario) });
  const t1 = performance.now();
  const on = runProvince(scenario, true, { onHour: progress('on', scenario) });
  const t2 = performance.now();
  const summary = summarise(scenario, off, on, { offMs: t1 - t0, onMs: t2 - t1 });
  writeFileSync(out, plotServiceLevel(summary, basename(path, extname(path))));
  process.stderr.write(
    `simulate: ${scenario.totalCalls} calls, 2 runs of ${Math.round(off.virtualMs / 3_600_000)} h virtual in ${((t2 - t0) / 1000).toFixed(1)} s (x${summary.timing.total.speedUp}); plot: ${out}\n`,
  );
  process.stdout.write(`${JSON.stringify({ scenario: path, plot: out, ...summary }, null, 2)}\n`);
}

main(process.argv.slice(2));
