/**
 * Loading IVR flows from disk: a flow file's YAML (or JSON) text into a validated Flow, and a
 * site's flow as its config names it. No I/O beyond reading the files, so unit tests and tools
 * can load flows without the site runtime (Kafka, gRPC, PostgreSQL).
 *
 * Keys are checked here, on the YAML text, because only the text still tells them apart: YAML
 * reads a menu key `0` as a number and `'0'` as a string, both become the property "0" of the
 * parsed object and the later one would silently win (pressing 0 reaching the wrong node). So
 * two keys of one mapping that read as the same key are refused, like any duplicate key YAML
 * refuses itself, and every YAML problem names the node and field it is in.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type YAMLError } from 'yaml';
import { DomainError } from '../../shared/errors.js';
import { throwInvalid } from '../../shared/validate.js';
import type { SiteConfig } from '../config.js';
import {
  announcementPrompt,
  type Flow,
  type LoadFlowOptions,
  type LoadedFlow,
  fieldPath,
  loadPromptCatalogueFile,
  parseFlow,
} from './flow.js';

/** The property a scalar key becomes in the parsed object (as yaml's toJS names it). */
function propertyOf(key: unknown): string | undefined {
  if (!isScalar(key)) return undefined;
  return key.value === null || key.value === undefined ? '' : String(key.value);
}

/** Two keys are the same when they become the same property: `0`, `'0'` and `"0"` are. */
function sameKey(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  const p = propertyOf(a);
  return p !== undefined && p === propertyOf(b);
}

type Range = [number, number, number];
const rangeOf = (n: unknown): Range | undefined => (n as { range?: Range | null } | null)?.range ?? undefined;

interface Location {
  /** Property names from the document's root down to `offset`. */
  path: string[];
  /** When `offset` is at a key: that key, and every key of the mapping it is in. */
  key?: unknown;
  keys?: unknown[];
}

/** Where `offset` is in the document (a duplicate key error points at the later key). */
function locate(node: unknown, offset: number, path: string[] = []): Location {
  if (isMap(node)) {
    for (const pair of node.items) {
      const name = propertyOf(pair.key) ?? '?';
      const k = rangeOf(pair.key);
      if (k && offset >= k[0] && offset < Math.max(k[1], k[0] + 1))
        return { path: [...path, name], key: pair.key, keys: node.items.map((p) => p.key) };
      const v = rangeOf(pair.value);
      if (v && offset >= v[0] && offset < v[2]) return locate(pair.value, offset, [...path, name]);
    }
  } else if (isSeq(node)) {
    for (const [i, item] of node.items.entries()) {
      const v = rangeOf(item);
      if (v && offset >= v[0] && offset < v[2]) return locate(item, offset, [...path, String(i)]);
    }
  }
  return { path };
}

const listed = (parts: string[]): string =>
  parts.length <= 1 ? (parts[0] ?? '') : `${parts.slice(0, -1).join(', ')} and ${parts.at(-1)!}`;

/**
 * `key '1' is given twice (lines 8 and 9)`, or `keys 0 (line 8) and '0' (line 10) are the same
 * key`; keys on one line (a flow mapping) are told apart by column.
 */
function duplicates(text: string, keys: unknown[], lines: LineCounter): string {
  const seen = keys.map((k) => {
    const [start, end] = rangeOf(k)!;
    return { written: text.slice(start, end), ...lines.linePos(start) };
  });
  const oneLine = new Set(seen.map((k) => k.line)).size < seen.length;
  const where = (k: (typeof seen)[number]) => (oneLine ? `line ${k.line} column ${k.col}` : `line ${k.line}`);
  if (new Set(seen.map((k) => k.written)).size === 1) {
    const times = seen.length === 2 ? 'twice' : `${seen.length} times`;
    const at = oneLine ? listed(seen.map(where)) : `lines ${listed(seen.map((k) => String(k.line)))}`;
    return `key ${seen[0]!.written} is given ${times} (${at})`;
  }
  return `keys ${listed(seen.map((k) => `${k.written} (${where(k)})`))} are the same key`;
}

/** yaml's message without its own position (we give the line and column, and the field). */
const reason = (e: YAMLError): string => e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');

/** Parses a flow file's text into plain data; every YAML problem names its node and field. */
function readFlowYaml(text: string, source: string): unknown {
  const lines = new LineCounter();
  const doc = parseDocument(text, { uniqueKeys: sameKey, prettyErrors: false, lineCounter: lines });
  if (doc.errors.length === 0) return doc.toJS();

  const id = doc.get('id');
  const label = `flow ${typeof id === 'string' ? id : '(no id)'} (${source})`;
  const problems: Array<[field: string, problem: string]> = [];
  for (const e of doc.errors) {
    const at = locate(doc.contents, e.pos[0]);
    const field = fieldPath(at.path).slice(1) || '(root)';
    if (e.code === 'DUPLICATE_KEY' && at.keys) {
      // A key given three times is two errors from yaml: one problem, listing all three.
      if (problems.some(([f]) => f === field)) continue;
      const same = at.keys.filter((k) => sameKey(k, at.key));
      problems.push([field, duplicates(text, same, lines)]);
    } else {
      const { line, col } = lines.linePos(e.pos[0]);
      problems.push([field, `${reason(e)} (line ${line}, column ${col})`]);
    }
  }
  return throwInvalid(
    problems.map(([f, m]) => `${label}: ${f}: ${m}`),
    problems[0]![0],
    doc.errors[0],
  );
}

/** Loads and validates a flow from a .yaml/.yml/.json file (YAML is a superset of JSON). */
export function loadFlowFile(file: string, opts: LoadFlowOptions): LoadedFlow {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new DomainError(
      'invalid-argument',
      `flow file ${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? String(e)})`,
      { field: file, cause: e },
    );
  }
  return parseFlow(readFlowYaml(text, file), opts);
}

/**
 * Load and validate the IVR flow named in the config against its prompt catalogue and the
 * ACD's queues. Strict: a node no caller can reach is an error at start, not a surprise in
 * production.
 */
export function loadFlow(config: SiteConfig): { flow: Flow; warnings: string[] } {
  const promptsPath = config.ivr.promptsPath ?? fileURLToPath(new URL('./prompts.yaml', import.meta.url));
  return loadFlowFile(config.ivr.flowPath, {
    catalogue: loadPromptCatalogueFile(promptsPath),
    strict: true,
    queues: config.acd.queues.map((q) => q.id),
    sitePrompts: announcementPrompts(config),
  });
}

/** The prompts of the queues' fallback announcements (call-endings.ts plays them). */
function announcementPrompts(config: SiteConfig): Array<readonly [string, string]> {
  return config.acd.queues.flatMap((q, i) =>
    (['onQueueFull', 'onMaxWait', 'afterHours'] as const).flatMap((key) => {
      const a = q[key];
      return a.kind === 'announcement'
        ? [[`acd.queues[${i}].${key}`, announcementPrompt(a.announcement)] as const]
        : [];
    }),
  );
}
