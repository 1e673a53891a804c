/**
 * docs/sip.md shows the legs' diagrams and the media port table; the code's doc comments are
 * the source. This keeps the two the same, so a changed leg cannot leave the doc behind (the
 * pattern of shared/sip/transaction/docs-diagrams.test.ts).
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

test.each(['inbound.ts', 'outbound.ts'])('docs/sip.md shows the diagram of %s as the code has it', (file) => {
  expect(doc).toContain(diagramOf(file));
});

test('docs/sip.md shows the media port table of outcomes.ts', () => {
  const table = uncomment(
    read('outcomes.ts')
      .split('\n')
      .filter((l) => l.startsWith(' * |')),
  );
  expect(table.split('\n')).toHaveLength(10);
  expect(doc).toContain(table);
});
