/**
 * IP addresses and CIDR blocks as numbers, for the trunk access list (trunk-acl.ts) and the
 * site config's checks (config-sip.ts). Pure: text in, numbers and answers out.
 *
 * An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`, what a dual-stack socket reports for an
 * IPv4 peer) is read as the IPv4 address, so an IPv4 block matches it.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { invalidArgument } from '../../shared/errors.js';

export interface IpAddress {
  family: 4 | 6;
  value: bigint;
}

export interface CidrBlock {
  family: 4 | 6;
  /** The first address of the block (host bits zero). */
  base: bigint;
  prefix: number;
  /** As written in the config, for messages. */
  text: string;
}

const BITS = { 4: 32, 6: 128 } as const;

function v4(text: string): bigint {
  return text.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
}

function v6(text: string): bigint {
  // An embedded IPv4 address (`::ffff:192.0.2.1`) is the last two groups written another way.
  const m = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  let s = text;
  if (m) {
    const x = v4(m[2]!);
    s = `${m[1]!}${(x >> 16n).toString(16)}:${(x & 0xffffn).toString(16)}`;
  }
  const [head = '', rest] = s.split('::') as [string, string | undefined];
  const groups = (part: string): bigint[] =>
    part === '' ? [] : part.split(':').map((g) => BigInt(`0x${g}`));
  const left = groups(head);
  const right = rest === undefined ? [] : groups(rest);
  const zeros = rest === undefined ? 0 : 8 - left.length - right.length;
  return [...left, ...Array<bigint>(zeros).fill(0n), ...right].reduce((acc, g) => (acc << 16n) | g, 0n);
}

/** An IP address (a zone suffix `%eth0` is ignored), or undefined when the text is not one. */
export function parseIp(text: string): IpAddress | undefined {
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  const host = bare.split('%')[0]!;
  if (isIPv4(host)) return { family: 4, value: v4(host) };
  if (!isIPv6(host)) return undefined;
  const value = v6(host.toLowerCase());
  if (value >> 32n === 0xffffn) return { family: 4, value: value & 0xffffffffn };
  return { family: 6, value };
}

/**
 * A block, `192.0.2.0/28` or `2001:db8::/32`; a bare address is a block of one. Host bits
 * must be zero: `192.0.2.1/24` is refused, since it may mean a single host or a mistake.
 */
export function parseCidr(text: string, field: string): CidrBlock {
  const [addr = '', len, extra] = text.split('/');
  const ip = parseIp(addr);
  if (!ip || extra !== undefined || addr.includes('%') || addr.startsWith('['))
    throw invalidArgument(field, `${JSON.stringify(text)} is not an IP address or CIDR block`);
  // A mapped address in a config is an IPv4 address in disguise; write it as one.
  if (ip.family === 4 && !isIPv4(addr))
    throw invalidArgument(field, `${JSON.stringify(text)}: write an IPv4 block as IPv4 (a.b.c.d/n)`);
  const bits = BITS[ip.family];
  const prefix = len === undefined ? bits : /^\d{1,3}$/.test(len) ? Number(len) : NaN;
  if (!(prefix >= 0 && prefix <= bits))
    throw invalidArgument(field, `${JSON.stringify(text)}: prefix length must be 0 to ${bits}`);
  const hostMask = (1n << BigInt(bits - prefix)) - 1n;
  if ((ip.value & hostMask) !== 0n)
    throw invalidArgument(field, `${JSON.stringify(text)} has host bits set (the block starts lower)`);
  return { family: ip.family, base: ip.value, prefix, text };
}

export function cidrContains(block: CidrBlock, ip: IpAddress): boolean {
  if (block.family !== ip.family) return false;
  const shift = BigInt(BITS[block.family] - block.prefix);
  return ip.value >> shift === block.base >> shift;
}

/** Two blocks overlap when one holds the other's first address (blocks nest or are apart). */
export const cidrOverlap = (a: CidrBlock, b: CidrBlock): boolean =>
  cidrContains(a, { family: b.family, value: b.base }) ||
  cidrContains(b, { family: a.family, value: a.base });

const PRIVATE = [
  '10.0.0.0/8',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '100.64.0.0/10', // carrier-grade NAT
  '127.0.0.0/8',
  '169.254.0.0/16',
  'fc00::/7',
  'fe80::/10',
  '::1/128',
].map((c) => parseCidr(c, 'private'));

/** A private, shared (CGN), loopback or link-local address: one a NAT may hide. */
export function isPrivateIp(text: string): boolean {
  const ip = parseIp(text);
  return ip !== undefined && PRIVATE.some((b) => cidrContains(b, ip));
}
