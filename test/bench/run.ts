/**
 * Benchmark entry: `npm run bench -- <name> [args...]` (= `tsx test/bench/run.ts <name>`).
 * Prints the benchmark's result as one JSON document on stdout; progress goes to stderr.
 * To add a benchmark, add one line to BENCHES: a module exporting
 * `run(args: string[], progress: (line: string) => void): unknown | Promise<unknown>`.
 * A result with a numeric `exitCode` ends the run with that code once it is printed (a
 * benchmark whose invariant broke, e.g. overflow's calls admitted twice or lost).
 */
export interface BenchModule {
  run(args: string[], progress: (line: string) => void): unknown;
}

const BENCHES: Record<string, () => Promise<BenchModule>> = {
  acd: () => import('./acd.js'),
  'hub-ingest': () => import('./hub-ingest.js'),
  'link-liveness': () => import('./link-liveness.js'),
  media: () => import('./media.js'),
  overflow: () => import('./overflow.js'),
  resync: () => import('./resync.js'),
  'roaming-lookup': () => import('./roaming-lookup.js'),
  'sip-site': () => import('./sip-site.js'),
};

async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  const load = name === undefined ? undefined : BENCHES[name];
  if (!load) {
    process.stderr.write(
      `usage: npm run bench -- <name> [args]\nbenchmarks: ${Object.keys(BENCHES).join(', ')}\n`,
    );
    return 2;
  }
  const progress = (line: string): void => void process.stderr.write(`[bench ${name}] ${line}\n`);
  const mod = await load();
  const result = await mod.run(args, progress);
  process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  const code = (result as { exitCode?: unknown } | null)?.exitCode;
  return typeof code === 'number' ? code : 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  },
);
