/**
 * The relay core and the decision record stay pure (docs/architecture.md §3.1): they load
 * nothing at run time (every import is erased at compile time), so they reach no socket,
 * database or clock, and their unit tests need no fakes.
 */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { importsOf } from '../../test/support/imports.js';

const HERE = dirname(fileURLToPath(import.meta.url));

test('relay-core.ts and decision-record.ts import types only', () => {
  const loaded: string[] = [];
  for (const f of ['relay-core.ts', 'decision-record.ts']) {
    for (const i of importsOf(readFileSync(join(HERE, f), 'utf8'), f)) {
      if (!i.typeOnly) loaded.push(`${f}: ${i.specifier}`);
    }
  }
  assert.deepEqual(loaded, []);
});
