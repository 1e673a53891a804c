/**
 * Which calls are recorded, and what their CDR says of it (docs/sip.md "Call recording"). The
 * IVR flow decides: a node flagged `record` (the runner's `record-call`, through the IVR's
 * channel) or a queue in `settings.recordQueues`, however the caller joins it (from the IVR, an
 * agent's transfer, a queue's overflow, a callback's customer answering, a call moved in from
 * another site once its caller's leg arrives). The media port records, from then until the caller's
 * leg ends; this module writes the recording's row when it starts, and its end only once the
 * port says the WAV is written (its path, length and size), or that it could not be (`failed`,
 * no path). A port that records nothing (the simulation) leaves no row: the CDR says no
 * recording.
 */
import { recordingEnded, recordingStarted } from '../store/index.js';
import type { CallContext } from './call-context.js';
import type { LiveCall } from './live-call.js';

export class CallRecordings {
  /** Recordings started whose end is not written yet (the site's stop waits for them). */
  private readonly open = new Set<Promise<void>>();

  constructor(private readonly ctx: CallContext) {}

  /** The call joined `queueId`: recorded from now when the flow lists the queue. */
  queueJoined(call: LiveCall, queueId: string): void {
    // A moved-in call's leg is a stand-in until its voice arrives: attachLeg asks again then.
    if (call.legArrival !== undefined) return;
    if (this.ctx.d.flow.settings.recordQueues.includes(queueId)) void this.start(call, `queue:${queueId}`);
  }

  /** Record the call from now (once per call; the first reason is the one kept). Never rejects. */
  async start(call: LiveCall, reason: string): Promise<void> {
    const { ctx } = this;
    const { callId } = call;
    if (call.recording !== undefined || call.callerGone) return;
    call.recording = reason;
    let recording;
    try {
      recording = await ctx.d.media.startRecording(call.leg);
    } catch (e) {
      ctx.d.log.error('call recording not started', { callId, reason, err: e });
      const error = `not started: ${e instanceof Error ? e.message : String(e)}`;
      ctx.write(callId, `recording ${callId}`, async (s) => {
        await recordingStarted(s, { callId, reason });
        await recordingEnded(s, callId, { state: 'failed', error });
      });
      return;
    }
    if (recording === null) return;
    ctx.write(callId, `recording ${callId}`, (s) => recordingStarted(s, { callId, reason }));
    const ended: Promise<void> = recording.saved.then(
      (file) =>
        ctx.write(callId, `recording saved ${callId}`, (s) =>
          recordingEnded(s, callId, { state: 'saved', ...file }),
        ),
      // The port has logged why; the CDR says failed, and names no file.
      (e: unknown) => {
        const error = e instanceof Error ? e.message : String(e);
        ctx.write(callId, `recording failed ${callId}`, (s) =>
          recordingEnded(s, callId, { state: 'failed', error }),
        );
      },
    );
    this.open.add(ended);
    void ended.finally(() => this.open.delete(ended));
  }

  /**
   * Resolves once every recording started has its end queued as a write, or after `waitMs`:
   * the site's stop hangs up the callers, then waits here before draining its writes.
   */
  async settled(waitMs: number): Promise<void> {
    if (this.open.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all([...this.open]),
      new Promise<void>((r) => (timer = setTimeout(r, waitMs))),
    ]);
    clearTimeout(timer);
    if (this.open.size > 0)
      this.ctx.d.log.warn('call recordings not written by the stop; the next start marks them failed', {
        recordings: this.open.size,
      });
  }
}
