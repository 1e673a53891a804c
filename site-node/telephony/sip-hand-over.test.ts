import { describe, expect, test } from 'vitest';
import { invite } from '../../shared/sip/dialog/testing.js';
import type { Topology } from '../../shared/topology/schema.js';
import { peerSites, splitHostPort } from './peer-sites.js';
import { handOverVerdict, readHandOverToken } from './sip-hand-over.js';

describe('the hand-over token header', () => {
  test('none, one token, or what is wrong with it', () => {
    expect(readHandOverToken(invite())).toEqual({ kind: 'none' });
    const uuid = '0f8fad5b-d9cb-469f-a165-70867728950e';
    expect(readHandOverToken(invite({ extra: `X-CC-Handover-Token: ${uuid}\n` }))).toEqual({
      kind: 'token',
      token: uuid,
    });
    // Header names are matched in any case.
    expect(readHandOverToken(invite({ extra: 'x-cc-handover-token: t-1\n' }))).toEqual({
      kind: 'token',
      token: 't-1',
    });
    const twice = readHandOverToken(invite({ extra: 'X-CC-Handover-Token: a\nX-CC-Handover-Token: b\n' }));
    expect(twice).toEqual({ kind: 'bad', problem: 'X-CC-Handover-Token appears 2 times' });
    const odd = readHandOverToken(invite({ extra: 'X-CC-Handover-Token: a b;c\n' }));
    expect(odd.kind === 'bad' && odd.problem).toMatch(/must be 1-128 letters/);
    const long = readHandOverToken(invite({ extra: `X-CC-Handover-Token: ${'a'.repeat(129)}\n` }));
    expect(long.kind).toBe('bad');
  });

  test('the target answers 200 when claimed, 404 when refused, 500 when its handler failed', () => {
    expect([handOverVerdict('claimed'), handOverVerdict('refused'), handOverVerdict('failed')]).toEqual([
      200, 404, 500,
    ]);
  });
});

const TOPOLOGY = {
  version: 7,
  province: 'p',
  hubSite: 'chongqing',
  utcOffsetMinutes: 480,
  sites: [
    {
      id: 'wanzhou',
      kind: 'full',
      endpoints: { cti: '10.0.0.1:7443', sip: '10.20.0.10:5060', sipTransport: 'udp' },
    },
    {
      id: 'chongqing',
      kind: 'full',
      endpoints: { cti: '10.0.0.2:7443', sip: '10.10.0.10:5070', sipTransport: 'udp' },
    },
    {
      id: 'fuling',
      kind: 'full',
      endpoints: { cti: '10.0.0.3:7443', sip: '[fd00::5]:5060', sipTransport: 'udp' },
    },
    {
      id: 'named',
      kind: 'full',
      endpoints: { cti: '10.0.0.4:7443', sip: 'sip.named.example:5060', sipTransport: 'udp' },
    },
    {
      id: 'yongchuan',
      kind: 'full',
      endpoints: { cti: '10.0.0.5:7443', sip: '10.40.0.10:5061', sipTransport: 'tcp' },
    },
    { id: 'qianjiang', kind: 'access', endpoints: { sip: '10.30.0.2:5060' } },
  ],
  overflow: [],
  cover: [],
} as unknown as Topology;

describe('the other sites as SIP peers', () => {
  test('host:port, IPv4 or bracketed IPv6', () => {
    expect(splitHostPort('10.0.0.5:5060')).toEqual({ host: '10.0.0.5', port: 5060 });
    expect(splitHostPort('[fd00::5]:5061')).toEqual({ host: 'fd00::5', port: 5061 });
    expect(splitHostPort('10.0.0.5')).toBeUndefined();
    expect(splitHostPort('10.0.0.5:0')).toBeUndefined();
  });

  test("a site's route is its topology SIP endpoint; a missing, named or unknown one says why", () => {
    let topology: Topology | null = null;
    const peers = peerSites('wanzhou', ['udp'], () => topology);
    expect(peers.routeTo('chongqing')).toEqual({
      ok: false,
      why: "no topology yet: site chongqing's SIP address is unknown",
    });
    topology = TOPOLOGY;
    expect(peers.routeTo('chongqing')).toEqual({
      ok: true,
      target: { host: '10.10.0.10', port: 5070, transport: 'udp' },
    });
    expect(peers.routeTo('fuling')).toMatchObject({ ok: true, target: { host: 'fd00::5', port: 5060 } });
    expect(peers.routeTo('nowhere')).toEqual({ ok: false, why: 'site nowhere is not in topology version 7' });
    expect(peers.routeTo('named')).toEqual({
      ok: false,
      why: "site named's SIP host sip.named.example is not an IP address (no DNS here)",
    });
    expect(peers.routeTo('qianjiang')).toEqual({
      ok: false,
      why: 'site qianjiang is an access site, not a full one',
    });
    expect(peers.routeTo('wanzhou')).toEqual({ ok: false, why: 'site wanzhou is this site' });
  });

  test("a site reached over TCP is routed over TCP, when this site's SIP listens on TCP", () => {
    const both = peerSites('wanzhou', ['udp', 'tcp'], () => TOPOLOGY);
    expect(both.routeTo('yongchuan')).toEqual({
      ok: true,
      target: { host: '10.40.0.10', port: 5061, transport: 'tcp' },
    });
    expect(both.routeTo('chongqing')).toEqual({
      ok: true,
      target: { host: '10.10.0.10', port: 5070, transport: 'udp' },
    });
    // The INVITE leaves from this site's own socket of that transport: none, no route.
    expect(peerSites('wanzhou', ['udp'], () => TOPOLOGY).routeTo('yongchuan')).toEqual({
      ok: false,
      why:
        "site yongchuan's SIP is reached over tcp (endpoints.sipTransport), " +
        "but this site's SIP listens only on udp (sip.listen)",
    });
    const tcpOnly = peerSites('wanzhou', ['tcp'], () => TOPOLOGY);
    expect(tcpOnly.routeTo('yongchuan')).toMatchObject({ ok: true, target: { transport: 'tcp' } });
    expect(tcpOnly.routeTo('chongqing')).toEqual({
      ok: false,
      why:
        "site chongqing's SIP is reached over udp (endpoints.sipTransport), " +
        "but this site's SIP listens only on tcp (sip.listen)",
    });
  });

  test('an address is a peer when it is another site’s SIP host (any port), never this site’s', () => {
    const peers = peerSites('wanzhou', ['udp'], () => TOPOLOGY);
    expect(peers.siteAt('10.10.0.10')).toBe('chongqing');
    expect(peers.siteAt('fd00::5')).toBe('fuling');
    // Whatever transport the site is reached by (its INVITEs may come over either).
    expect(peers.siteAt('10.40.0.10')).toBe('yongchuan');
    // As a dual-stack socket reports an IPv4 peer, and IPv6 written another way.
    expect(peers.siteAt('::ffff:10.10.0.10')).toBe('chongqing');
    expect(peers.siteAt('fd00:0:0::5')).toBe('fuling');
    expect(peers.siteAt('10.30.0.2')).toBeUndefined(); // an access site
    expect(peers.siteAt('10.20.0.10')).toBeUndefined();
    expect(peers.siteAt('192.0.2.1')).toBeUndefined();
    expect(peerSites('wanzhou', ['udp'], () => null).siteAt('10.10.0.10')).toBeUndefined();
  });
});
