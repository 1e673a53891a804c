/**
 * ACD configuration: a zod schema for the file format and `compileAcdConfig`, which parses
 * it once, checks the cross-field rules, fills defaults and normalises every duration to
 * milliseconds (docs/architecture.md §3.6). Every error is a DomainError('invalid-argument') whose
 * `field` names the offending path, e.g. `acd.queues[2].expansion[1].afterMs`.
 *
 * Durations (every field ending in `Ms`) accept a number of milliseconds or a string with
 * a unit: `'500ms'`, `'20s'`, `'15m'`, `'1h'` (shared/duration.ts).
 *
 * Shape (defaults in brackets):
 *
 * ```yaml
 * offerTimeoutMs: 15s            # [15s] ring-no-answer: how long an offer rings
 * wrapUpMs: 30s                  # [30s] wrap-up timer; 0 = no wrap-up
 * serviceLevel:
 *   thresholdMs: 20s             # [20s] T
 *   windowMs: 15m                # [15m] sliding window
 *   shortAbandonMs: 5s           # [5s]  abandons quicker than this are "short"
 *   definition: abandons-penalise  # [abandons-penalise] | abandons-ignored | short-abandons-excluded
 * handleTime: { initialMs: 3m, alpha: 0.1 }   # AHT moving average used by EWT
 * calendars:
 *   main:
 *     utcOffsetMinutes: 480      # [0] local time = UTC + offset (Asia/Shanghai = 480)
 *     weekly: { mon: [{from: '08:00', to: '20:00'}], ..., sun: [] }   # missing day = closed
 *     holidays: ['2026-10-01']   # whole local days closed
 * queues:
 *   - id: vip
 *     skill: vip                 # the one skill the queue requires
 *     strategy: best-proficiency # [longest-idle] | best-proficiency
 *     minProficiency: 4          # [1] on the queue's own skill
 *     expansion:                 # [] skill expansion over wait time (see routing.ts)
 *       - { afterMs: 20s, minProficiency: 3 }
 *       - { afterMs: 40s, alsoSkills: [retail] }
 *     maxQueueLength: 20         # [unlimited]
 *     maxWaitMs: 3m              # [unlimited]
 *     onQueueFull: overflow-queue:retail   # [announcement:queue-full]
 *     onMaxWait: callback-offer            # [callback-offer]
 *     calendarId: main           # [always open]
 *     afterHours: leave-message            # [announcement:after-hours]
 *     closedOverflowWaitMs: 10s  # [none] closed: wait this long for a move to another site first
 *     offerTimeoutMs / wrapUpMs  # per-queue overrides of the globals
 *     callback:                  # a caller waiting here may keep the place as a callback
 *       key: '1'                 # ['1'] the key that asks for it (0-9, * or #); false = not offered
 *       maxTries: 3              # [3] dials before the callback is closed as failed
 *       retryDelayMs: 10m        # [10m] after an unanswered dial; the place is kept meanwhile
 * ```
 *
 * A fallback is an object (`{kind: 'overflow-queue', queueId: 'retail'}`) or the shorthand
 * string `announcement[:<name>]`, `callback-offer`, `leave-message`, `overflow-queue:<queueId>`.
 * Overflow targets must exist and the overflow graph must have no cycle (so every call
 * reaches a terminal outcome).
 */
import { z } from 'zod';
import { invalidArgument } from '../../shared/errors.js';
import { parseOrThrow } from '../../shared/validate.js';
import { durationMs } from '../../shared/duration.js';
import { SERVICE_LEVEL_DEFINITIONS, type ServiceLevelDefinition } from '../../shared/stats/service-level.js';
import type { FallbackAction } from './types.js';
import { compileCalendar, calendarSchema, type CompiledCalendar } from './hours.js';

const id = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'must be 1-64 letters, digits, _ . -');

const fallbackObject = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('announcement'), announcement: z.string().min(1).default('default') }),
  z.object({ kind: z.literal('callback-offer') }),
  z.object({ kind: z.literal('leave-message') }),
  z.object({ kind: z.literal('overflow-queue'), queueId: id }),
]);

const fallbackSchema = z.union([z.string(), fallbackObject]).transform((v, ctx): FallbackAction => {
  if (typeof v !== 'string') return v;
  const [kind, arg] = splitOnce(v.trim());
  switch (kind) {
    case 'announcement':
      return { kind, announcement: arg || 'default' };
    case 'callback-offer':
    case 'leave-message':
      if (arg) break;
      return { kind };
    case 'overflow-queue':
      if (!arg) break;
      return { kind, queueId: arg };
  }
  ctx.addIssue({
    code: 'custom',
    message: `"${v}" is not a fallback (announcement[:name], callback-offer, leave-message, overflow-queue:<queueId>)`,
  });
  return z.NEVER;
});

function splitOnce(s: string): [string, string] {
  const i = s.indexOf(':');
  return i < 0 ? [s, ''] : [s.slice(0, i), s.slice(i + 1)];
}

