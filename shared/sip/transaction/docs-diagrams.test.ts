/**
 * docs/sip.md shows the machines' diagrams and the timer table; the code's doc comments are
 * the source. This keeps the two the same, so a changed machine cannot leave the doc behind.
 */
import { expect, test } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const read = (rel: string): string => readFileSync(fileURLToPath(new URL(rel, import.meta.url)), 'utf8');
const uncomment = (lines: string[]): string => lines.map((l) => l.replace(/^ \* ?/, '')).join('\n');

/** The fenced block in a file's first doc comment, without the comment's ` * `. */
function diagramOf(file: string): string {
  const lines = read(file).split('\n');
  const open = lines.indexOf(' * ```');
  const close = lines.indexOf(' * ```', open + 1);
  expect(open, `${file} has a diagram`).toBeGreaterThan(0);
  return uncomment(lines.slice(open + 1, close));
}

const doc = read('../../../docs/sip.md');

test.each(['client-invite.ts', 'client-non-invite.ts', 'server-invite.ts', 'server-non-invite.ts'])(
  'docs/sip.md shows the diagram of %s as the code has it',
  (file) => {
    expect(doc).toContain(diagramOf(file));
  },
);

test('docs/sip.md shows the timer table of timers.ts', () => {
  const table = uncomment(
    read('timers.ts')
      .split('\n')
      .filter((l) => l.startsWith(' * |')),
  );
  expect(table.split('\n')).toHaveLength(14);
  expect(doc).toContain(table);
});
