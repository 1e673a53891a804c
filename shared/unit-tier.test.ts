/**
 * The unit tier (`npm run test:unit`: the *.test.ts files beside the code, see test/run.sh)
 * runs with no services, so what a unit test imports must neither need Kafka's native binding
 * (node-rdkafka loads librdkafka the moment it is imported) nor open anything when imported.
 * A test that needs the site runtime, a real hub or Kafka belongs under test/integration/.
 *
 * How: a child process imports the modules every unit test imports (not the tests: importing
 * one would run it), recording each import it resolves; the chain from a unit test to a
 * forbidden package is the failure message. It lives in shared/ so the unit tier checks
 * itself; it covers every unit test, wherever it sits.
 */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { importsOf } from '../test/support/imports.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** As test/run.sh's unit_files. */
const UNIT_DIRS = ['shared', 'hub', 'site-node', 'access-gateway', 'proto', 'deploy'];
const FORBIDDEN = ['node-rdkafka'];

function unitTests(): string[] {
  return UNIT_DIRS.flatMap((dir) => {
    try {
      return readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })
        .filter((f) => f.endsWith('.test.ts') && !f.split(/[\\/]/).includes('gen'))
        .map((f) => join(ROOT, dir, f));
    } catch {
      return []; // a tier not written yet (access-gateway/)
    }
  }).sort();
}

/** The specifiers a file imports at run time (type-only imports are erased, so they are skipped). */
const importsAtRunTime = (file: string): string[] =>
  importsOf(readFileSync(file, 'utf8'), file)
    .filter((i) => !i.typeOnly)
    .map((i) => i.specifier);

/** Records every resolved import as [importer URL, imported URL]. Runs in the hooks thread. */
const HOOKS = `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(process.env.UNIT_TIER_IMPORT_LOG, JSON.stringify([context.parentURL ?? '', r.url]) + '\\n');
  return r;
}`;

const CHILD = `import { register } from 'node:module';
register('data:text/javascript,' + encodeURIComponent(process.env.UNIT_TIER_HOOKS));
// The child's own stdout and stderr pipes open on first use: open them before counting.
void process.stdout;
void process.stderr;
const before = process.getActiveResourcesInfo();
for (const url of JSON.parse(process.env.UNIT_TIER_MODULES)) await import(url);
// Anything else open now was opened by an import.
const opened = process.getActiveResourcesInfo();
for (const r of before) opened.splice(opened.indexOf(r), opened.includes(r) ? 1 : 0);
// Exit rather than wait: a timer or socket an import left open would keep the child alive.
process.stdout.write(JSON.stringify(opened), () => process.exit(0));`;

const name = (url: string): string => {
  const pkg = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  return pkg ? pkg[1]! : url.startsWith('file:') ? relative(ROOT, fileURLToPath(url)) : url;
};

test('unit tests import no native Kafka binding, and nothing they import opens anything', () => {
  const tests = unitTests();
  assert.ok(tests.length > 20, `found the unit tests (${tests.length})`);
  const problems: string[] = [];
  const starts = new Map<string, string[]>(); // test file -> URLs of the modules it imports
  for (const t of tests) {
    const urls: string[] = [];
    for (const spec of importsAtRunTime(t)) {
      if (FORBIDDEN.includes(spec)) problems.push(`${relative(ROOT, t)} imports ${spec}`);
      if (!spec.startsWith('.')) continue;
      const path = resolve(dirname(t), spec).replace(/\.js$/, '.ts');
      if (!path.endsWith('.test.ts')) urls.push(pathToFileURL(path).href);
    }
    starts.set(t, urls);
  }

  const dir = mkdtempSync(join(tmpdir(), 'unit-tier-'));
  const log = join(dir, 'imports.jsonl');
  let active: string[];
  try {
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '--eval', CHILD], {
      cwd: ROOT,
      encoding: 'utf8',
      env: {
        ...process.env,
        UNIT_TIER_HOOKS: HOOKS,
        UNIT_TIER_IMPORT_LOG: log,
        UNIT_TIER_MODULES: JSON.stringify([...new Set([...starts.values()].flat())]),
      },
    });
    active = JSON.parse(out) as string[];
    const graph = new Map<string, string[]>();
    for (const line of readFileSync(log, 'utf8').trim().split('\n')) {
      const [from, to] = JSON.parse(line) as [string, string];
      graph.set(from, [...(graph.get(from) ?? []), to]);
    }
    for (const [t, urls] of starts) {
      // Breadth first, so the chain named is a shortest one.
      const via = new Map<string, string | undefined>(urls.map((u) => [u, undefined]));
      const todo = [...urls];
      for (let u = todo.shift(); u !== undefined; u = todo.shift()) {
        if (FORBIDDEN.includes(name(u))) {
          const chain = [];
          for (let c: string | undefined = u; c !== undefined; c = via.get(c)) chain.unshift(name(c));
          problems.push(`${relative(ROOT, t)} loads ${name(u)}: ${chain.join(' -> ')}`);
          break;
        }
        for (const next of graph.get(u) ?? []) {
          if (!via.has(next)) {
            via.set(next, u);
            todo.push(next);
          }
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.deepEqual(problems, []);
  assert.deepEqual(active, [], 'importing them opened no socket, server or timer');
});
