/** Every chaos scenario, in the order `npm run chaos -- all` runs them. */
import type { Scenario } from '../harness.js';
import { bandwidth } from './bandwidth.js';
import { halfOpen } from './half-open.js';
import { hubKill } from './hub-kill.js';
import { hubPgRestart } from './hub-pg-restart.js';
import { kafkaStop } from './kafka-stop.js';
import { latency } from './latency.js';
import { linkCut } from './link-cut.js';
import { overflowKill } from './overflow-kill.js';
import { resetMidBatch } from './reset-mid-batch.js';
import { siteKill } from './site-kill.js';
import { sitePgRestart } from './site-pg-restart.js';

export const SCENARIOS: readonly Scenario[] = [
  linkCut,
  latency,
  halfOpen,
  bandwidth,
  resetMidBatch,
  siteKill,
  hubKill,
  kafkaStop,
  sitePgRestart,
  hubPgRestart,
  overflowKill,
];
