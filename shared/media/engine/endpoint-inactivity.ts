/**
 * An endpoint's side of the RTP inactivity watch (the pure watch is ../inactivity.ts): its
 * events fed in (packets, ticks, whether the far end should send at all) and its commands
 * carried out (when to look again, `inactive` once). Apart from the engine class so the
 * watch's adapter is in one place.
 */
import { type InactivityEvent, stepInactivity } from '../inactivity.js';
import type { Endpoint, EngineShared } from './endpoint.js';

export function checkInactivity(cx: EngineShared, ep: Endpoint, now: number): void {
  ep.wakeAtMs = null;
  if (ep.lastPacketMs > 0) watchStep(cx, ep, { kind: 'packet' }, ep.lastPacketMs);
  watchStep(cx, ep, { kind: 'tick' }, now);
}

export function watchStep(cx: EngineShared, ep: Endpoint, event: InactivityEvent, now: number): void {
  const { watch, commands } = stepInactivity(ep.watch, event, now);
  ep.watch = watch;
  for (const c of commands) {
    if (c.kind === 'wake-at') ep.wakeAtMs = c.atMs;
    else cx.emit({ kind: 'inactive', endpointId: ep.id, silentForMs: Math.round(c.silentForMs) });
  }
}
