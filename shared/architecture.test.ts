/**
 * The boundaries between the parts of the tree. The hub, the site node and the access
 * gateway are separate programs on separate machines: what they agree on (the topology
 * format, the duration grammar, the wire contracts) lives in shared/ and proto/, which both
 * sides read, and none of them imports another, not even a type. shared/ is below all of
 * them; proto/ (generated code) imports nothing of ours. deploy/ is where processes are
 * composed (the demos), so it is the one place that may import hub and site code together;
 * no program imports deploy/ or test/.
 *
 * One exception, for tests: a test beside the code (`*.test.ts`, or a `testing.ts` helper
 * only tests import) may use test/support/ (throw-away databases, test PKI, waiting). What
 * such a support module reaches in turn is held to the test's own rules, so a site-node test
 * cannot reach the hub through a support module that composes both.
 *
 * Every .ts file is scanned (static imports, `import type`, `export ... from`, side-effect
 * imports, dynamic `import()` and `typeof import()`): TypeScript's own parser finds the
 * specifiers (test/support/imports.ts), so comments and strings are not mistaken for imports.
 */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { importsOf } from '../test/support/imports.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The parts of the tree, and what each may not import. */
const FORBIDDEN: Readonly<Record<string, readonly string[]>> = {
  hub: ['site-node', 'access-gateway', 'deploy', 'test'],
  'site-node': ['hub', 'access-gateway', 'deploy', 'test'],
  'access-gateway': ['hub', 'site-node', 'deploy', 'test'],
  shared: ['hub', 'site-node', 'access-gateway', 'deploy', 'test'],
  proto: ['hub', 'site-node', 'access-gateway', 'shared', 'deploy', 'test'],
  deploy: ['test'],
  test: [],
};
const PARTS = Object.keys(FORBIDDEN);
const SUPPORT = 'test/support/';
const SKIP_DIRS = new Set(['node_modules', 'dist', '.services', '.demo']);

/** The module specifiers a TypeScript file imports or re-exports, in order of appearance. */
const importSpecifiers = (source: string): string[] => importsOf(source).map((i) => i.specifier);

/** A test, or a helper module only tests import. */
const isTestCode = (file: string): boolean =>
  file.endsWith('.test.ts') || /(^|\/)(testing|test-support)\.ts$/.test(file);

const partOf = (file: string): string | undefined => {
  const top = file.split('/')[0]!;
  return top in FORBIDDEN ? top : undefined;
};

/** The repo-relative file a relative specifier names (`.js` -> `.ts`), or undefined. */
function target(from: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined; // a package or node: builtin
  const path = posix.normalize(posix.join(posix.dirname(from), spec));
  if (path.startsWith('..')) return undefined;
  return path.replace(/\.js$/, '.ts');
}

interface Violation {
  file: string;
  specifier: string;
  rule: string;
}

/**
 * Every import that crosses a boundary. `files` maps repo-relative paths (with `/`) to their
 * source text.
 */
function boundaryViolations(files: ReadonlyMap<string, string>): Violation[] {
  const imports = new Map<string, Array<{ specifier: string; target: string | undefined }>>();
  for (const [file, text] of files) {
    imports.set(
      file,
      importSpecifiers(text).map((specifier) => ({ specifier, target: target(file, specifier) })),
    );
  }
  /** What a test/support module reaches, through other test/support modules (with the chain). */
  const reached = (start: string): Array<{ target: string; via: string[] }> => {
    const out: Array<{ target: string; via: string[] }> = [];
    const seen = new Set<string>([start]);
    const walk = (file: string, via: string[]) => {
      for (const i of imports.get(file) ?? []) {
        if (!i.target || seen.has(i.target)) continue;
        seen.add(i.target);
        if (i.target.startsWith(SUPPORT)) walk(i.target, [...via, i.target]);
        else out.push({ target: i.target, via });
      }
    };
    walk(start, [start]);
    return out;
  };

  const violations: Violation[] = [];
  for (const [file, list] of imports) {
    const part = partOf(file);
    if (!part) continue;
    const forbidden = FORBIDDEN[part]!;
    const rule = (to: string) => `${part}/ must not import ${to}/`;
    for (const { specifier, target: t } of list) {
      const to = t && partOf(t);
      if (!t || !to || !forbidden.includes(to)) continue;
      if (!(to === 'test' && t.startsWith(SUPPORT) && isTestCode(file))) {
        violations.push({ file, specifier, rule: rule(to) });
        continue;
      }
      // A test's support module: what it reaches is held to the test's rules.
      for (const r of reached(t)) {
        const via = partOf(r.target);
        if (via && forbidden.includes(via)) {
          violations.push({
            file,
            specifier,
            rule: `${rule(via)} (${r.via.join(' -> ')} imports ${r.target})`,
          });
        }
      }
    }
    // Code that ships must not pull in test helpers (they import test/support).
    if (!isTestCode(file) && part !== 'test') {
      for (const { specifier, target: t } of list) {
        if (t && isTestCode(t)) {
          violations.push({ file, specifier, rule: `${part}/ code must not import test code (${t})` });
        }
      }
    }
  }
  return violations;
}

