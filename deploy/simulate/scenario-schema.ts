/**
 * The what-if scenario file's format (docs/operations.md "The province what-if simulator"):
 * a zod schema for what the file may say. Cross-field checks (sites the topology has, queues
 * the ACD runs) and compiling are in scenario.ts; this file is only the shape, so that a
 * reader finds every field and its default in one place.
 *
 * ```yaml
 * topology: province.yaml          # path relative to this file
 * day: '2026-12-02'                # local date (the topology's UTC offset); weekday matters for cover
 * seed: 11
 * serviceLevelThresholdMs: 20s     # [20s] T of the summary's service level
 * federation:                      # the "on" run's protocol timings
 *   linkLatencyMs: 20ms            # [20ms] one way, site <-> hub
 *   snapshotEveryMs: 1s            # [1s] how often each site sends its snapshot (and asks)
 *   maxSnapshotAgeMs: 1s           # [1s] the hub's bound (docs/architecture.md §5.8)
 *   holdMs: 3s                     # [3s] the target's reservation
 * sites:
 *   wanzhou:                       # a full site: its ACD, its calls, its agents
 *     acd: { from: site-wanzhou.yaml }   # the `acd:` section of a site config, or inline
 *     arrivals: { byHour: [24 numbers], share: { retail: 0.7, credit-card: 0.3 } }
 *              # or { byQueue: { retail: [24 numbers], ... } }
 *     priorities: { vip: 10 }      # [0] a queue's callers' priority
 *     handleTime: { meanMs: 3m, distribution: lognormal, sdMs: 90s }
 *     patience: { meanMs: 2m }     # exponential
 *     roster: [{ name: day, from: '08:00', to: '17:00', count: 10, skills: { retail: 4 } }]
 *   kaizhou: { arrivals: ..., handleTime: ..., patience: ... }   # an access city: calls go to its center
 * events:
 *   - { kind: link-cut, site: fuling, from: '10:00', to: '11:30' }
 *   - { kind: busy-hour, site: wanzhou, hour: 10, multiplier: 1.8 }
 *   - { kind: agents-short, site: wanzhou, fraction: 0.5 }
 * ```
 */
import { z } from 'zod';
import { durationMs } from '../../shared/duration.js';

const nonNegative = z.number().min(0, 'must be >= 0');
const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$|^24:00$/, 'must be HH:MM (00:00..24:00)');
const byHour = z
  .array(z.number().int('must be a whole number of calls').min(0, 'must be >= 0'))
  .length(24, 'must have 24 numbers, one per hour');

const arrivalsSchema = z.union([
  z
    .object({
      byHour,
      share: z.record(z.string(), nonNegative),
    })
    .strict(),
  z.object({ byQueue: z.record(z.string(), byHour) }).strict(),
]);

const handleTimeSchema = z
  .object({
    meanMs: durationMs,
    distribution: z.enum(['exponential', 'lognormal', 'constant']).default('lognormal'),
    /** lognormal only: the standard deviation; default half the mean. */
    sdMs: durationMs.optional(),
  })
  .strict();

const rosterGroupSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/, 'must be 1-32 letters, digits, _ . -'),
    from: hhmm,
    to: hhmm,
    count: z.number().int().min(0, 'must be >= 0'),
    skills: z.record(z.string(), z.number().int().min(1).max(5)),
  })
  .strict();

export const siteScenarioSchema = z
  .object({
    /** The site's ACD config: `{ from: <site config file> }` (its `acd:` section) or the section inline. */
    acd: z
      .union([z.object({ from: z.string().min(1) }).strict(), z.record(z.string(), z.unknown())])
      .optional(),
    arrivals: arrivalsSchema.optional(),
    priorities: z.record(z.string(), z.number().int()).default({}),
    handleTime: handleTimeSchema.optional(),
    patience: z.object({ meanMs: durationMs }).strict().optional(),
    roster: z.array(rosterGroupSchema).optional(),
  })
  .strict();

const eventSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('link-cut'), site: z.string(), from: hhmm, to: hhmm }).strict(),
  z
    .object({
      kind: z.literal('busy-hour'),
      site: z.string(),
      hour: z.number().int().min(0, 'must be 0..23').max(23, 'must be 0..23'),
      multiplier: nonNegative,
    })
    .strict(),
  z
    .object({
      kind: z.literal('agents-short'),
      site: z.string(),
      fraction: z.number().min(0, 'must be 0..1').max(1, 'must be 0..1'),
    })
    .strict(),
]);

export const scenarioSchema = z
  .object({
    topology: z.string().min(1),
    day: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date YYYY-MM-DD'),
    seed: z.number().int().min(0).max(0xffffffff),
    serviceLevelThresholdMs: durationMs.default(20_000),
    federation: z
      .object({
        linkLatencyMs: durationMs.default(20),
        snapshotEveryMs: durationMs.default(1000),
        maxSnapshotAgeMs: durationMs.default(1000),
        holdMs: durationMs.default(3000),
      })
      .strict()
      .default({ linkLatencyMs: 20, snapshotEveryMs: 1000, maxSnapshotAgeMs: 1000, holdMs: 3000 }),
    sites: z.record(z.string(), siteScenarioSchema),
    events: z.array(eventSchema).default([]),
  })
  .strict();

export type ScenarioInput = z.input<typeof scenarioSchema>;
export type ParsedScenario = z.output<typeof scenarioSchema>;
export type SiteScenario = z.output<typeof siteScenarioSchema>;
export type ScenarioEvent = z.output<typeof eventSchema>;
