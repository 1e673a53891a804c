import { test } from 'vitest';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { cidrContains, cidrOverlap, isPrivateIp, parseCidr, parseIp } from './cidr.js';
import { TrunkAcl } from './trunk-acl.js';
import type { SipTrunkConfig } from '../config-sip.js';
import { isDomainError } from '../../shared/errors.js';

const trunk = (name: string, sources: string[]): SipTrunkConfig => ({
  name,
  sources: sources.map((s, i) => parseCidr(s, `trunks.${name}.sources[${i}]`)),
  dnis: ['95588'],
  maxChannels: 10,
});

const acl = new TrunkAcl([
  trunk('telecom', ['203.0.113.0/28', '198.51.100.7']),
  trunk('unicom', ['2001:db8:5::/48']),
]);

test('an address in a trunk block is that trunk; IPv4, IPv6, mapped, bracketed and zoned forms', () => {
  assert.equal(acl.trunkOf('203.0.113.0')?.name, 'telecom');
  assert.equal(acl.trunkOf('203.0.113.15')?.name, 'telecom');
  assert.equal(acl.trunkOf('198.51.100.7')?.name, 'telecom');
  // A dual-stack socket reports an IPv4 peer as IPv4-mapped IPv6.
  assert.equal(acl.trunkOf('::ffff:203.0.113.3')?.name, 'telecom');
  assert.equal(acl.trunkOf('::FFFF:cb00:7103')?.name, 'telecom');
  assert.equal(acl.trunkOf('2001:db8:5::1')?.name, 'unicom');
  assert.equal(acl.trunkOf('2001:DB8:5:ffff:ffff:ffff:ffff:ffff')?.name, 'unicom');
  assert.equal(acl.trunkOf('[2001:db8:5::9]')?.name, 'unicom');
  assert.equal(acl.trunkOf('2001:db8:5::9%eth0')?.name, 'unicom');
});

test('an address outside every block, or text that is no address, is no trunk', () => {
  for (const a of [
    '203.0.113.16',
    '198.51.100.6',
    '198.51.100.8',
    '2001:db8:6::1',
    '::1',
    '10.0.0.1',
    'x',
    '',
  ])
    assert.equal(acl.trunkOf(a), undefined, a);
  assert.equal(new TrunkAcl([]).trunkOf('203.0.113.1'), undefined);
});

test('IPv6 text forms read as the same number', () => {
  const same = [
    ['2001:db8::1', '2001:0db8:0000:0000:0000:0000:0000:0001'],
    ['::', '0:0:0:0:0:0:0:0'],
    ['1::', '1:0:0:0:0:0:0:0'],
    ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
  ];
  for (const [a, b] of same) assert.equal(parseIp(a!)?.value, parseIp(b!)?.value, `${a} = ${b}`);
  assert.deepEqual(parseIp('::ffff:192.0.2.1'), parseIp('192.0.2.1'));
});

test('blocks: bad text, host bits and prefix lengths are refused naming the field', () => {
  for (const [text, why] of [
    ['203.0.113.1/24', /host bits set/],
    ['10.0.0.0/33', /prefix length must be 0 to 32/],
    ['2001:db8::/129', /prefix length must be 0 to 128/],
    ['10.0.0.0/x', /prefix length/],
    ['10.0.0.0/8/8', /not an IP address/],
    ['10.0.0', /not an IP address/],
    ['fe80::1%eth0', /not an IP address/],
    ['[2001:db8::]', /not an IP address/],
    ['::ffff:10.0.0.0/104', /write an IPv4 block as IPv4/],
  ] as const)
    assert.throws(
      () => parseCidr(text, 'f'),
      (e: unknown) => isDomainError(e, 'invalid-argument') && e.field === 'f' && why.test(e.message),
      text,
    );
  assert.equal(parseCidr('0.0.0.0/0', 'f').prefix, 0);
  assert.equal(parseCidr('::/0', 'f').family, 6);
});

test('overlap: nested and equal blocks overlap, neighbours and other families do not', () => {
  const b = (t: string) => parseCidr(t, 'f');
  assert.ok(cidrOverlap(b('10.0.0.0/8'), b('10.1.2.0/24')));
  assert.ok(cidrOverlap(b('10.1.2.0/24'), b('10.0.0.0/8')));
  assert.ok(cidrOverlap(b('10.0.0.5'), b('10.0.0.5')));
  assert.ok(!cidrOverlap(b('10.0.0.0/25'), b('10.0.0.128/25')));
  assert.ok(!cidrOverlap(b('0.0.0.0/0'), b('::/0')));
});

test('property: a block holds exactly the addresses that share its first prefix bits', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 2 ** 32 - 1 }),
      fc.integer({ min: 0, max: 32 }),
      fc.integer({ min: 0, max: 2 ** 32 - 1 }),
      (base, prefix, other) => {
        const masked = prefix === 0 ? 0 : (base >>> (32 - prefix)) * 2 ** (32 - prefix);
        const dotted = (n: number) => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
        const block = parseCidr(`${dotted(masked)}/${prefix}`, 'f');
        const sameTop = prefix === 0 || other >>> (32 - prefix) === masked >>> (32 - prefix);
        assert.equal(cidrContains(block, parseIp(dotted(other))!), sameTop);
        assert.ok(cidrContains(block, parseIp(dotted(masked))!));
      },
    ),
  );
});

test('private, shared, loopback and link-local addresses are the ones a NAT may hide', () => {
  for (const a of [
    '10.1.2.3',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.20',
    '100.64.0.1',
    '127.0.0.1',
    '169.254.1.1',
    'fd00::1',
    'fe80::1',
    '::1',
    '::ffff:192.168.1.1',
  ])
    assert.ok(isPrivateIp(a), a);
  for (const a of ['203.0.113.1', '172.32.0.1', '8.8.8.8', '2001:db8::1', 'phone.example'])
    assert.ok(!isPrivateIp(a), a);
});