/** Every .ts file of the parts, repo-relative with `/`. */
function treeFiles(): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      if (e.isDirectory()) {
        if (!SKIP_DIRS.has(e.name)) walk(path);
      } else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) {
        files.set(relative(ROOT, path).split(sep).join('/'), readFileSync(path, 'utf8'));
      }
    }
  };
  for (const part of PARTS) if (existsSync(join(ROOT, part))) walk(join(ROOT, part));
  return files;
}

test('the scanner finds every form of import and re-export', () => {
  const source = [
    "import a from './a.js';",
    "import type { B } from '../b.js';",
    "export { c } from './c.js';",
    "export type * from './d.js';",
    "import './e.js';",
    "const f = await import('./f.js');",
    "type G = typeof import('./g.js');",
    "import {\n  h,\n} from\n  './h.js';",
    "// import x from './in-a-comment.js';",
    'const s = "import y from \'./in-a-string.js\'";',
  ].join('\n');
  assert.deepEqual(
    importsOf(source).map((i) => `${i.specifier}${i.typeOnly ? ' (type)' : ''}`),
    ['./a.js', '../b.js (type)', './c.js', './d.js (type)', './e.js', './f.js', './g.js (type)', './h.js'],
  );
});

test('each boundary rule catches what it is for, and allows what it should', () => {
  const v = boundaryViolations(
    new Map([
      ['hub/a.ts', "import type { X } from '../site-node/x.js';"],
      ['site-node/b.ts', "export { T } from '../hub/t.js';"],
      ['access-gateway/c.ts', "const h = await import('../hub/h.js');"],
      ['shared/d.ts', "import '../deploy/demo/layout.js';"],
      ['proto/gen/e.ts', "import { s } from '../../shared/s.js';"],
      ['hub/f.ts', "import { w } from '../test/support/wait.js';"],
      ['site-node/g.test.ts', "import { f } from '../test/support/fed.js';"],
      ['test/support/fed.ts', "import { Hub } from '../../hub/hub.js';\nimport './wait.js';"],
      ['test/support/wait.ts', "import { clock } from '../../shared/clock.js';"],
      ['site-node/h.test.ts', "import { w } from '../test/support/wait.js';"],
      ['site-node/i.ts', "import { db } from './store/testing.js';"],
      ['deploy/demo/j.ts', "import { Hub } from '../../hub/hub.js';\nimport '../../site-node/x.js';"],
      ['test/k.ts', "import { Hub } from '../hub/hub.js';"],
      ['shared/l.ts', "import { z } from 'zod';\nimport { readFileSync } from 'node:fs';"],
    ]),
  );
  assert.deepEqual(
    v.map((x) => `${x.file}: ${x.rule}`),
    [
      'hub/a.ts: hub/ must not import site-node/',
      'site-node/b.ts: site-node/ must not import hub/',
      'access-gateway/c.ts: access-gateway/ must not import hub/',
      'shared/d.ts: shared/ must not import deploy/',
      'proto/gen/e.ts: proto/ must not import shared/',
      'hub/f.ts: hub/ must not import test/',
      'site-node/g.test.ts: site-node/ must not import hub/ (test/support/fed.ts imports hub/hub.ts)',
      'site-node/i.ts: site-node/ code must not import test code (site-node/store/testing.ts)',
    ],
  );
});

test('hub, site-node, access-gateway, shared and proto import across no boundary', () => {
  const files = treeFiles();
  assert.ok(files.size > 100, `scanned only ${files.size} files under ${ROOT}`);
  const v = boundaryViolations(files);
  assert.deepEqual(
    v.map((x) => `${x.file}: '${x.specifier}' (${x.rule})`),
    [],
    `${v.length} imports cross a boundary`,
  );
});
