/**
 * Reads the UDP datagrams out of a classic pcap file (Ethernet, IPv4), for tests that replay
 * captured RTP such as SIPp's /usr/share/sip-tester/*.pcap (no tcpdump or tshark needed).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface PcapUdp {
  atMs: number;
  srcPort: number;
  dstPort: number;
  payload: Uint8Array;
}

const LINKTYPE_ETHERNET = 1;

export function readPcapUdp(path: string): PcapUdp[] {
  const b = readFileSync(path);
  const magic = b.readUInt32LE(0);
  // The magic number as written tells the byte order of every other header field.
  const le = magic === 0xa1b2c3d4;
  if (!le && magic !== 0xd4c3b2a1) throw new Error(`${path}: not a classic pcap file`);
  const u32 = (o: number): number => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  if (u32(20) !== LINKTYPE_ETHERNET) throw new Error(`${path}: link type ${u32(20)}, not Ethernet`);
  const out: PcapUdp[] = [];
  for (let o = 24; o + 16 <= b.length;) {
    const atMs = u32(o) * 1000 + u32(o + 4) / 1000;
    const len = u32(o + 8);
    const frame = b.subarray(o + 16, o + 16 + len);
    o += 16 + len;
    if (frame.readUInt16BE(12) !== 0x0800) continue; // not IPv4
    const ip = frame.subarray(14);
    if (ip[9] !== 17) continue; // not UDP
    const udp = ip.subarray((ip[0]! & 0x0f) * 4);
    out.push({
      atMs,
      srcPort: udp.readUInt16BE(0),
      dstPort: udp.readUInt16BE(2),
      payload: new Uint8Array(udp.subarray(8, udp.readUInt16BE(4))),
    });
  }
  return out;
}

/**
 * One of SIPp's own pcaps. deploy/services.sh names their folder in SIPP_PCAP_DIR; the unit
 * tier runs without its env.sh, so Debian's place for them is the fallback.
 */
export function sippPcapUdp(name: string): PcapUdp[] {
  const dir = process.env['SIPP_PCAP_DIR'] ?? '/usr/share/sip-tester';
  const path = join(dir, `${name}.pcap`);
  if (!existsSync(path)) {
    throw new Error(`${path} is missing: install SIPp (Debian package sip-tester) or set SIPP_PCAP_DIR`);
  }
  return readPcapUdp(path);
}
