/**
 * The engine's input checks: its config and the negotiated audio an endpoint is pointed at.
 * Each refusal names the field and what it got; nothing is changed by a refused call.
 */
import { invalidArgument } from '../../errors.js';
import { inactivityWatch } from '../inactivity.js';
import type { NegotiatedAudio } from '../sdp.js';
import { RTP_LATCHING_MODES } from './latch.js';
import type { MediaEngineConfig } from './port.js';

export const evenAtOrAbove = (p: number): number => p + (p % 2);

export function checkConfig(c: MediaEngineConfig): void {
  if (typeof c.host !== 'string' || c.host === '')
    throw invalidArgument('media.host', 'must be an IP address');
  for (const f of ['portMin', 'portMax'] as const) {
    const v = c[f];
    if (!Number.isInteger(v) || v < 1024 || v > 65535) {
      throw invalidArgument(`media.${f}`, `must be a port in 1024-65535, got ${v}`);
    }
  }
  if (evenAtOrAbove(c.portMin) > c.portMax) {
    throw invalidArgument('media.portMax', `range ${c.portMin}-${c.portMax} has no even port`);
  }
  inactivityWatch(c.rtpTimeoutMs);
  if (c.latching !== undefined && !RTP_LATCHING_MODES.includes(c.latching)) {
    throw invalidArgument(
      'media.latching',
      `must be one of ${RTP_LATCHING_MODES.join(', ')}, got ${String(c.latching)}`,
    );
  }
}

export function checkRemote(a: NegotiatedAudio): void {
  if (typeof a !== 'object' || a === null) throw invalidArgument('audio', 'must be the negotiated audio');
  if (typeof a.remoteAddress !== 'string' || a.remoteAddress === '') {
    throw invalidArgument('audio.remoteAddress', 'must be an IP address');
  }
  if (!Number.isInteger(a.remotePort) || a.remotePort < 1 || a.remotePort > 65535) {
    throw invalidArgument('audio.remotePort', `must be a port in 1-65535, got ${a.remotePort}`);
  }
  if (a.codec !== 'PCMA' && a.codec !== 'PCMU') {
    throw invalidArgument('audio.codec', `must be PCMA or PCMU, got ${String(a.codec)}`);
  }
  const pts: [string, number | null][] = [
    ['payloadType', a.payloadType],
    ['telephoneEventPayloadType', a.telephoneEventPayloadType],
  ];
  for (const [f, v] of pts) {
    if (v !== null && !(Number.isInteger(v) && v >= 0 && v <= 127)) {
      throw invalidArgument(`audio.${f}`, `must be an RTP payload type 0-127, got ${v}`);
    }
  }
  if (a.payloadType === null) throw invalidArgument('audio.payloadType', 'is required');
  if (!['sendrecv', 'sendonly', 'recvonly', 'inactive'].includes(a.direction)) {
    throw invalidArgument(
      'audio.direction',
      `must be sendrecv, sendonly, recvonly or inactive, got ${String(a.direction)}`,
    );
  }
}
