/**
 * Every ACD event the simulator builds for a move between sites (docs/architecture.md §5.9),
 * in one place: the origin's `take-call`, `return-call` and `call-moved`, the target's
 * `admit-overflow`, so a change to the ACD's move events touches this file only.
 */
import type { AcdEvent } from '../../site-node/acd/index.js';

/** Origin: give the waiting call up for the move (answered by call-taken or call-not-waiting). */
export const takeCall = (callId: string, requestId: string): AcdEvent => ({
  type: 'take-call',
  callId,
  requestId,
});

/** Origin: the move failed; the taken call goes back to its place. */
export const returnCall = (callId: string): AcdEvent => ({ type: 'return-call', callId });

/** Origin: the target admitted the call; it ends here as overflowed. */
export const callMoved = (callId: string, toSiteId: string, token: string): AcdEvent => ({
  type: 'call-moved',
  callId,
  toSiteId,
  token,
});

/** Target: the call joins `queueId` ranked by its original enqueue time, below own callers if `belowOwn`. */
export const admitOverflow = (a: {
  callId: string;
  queueId: string;
  priority: number;
  enqueueMs: number;
  belowOwn: boolean;
  fromSiteId: string;
  token: string;
  hops: number;
  visitedSiteIds: readonly string[];
}): AcdEvent => ({ type: 'admit-overflow', ...a });
