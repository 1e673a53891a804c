/**
 * RTP source latching (symmetric RTP, docs/sip.md "Media engine", "Latching"): which source an
 * endpoint takes its far end's packets from, and where it sends ours. A phone behind a NAT
 * sends from an address and port its SDP cannot know; answering there is what reaches it.
 * Learning the source is also what lets the endpoint refuse everyone else's packets: once
 * latched, a third party cannot put audio or DTMF (a PIN, a menu choice) into a customer's call.
 *
 * The rule (`MediaEngineConfig.latching`):
 *
 * - `sdp-host` (the default): only packets from the SDP's host are the far end's, from any
 *   port on it; packets from anywhere else are dropped and counted (`wrongSource`), before
 *   the far end's first packet and after. Ours go to the SDP's address:port: a far end whose
 *   packets come from the host its SDP names has no NAT in between to answer through, and
 *   one that sends from a port it does not listen on (an asymmetric sender, SIPp's pcap
 *   replays among them) still hears us. Nothing is learned, so nothing can be won by a race.
 * - `any` (far ends behind NAT, whose SDP names a private address): the first packet of an
 *   agreed payload type (the voice or telephone-event type) after `setRemote` latches its
 *   address:port; from then on ours go there and every other source is a stranger. A source
 *   on another host than the SDP's may latch only within `STRANGER_LATCH_MS` of `setRemote`:
 *   the window bounds how long someone spraying our port range has to race the far end's
 *   first packet (RTP Bleed); a far end that stays silent cannot be latched from elsewhere
 *   later. The SDP's own address:port is never a stranger: one of its agreed packets moves a
 *   latch taken elsewhere there (`pinned`), so a packet that won the race cannot keep the
 *   audio from where the signalling said. Every `setRemote` (a re-INVITE, a session refresh)
 *   learns anew: a far end behind a NAT may come back from a new mapping with the same SDP.
 * - `off`: packets from any source, ours to the SDP's address (the engine before latching).
 *
 * An SDP host that is no address to compare with (a name, or 0.0.0.0 for hold) leaves the
 * endpoint `open`, as `off`. Sources are told apart by address only, never by SSRC: a far end
 * may send several streams from one socket (SIPp replays its DTMF pcaps with their own SSRC).
 *
 *              setRemote, sdp-host with an IP host
 *   (any) ─────────────────────────────────────────► host
 *   (any) ──── setRemote, any with an IP host ─────► learning
 *   (any) ──── setRemote (off, or no IP host) ─────► open
 *   learning ── agreed packet from the SDP's address:port ─► pinned
 *   learning ── agreed packet from an admitted source ─────► latched
 *   latched ─── agreed packet from the SDP's address:port ─► pinned
 *
 * The per-packet check (`admit`) compares the source with strings and numbers already held and
 * allocates nothing; the log lines (once per endpoint) build their text only when written.
 */
import { isIP } from 'node:net';
import type { NegotiatedAudio } from '../sdp.js';
import type { Endpoint, EngineShared } from './endpoint.js';
import type { RtpLatching } from './port.js';

export type LatchState = 'open' | 'host' | 'learning' | 'latched' | 'pinned';

export const RTP_LATCHING_MODES: readonly RtpLatching[] = ['sdp-host', 'any', 'off'];
export const DEFAULT_RTP_LATCHING: RtpLatching = 'sdp-host';

/** Mode `any`: how long after `setRemote` a source off the SDP's host may still latch. */
export const STRANGER_LATCH_MS = 5000;

/**
 * The SDP's host as the socket will report a source on it (rinfo.address), or null when there
 * is none to compare with: a name, the unspecified address (old-style hold), an unknown form.
 */
export function sourceHostOf(address: string, udp6: boolean): string | null {
  const family = isIP(address);
  if (family === 4) {
    if (address === '0.0.0.0') return null;
    // A dual-stack IPv6 socket reports an IPv4 source as IPv4-mapped.
    return udp6 ? `::ffff:${address}` : address;
  }
  // A scoped address (fe80::1%eth0) is no URL host: compared as written.
  if (family === 6 && address.includes('%')) return address.toLowerCase();
  if (family === 6) {
    // The compressed lower-case form (RFC 5952) the kernel's inet_ntop gives.
    const canonical = new URL(`http://[${address}]/`).hostname.slice(1, -1);
    return canonical === '::' ? null : canonical;
  }
  return null;
}

/** A new far end (setRemote): learning (if any) starts again, and our RTP goes to the SDP's address. */
export function resetLatch(cx: EngineShared, ep: Endpoint, audio: NegotiatedAudio, now: number): void {
  ep.sdpHost = sourceHostOf(audio.remoteAddress, ep.udp6);
  ep.latch =
    cx.latching === 'off' || ep.sdpHost === null ? 'open' : cx.latching === 'sdp-host' ? 'host' : 'learning';
  ep.sendHost = audio.remoteAddress;
  ep.sendPort = audio.remotePort;
  ep.srcHost = '';
  ep.srcPort = 0;
  ep.strangersUntilMs = cx.latching === 'any' ? now + STRANGER_LATCH_MS : 0;
}

/**
 * Whether a packet from `host:port` is the far end's (the caller drops it when not); `agreed`:
 * it is of the voice or telephone-event payload type, which may latch. Allocates nothing.
 */
export function admit(
  cx: EngineShared,
  ep: Endpoint,
  r: NegotiatedAudio,
  host: string,
  port: number,
  agreed: boolean,
  now: number,
): boolean {
  switch (ep.latch) {
    case 'open':
      return true;
    case 'host':
      return host === ep.sdpHost || stranger(cx, ep, host, port);
    case 'pinned':
      return (port === ep.srcPort && host === ep.srcHost) || stranger(cx, ep, host, port);
    case 'latched':
      if (port === ep.srcPort && host === ep.srcHost) return true;
      if (port === r.remotePort && host === ep.sdpHost) {
        if (agreed) take(cx, ep, r, host, port);
        return true;
      }
      return stranger(cx, ep, host, port);
    case 'learning':
      if (host !== ep.sdpHost && now > ep.strangersUntilMs) return stranger(cx, ep, host, port);
      if (agreed) take(cx, ep, r, host, port);
      return true;
  }
}

function take(cx: EngineShared, ep: Endpoint, r: NegotiatedAudio, host: string, port: number): void {
  const asSdp = port === r.remotePort && host === ep.sdpHost;
  ep.latch = asSdp ? 'pinned' : 'latched';
  ep.srcHost = host;
  ep.srcPort = port;
  ep.sendHost = host;
  ep.sendPort = port;
  if (asSdp) return;
  cx.counters.latchedElsewhere++;
  // Once per endpoint: a session refresh relatching to the same address is no news.
  if (ep.latchedElsewhere++ > 0) return;
  cx.log.info('RTP latched to a source other than the SDP named', {
    endpointId: ep.id,
    source: `${host}:${port}`,
    sdp: `${r.remoteAddress}:${r.remotePort}`,
  });
}

function stranger(cx: EngineShared, ep: Endpoint, host: string, port: number): false {
  cx.counters.wrongSource++;
  // Once per endpoint: someone spraying the port would flood the log otherwise.
  if (ep.wrongSource++ === 0) {
    const r = ep.remote!;
    cx.log.warn('RTP from a source other than the far end dropped', {
      endpointId: ep.id,
      source: `${host}:${port}`,
      farEnd:
        ep.latch === 'host' || ep.latch === 'learning'
          ? `${r.remoteAddress} (the SDP's host)`
          : `${ep.srcHost}:${ep.srcPort}`,
      latching: cx.latching,
    });
  }
  return false;
}
