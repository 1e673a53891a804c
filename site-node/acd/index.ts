/**
 * The local ACD: a pure decision core (docs/architecture.md §3.1). Wire it as
 *
 * ```ts
 * const config = compileAcdConfig(yamlObject);          // throws invalid-argument naming the field
 * let state = createAcdState(config, clock.now());
 * const { commands } = acdStep(state, { type: 'call-arrived', callId, queueId: 'retail' }, clock.now());
 * // carry out commands: offer-call -> ring the agent desk; start-timer -> setTimeout that feeds
 * // { type: 'timer-fired', id } back; call-fallback -> play/schedule/open ticket/...
 * queueStats(state, 'retail', clock.now());
 * ```
 */
export type * from './types.js';
export { compileAcdConfig, acdConfigSchema } from './config.js';
export type { AcdConfigInput, CompiledAcdConfig, CompiledQueue, CompiledLevel } from './config.js';
export { createAcdState } from './state.js';
export type { AcdState } from './state.js';
export { acdStep, isAcdRejection } from './core.js';
export type { AcdStepResult } from './core.js';
export { queueStats, expectedWaitMs, waitingCalls, restoreQueueStats } from './stats.js';
export type { QueueStats, ServiceLevels, WindowKind } from './stats.js';
export { agentView, callView, movableCalls } from './views.js';
export type { AcdAgentView, AcdCallView } from './views.js';
export { isOpen } from './hours.js';
export { canTransition } from './agent-state.js';
export { erlangC } from './erlang-c.js';
export type { ErlangC } from './erlang-c.js';
export { simulate, seededRng, exponential, lognormal, uniform, constant } from './simulate.js';
export type { SimOptions, SimSummary, Dist, Rng } from './simulate.js';
export { AcdHarness } from './harness.js';
export { checkAcdInvariants } from './invariants.js';
