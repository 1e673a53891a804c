/**
 * The layout the docs draw is the tree: docs/architecture.md §2 and the README's Layout
 * section each name every top-level folder and, under it, every folder one level down that
 * git tracks, and nothing that is not there. A folder added, moved or removed without the
 * docs following fails here, naming what is missing or stale.
 */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Tracked folders: top level, and one level down ("hub" and "hub/admin"), hidden ones left out. */
function trackedFolders(): Set<string> {
  const files = execFileSync('git', ['ls-files'], { cwd: ROOT, encoding: 'utf8' }).split('\n');
  const out = new Set<string>();
  for (const f of files) {
    const parts = f.split('/');
    if (parts.length < 2 || parts[0]!.startsWith('.')) continue;
    out.add(parts[0]!);
    if (parts.length > 2) out.add(`${parts[0]}/${parts[1]}`);
  }
  return out;
}

/**
 * The folders a layout block names. A line starting `name/` opens a top-level folder; a line
 * starting `  name/` (indented by two) names a folder under it. A top-level folder's
 * description (its line and the deeper-indented lines that continue it) may also name its
 * folders inline as `word/`; a second-level folder's description speaks of what is inside it,
 * which this check does not go down to.
 */
function foldersInBlock(block: string): Set<string> {
  const out = new Set<string>();
  let top: string | undefined;
  let inTopDescription = false;
  for (const line of block.split('\n')) {
    const opens = /^( {0,2})([a-z][a-z0-9-]*)\/(\s|$)/.exec(line);
    if (opens && opens[1] === '') {
      top = opens[2]!;
      out.add(top);
      inTopDescription = true;
    } else if (opens && top) {
      out.add(`${top}/${opens[2]}`);
      inTopDescription = false;
    } else if (/^\S/.test(line)) {
      top = undefined; // a hidden folder (.ci/) or anything else at the margin
      inTopDescription = false;
    }
    if (!top || !inTopDescription) continue;
    const description = opens ? line.slice(opens[0].length) : line;
    for (const m of description.matchAll(/(?<![\w./-])([a-z][a-z0-9-]*)\/(?![\w/])/g))
      out.add(`${top}/${m[1]}`);
  }
  return out;
}

/** The first fenced block after the heading that starts with `heading`. */
function blockAfter(markdown: string, heading: string): string {
  const at = markdown.indexOf(`\n${heading}`);
  assert.ok(at >= 0, `heading "${heading}" not found`);
  const m = /```[^\n]*\n([\s\S]*?)```/.exec(markdown.slice(at));
  assert.ok(m, `no layout block after "${heading}"`);
  return m[1]!;
}

function assertSameFolders(doc: string, named: Set<string>): void {
  const tree = trackedFolders();
  const missing = [...tree].filter((f) => !named.has(f)).sort();
  const stale = [...named].filter((f) => !tree.has(f)).sort();
  assert.deepEqual({ missing, stale }, { missing: [], stale: [] }, `${doc}: the layout and the tree differ`);
}

test('docs/architecture.md §2 names exactly the folders of the tree', () => {
  const md = readFileSync(`${ROOT}docs/architecture.md`, 'utf8');
  assertSameFolders('docs/architecture.md §2', foldersInBlock(blockAfter(md, '## 2.')));
});

test("the README's Layout names exactly the folders of the tree", () => {
  const md = readFileSync(`${ROOT}README.md`, 'utf8');
  assertSameFolders('README.md Layout', foldersInBlock(blockAfter(md, '## Layout')));
});

test('the block reader finds top-level folders and the folders named under them', () => {
  const block = [
    '.ci/              run',
    'proto/            contracts; gen/ is generated (npm run proto)',
    'hub/              admin/ (fedctl), web/ (board), config.ts; site <-> hub',
    '                  store/ (schema)',
    'site-node/        main.ts',
    '  acd/            the routing core',
    '  store/          schema (migrations/), repositories',
    '                  more of store (flows/ is deeper, not counted)',
  ].join('\n');
  assert.deepEqual([...foldersInBlock(block)].sort(), [
    'hub',
    'hub/admin',
    'hub/store',
    'hub/web',
    'proto',
    'proto/gen',
    'site-node',
    'site-node/acd',
    'site-node/store',
  ]);
});
