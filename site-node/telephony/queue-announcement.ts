/**
 * What a caller on hold hears between stretches of music (MediaPort.hold, docs/sip.md "The site
 * over SIP"): its place in the queue (`queue.position`) and, when someone serves the queue, the
 * expected wait in whole minutes rounded up (`queue.expected_wait`). Asked fresh at each
 * announcement, so it follows the queue; nothing for a call no longer waiting.
 */
import type { QueueAnnouncement } from './sip-port-voice.js';

/** The ACD's answers the announcement needs (site-node/runtime/acd-engine.ts). */
export interface QueueFacts {
  call(callId: string): { queueId: string; priority: number } | undefined;
  queuePosition(callId: string): number | undefined;
  expectedWaitMs(queueId: string, priority: number): number | null;
}

export function queueAnnouncement(acd: QueueFacts, callId: string): QueueAnnouncement[] {
  const position = acd.queuePosition(callId);
  const call = acd.call(callId);
  if (position === undefined || !call) return [];
  const out: QueueAnnouncement[] = [{ promptId: 'queue.position', vars: { position: String(position) } }];
  const ewt = acd.expectedWaitMs(call.queueId, call.priority);
  if (ewt !== null) {
    out.push({
      promptId: 'queue.expected_wait',
      vars: { minutes: String(Math.max(1, Math.ceil(ewt / 60_000))) },
    });
  }
  return out;
}
