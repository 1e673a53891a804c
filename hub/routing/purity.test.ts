/**
 * The routing core stays pure (docs/architecture.md §5.8): its files import no package and no
 * `node:` module themselves, and nothing they load, followed through every relative import
 * that is not erased at compile time, reaches a database, gRPC, Kafka or a `node:` module
 * that does I/O. shared/architecture.test.ts holds the part boundaries; this holds the folder
 * to the stricter rule of a core.
 */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { importsOf } from '../../test/support/imports.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');
const IO =
  /^(pg|pg-boss|@grpc\/.*|node-rdkafka|kafkajs|pino|node:(fs|fs\/promises|net|tls|dgram|dns|http|http2|https|child_process|worker_threads|cluster))$/;

const isTestCode = (f: string) => f.endsWith('.test.ts') || f === 'testing.ts';
const core = readdirSync(HERE).filter((f) => f.endsWith('.ts') && !isTestCode(f));

test('hub/routing imports only its own files and shared/, and never a package', () => {
  const bad: string[] = [];
  for (const f of core) {
    for (const i of importsOf(readFileSync(join(HERE, f), 'utf8'), f)) {
      if (!i.specifier.startsWith('.') && !i.typeOnly) bad.push(`${f}: ${i.specifier}`);
    }
  }
  assert.deepEqual(bad, []);
});

test('nothing hub/routing loads reaches a database, gRPC, Kafka, logging or node: I/O', () => {
  const seen = new Set<string>();
  const reached: string[] = [];
  const visit = (file: string, chain: string[]): void => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const i of importsOf(readFileSync(file, 'utf8'), file)) {
      if (i.typeOnly) continue;
      if (IO.test(i.specifier)) reached.push([...chain, i.specifier].join(' -> '));
      else if (i.specifier.startsWith('.')) {
        const next = resolve(dirname(file), i.specifier.replace(/\.js$/, '.ts'));
        visit(next, [...chain, relative(ROOT, next)]);
      }
    }
  };
  for (const f of core) visit(join(HERE, f), [`hub/routing/${f}`]);
  assert.ok(seen.size > core.length, 'followed the imports out of the folder');
  assert.deepEqual(reached, []);
});