const proficiency = z.number().int().min(1).max(5);

const expansionStep = z
  .object({
    afterMs: durationMs,
    minProficiency: proficiency.optional(),
    alsoSkills: z.array(id).optional(),
  })
  .strict();

const callbackSchema = z
  .object({
    key: z
      .union([z.string().regex(/^[0-9*#]$/, 'must be one key: 0-9, * or #'), z.literal(false)])
      .default('1'),
    maxTries: z.number().int().min(1).max(20).default(3),
    retryDelayMs: durationMs.default(600_000),
  })
  .strict();

const queueSchema = z
  .object({
    id,
    skill: id,
    strategy: z.enum(['longest-idle', 'best-proficiency']).default('longest-idle'),
    minProficiency: proficiency.default(1),
    expansion: z.array(expansionStep).default([]),
    maxQueueLength: z.number().int().min(0).optional(),
    maxWaitMs: durationMs.optional(),
    onQueueFull: fallbackSchema.default({ kind: 'announcement', announcement: 'queue-full' }),
    onMaxWait: fallbackSchema.default({ kind: 'callback-offer' }),
    calendarId: id.optional(),
    afterHours: fallbackSchema.default({ kind: 'announcement', announcement: 'after-hours' }),
    closedOverflowWaitMs: durationMs.optional(),
    offerTimeoutMs: durationMs.optional(),
    wrapUpMs: durationMs.optional(),
    callback: callbackSchema.default({ key: '1', maxTries: 3, retryDelayMs: 600_000 }),
  })
  .strict();

export const acdConfigSchema = z
  .object({
    offerTimeoutMs: durationMs.default(15_000),
    wrapUpMs: durationMs.default(30_000),
    serviceLevel: z
      .object({
        thresholdMs: durationMs.default(20_000),
        windowMs: durationMs.default(900_000),
        shortAbandonMs: durationMs.default(5_000),
        definition: z.enum(SERVICE_LEVEL_DEFINITIONS).default('abandons-penalise'),
      })
      .strict()
      .default({
        thresholdMs: 20_000,
        windowMs: 900_000,
        shortAbandonMs: 5_000,
        definition: 'abandons-penalise',
      }),
    handleTime: z
      .object({ initialMs: durationMs.default(180_000), alpha: z.number().gt(0).max(1).default(0.1) })
      .strict()
      .default({ initialMs: 180_000, alpha: 0.1 }),
    calendars: z.record(id, calendarSchema).default({}),
    queues: z.array(queueSchema).min(1),
  })
  .strict();

export type AcdConfigInput = z.input<typeof acdConfigSchema>;

/** One expansion level, cumulative: what a call accepts once it has waited `afterMs`. */
export interface CompiledLevel {
  afterMs: number;
  /** Required proficiency on the queue's own skill. */
  minProficiency: number;
  /** Other skills accepted (any proficiency >= 1), cumulative over earlier steps. */
  alsoSkills: readonly string[];
}

export interface CompiledQueue {
  id: string;
  /** Dense index, used by the core's arrays. */
  index: number;
  skill: string;
  strategy: 'longest-idle' | 'best-proficiency';
  /** levels[0] is the base level (afterMs 0); then one per expansion step, ascending afterMs. */
  levels: readonly CompiledLevel[];
  maxQueueLength: number;
  maxWaitMs: number;
  onQueueFull: FallbackAction;
  onMaxWait: FallbackAction;
  calendar: CompiledCalendar | undefined;
  afterHours: FallbackAction;
  /**
   * Set when the site's overflow policy for the queue has `afterHours`: a call arriving while
   * the queue is closed waits this long (out of the line) to be moved, before the after-hours
   * fallback. null: turned away on arrival.
   */
  closedOverflowWaitMs: number | null;
  offerTimeoutMs: number;
  wrapUpMs: number;
  /** Callbacks that keep a caller's place (docs/architecture.md §4.7). */
  callback: { key: string | false; maxTries: number; retryDelayMs: number };
}

export interface CompiledAcdConfig {
  serviceLevel: {
    thresholdMs: number;
    windowMs: number;
    shortAbandonMs: number;
    definition: ServiceLevelDefinition;
  };
  handleTime: { initialMs: number; alpha: number };
  queues: readonly CompiledQueue[];
  queueById: ReadonlyMap<string, CompiledQueue>;
  /** skill -> queues that accept it at some level (own skill or expansion). */
  queuesBySkill: ReadonlyMap<string, readonly CompiledQueue[]>;
}

/** Parse, validate and compile. `what` prefixes field names in errors. */
export function compileAcdConfig(input: unknown, what = 'acd'): CompiledAcdConfig {
  const raw = parseOrThrow(acdConfigSchema, input, what);

  const calendars = new Map<string, CompiledCalendar>();
  for (const [cid, cal] of Object.entries(raw.calendars)) {
    calendars.set(cid, compileCalendar(cal, `${what}.calendars.${cid}`));
  }

  if (raw.offerTimeoutMs <= 0) throw invalidArgument(`${what}.offerTimeoutMs`, 'must be > 0');
  const queueById = new Map<string, CompiledQueue>();
  const queues: CompiledQueue[] = [];
  raw.queues.forEach((q, i) => {
    const f = `${what}.queues[${i}]`;
    if (queueById.has(q.id)) throw invalidArgument(`${f}.id`, `duplicate queue id "${q.id}"`);
    const levels: CompiledLevel[] = [{ afterMs: 0, minProficiency: q.minProficiency, alsoSkills: [] }];
    q.expansion.forEach((step, j) => {
      const prev = levels[levels.length - 1]!;
      if (step.afterMs <= prev.afterMs) {
        throw invalidArgument(
          `${f}.expansion[${j}].afterMs`,
          `must be greater than ${prev.afterMs} ms (steps ascend, first one > 0)`,
        );
      }
      if (step.minProficiency === undefined && (step.alsoSkills ?? []).length === 0) {
        throw invalidArgument(`${f}.expansion[${j}]`, 'a step must set minProficiency or alsoSkills');
      }
      const also = [...prev.alsoSkills];
      for (const s of step.alsoSkills ?? []) if (s !== q.skill && !also.includes(s)) also.push(s);
      levels.push({
        afterMs: step.afterMs,
        minProficiency: step.minProficiency ?? prev.minProficiency,
        alsoSkills: also,
      });
    });
    let calendar: CompiledCalendar | undefined;
    if (q.calendarId !== undefined) {
      calendar = calendars.get(q.calendarId);
      if (!calendar) throw invalidArgument(`${f}.calendarId`, `unknown calendar "${q.calendarId}"`);
    }
    const cq: CompiledQueue = {
      id: q.id,
      index: i,
      skill: q.skill,
      strategy: q.strategy,
      levels,
      maxQueueLength: q.maxQueueLength ?? Number.POSITIVE_INFINITY,
      maxWaitMs: q.maxWaitMs ?? Number.POSITIVE_INFINITY,
      onQueueFull: q.onQueueFull,
      onMaxWait: q.onMaxWait,
      calendar,
      afterHours: q.afterHours,
      closedOverflowWaitMs: q.closedOverflowWaitMs ?? null,
      offerTimeoutMs: q.offerTimeoutMs ?? raw.offerTimeoutMs,
      wrapUpMs: q.wrapUpMs ?? raw.wrapUpMs,
      callback: q.callback,
    };
    if (cq.callback.retryDelayMs <= 0) throw invalidArgument(`${f}.callback.retryDelayMs`, 'must be > 0');
    if (cq.offerTimeoutMs <= 0) throw invalidArgument(`${f}.offerTimeoutMs`, 'must be > 0');
    queueById.set(q.id, cq);
    queues.push(cq);
  });

  // Overflow targets exist, and the overflow graph is acyclic.
  const edges = new Map<string, string[]>();
  queues.forEach((q, i) => {
    const out: string[] = [];
    for (const key of ['onQueueFull', 'onMaxWait', 'afterHours'] as const) {
      const a = q[key];
      if (a.kind !== 'overflow-queue') continue;
      if (!queueById.has(a.queueId)) {
        throw invalidArgument(`${what}.queues[${i}].${key}.queueId`, `unknown queue "${a.queueId}"`);
      }
      if (a.queueId === q.id) {
        throw invalidArgument(`${what}.queues[${i}].${key}.queueId`, 'a queue cannot overflow into itself');
      }
      out.push(a.queueId);
    }
    edges.set(q.id, out);
  });
  const colour = new Map<string, 1 | 2>();
  const visit = (qid: string, path: string[]): void => {
    if (colour.get(qid) === 2) return;
    if (colour.get(qid) === 1) {
      const i = queueById.get(qid)!.index;
      throw invalidArgument(
        `${what}.queues[${i}]`,
        `overflow cycle: ${[...path.slice(path.indexOf(qid)), qid].join(' -> ')}`,
      );
    }
    colour.set(qid, 1);
    for (const n of edges.get(qid) ?? []) visit(n, [...path, qid]);
    colour.set(qid, 2);
  };
  for (const q of queues) visit(q.id, []);

  const queuesBySkill = new Map<string, CompiledQueue[]>();
  for (const q of queues) {
    const skills = new Set([q.skill, ...q.levels.flatMap((l) => l.alsoSkills)]);
    for (const s of skills) {
      let list = queuesBySkill.get(s);
      if (!list) queuesBySkill.set(s, (list = []));
      list.push(q);
    }
  }

  return {
    serviceLevel: raw.serviceLevel,
    handleTime: raw.handleTime,
    queues,
    queueById,
    queuesBySkill,
  };
}
