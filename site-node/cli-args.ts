/**
 * Command-line options for the site's entry points, parsed with node:util and validated
 * once, with errors that name the flag.
 */
import { parseArgs } from 'node:util';
import { invalidArgument } from '../shared/errors.js';

export interface SiteCliOptions {
  config: string;
  durationSec: number | undefined;
  json: boolean;
  speed: number;
  callsPerHour: number;
  customers: number;
  seed: number;
  simulate: boolean;
  database: string | undefined;
  statsEverySec: number;
  /** Simulation: other sites whose customers also call this one (roaming). */
  roamFrom: string[];
  roamingShare: number;
  /** Serve the agent desk in plaintext on a loopback cti.host (no cti.tls needed). */
  insecureLoopback: boolean;
}

function num(flag: string, v: string | undefined, dflt: number, min: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min) throw invalidArgument(`--${flag}`, `"${v}" must be a number >= ${min}`);
  return n;
}

function roamFrom(v: string | undefined): string[] {
  if (v === undefined || v === '') return [];
  const ids = v.split(',').map((x) => x.trim());
  for (const id of ids) {
    if (!/^[a-z][a-z0-9-]{1,31}$/.test(id)) throw invalidArgument('--roam-from', `"${id}" is not a site id`);
  }
  return ids;
}

export function parseSiteArgs(
  argv: string[],
  defaults: { config: string; simulate: boolean },
): SiteCliOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' },
      duration: { type: 'string' },
      json: { type: 'boolean', default: false },
      speed: { type: 'string' },
      rate: { type: 'string' },
      customers: { type: 'string' },
      seed: { type: 'string' },
      simulate: { type: 'boolean' },
      database: { type: 'string' },
      'stats-every': { type: 'string' },
      'roam-from': { type: 'string' },
      'roam-share': { type: 'string' },
      'insecure-loopback': { type: 'boolean' },
    },
    strict: true,
  });
  const duration = values.duration === undefined ? undefined : num('duration', values.duration, 0, 1);
  return {
    config: values.config ?? defaults.config,
    durationSec: duration,
    json: values.json ?? false,
    speed: num('speed', values.speed, 20, 0.001),
    callsPerHour: num('rate', values.rate, 600, 0.001),
    customers: Math.floor(num('customers', values.customers, 120, 0)),
    seed: Math.floor(num('seed', values.seed, 1, 0)),
    simulate: values.simulate ?? defaults.simulate,
    database: values.database,
    statsEverySec: num('stats-every', values['stats-every'], 2, 0.1),
    roamFrom: roamFrom(values['roam-from']),
    roamingShare: num('roam-share', values['roam-share'], 0.1, 0),
    insecureLoopback: values['insecure-loopback'] ?? false,
  };
}
