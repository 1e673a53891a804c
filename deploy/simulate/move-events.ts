/**
 * Every ACD event the simulator builds for a move between sites (docs/architecture.md §5.9),
 * in one place: the origin's `take-call`, `return-call` and `call-moved`, the target's
 * `admit-overflow`. The ACD's move events are being renamed; keeping their construction here
 * means a rename touches this file only.
 */
import type { AcdEvent } from '../../site-node/acd/index.js';

/** Origin: give the waiting call up for the move (answered by call-taken or call-not-waiting). */
export const takeCall = (callId: string): AcdEvent => ({ type: 'take-call', callId });

/** Origin: the move failed; the taken call goes back to its place. */
export const returnCall = (callId: string): AcdEvent => ({ type: 'return-call', callId });

/** Origin: the target admitted the call; it ends here as overflowed. */
export const callMoved = (callId: string): AcdEvent => ({ type: 'call-moved', callId });

/** Target: the call joins `queueId` ranked by its original enqueue time. */
export const admitOverflow = (a: {
  callId: string;
  queueId: string;
  priority: number;
  enqueueMs: number;
}): AcdEvent => ({
  type: 'admit-overflow',
  callId: a.callId,
  queueId: a.queueId,
  priority: a.priority,
  enqueueMs: a.enqueueMs,
});
