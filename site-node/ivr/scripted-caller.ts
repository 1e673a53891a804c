/**
 * A scripted CallerChannel for tests and simulated callers: it answers each collectDigits
 * with the next script entry (keys, 'timeout' or 'hangup') and records what was played.
 * When the script runs out, the caller hangs up.
 */
import { type PromptCatalogue, renderPrompt } from './flow.js';
import type { CallerChannel, CollectOptions } from './session.js';
import type { PromptVars } from './types.js';

export type ScriptStep = string | 'timeout' | 'hangup';

export class ScriptedCaller implements CallerChannel {
  readonly played: Array<{ promptId: string; vars?: PromptVars }> = [];
  readonly collects: CollectOptions[] = [];
  /** A readable transcript; PIN entries appear as `****`. */
  readonly transcript: string[] = [];
  /** Why the flow asked to record the call, each time it did (startRecording). */
  readonly recordings: string[] = [];
  hungUp: string | undefined;
  private i = 0;

  constructor(
    private readonly script: ScriptStep[],
    private readonly catalogue?: PromptCatalogue,
  ) {}

  get remaining(): number {
    return this.script.length - this.i;
  }

  play(promptId: string, vars?: PromptVars): Promise<void> {
    this.played.push(vars ? { promptId, vars } : { promptId });
    this.transcript.push(
      `IVR: ${this.catalogue ? renderPrompt(this.catalogue, promptId, vars, 'en') : promptId}`,
    );
    return Promise.resolve();
  }

  collectDigits(opts: CollectOptions): Promise<string | 'timeout' | 'hung-up'> {
    this.collects.push(opts);
    const step = this.script[this.i++];
    if (step === undefined || step === 'hangup') {
      this.transcript.push('caller: (hangs up)');
      return Promise.resolve('hung-up');
    }
    this.transcript.push(`caller: ${step === 'timeout' ? '(silence)' : opts.secret ? '****' : step}`);
    return Promise.resolve(step === 'timeout' ? 'timeout' : step.replace(/#$/, ''));
  }

  startRecording(reason: string): Promise<void> {
    this.recordings.push(reason);
    return Promise.resolve();
  }

  hangup(reason: string): Promise<void> {
    this.hungUp = reason;
    this.transcript.push(`IVR hangs up (${reason})`);
    return Promise.resolve();
  }
}
