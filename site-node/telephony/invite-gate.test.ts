/**
 * The invite gate's hand-over paths (invite-gate.ts): a token from another site's SIP host, a
 * token on a trunk's INVITE, a token from nowhere. The registrar's own paths (phones, digest)
 * are tested on PostgreSQL in phone-registrar.test.ts; here no address is a phone's.
 */
import { describe, expect, test } from 'vitest';
import { ManualClock } from '../../shared/clock.js';
import { createLogger } from '../../shared/log.js';
import { invite } from '../../shared/sip/dialog/testing.js';
import type { Topology } from '../../shared/topology/schema.js';
import { parseCidr } from './cidr.js';
import { InviteGate } from './invite-gate.js';
import { peerSites } from './peer-sites.js';
import type { PhoneRegistrar, RegistrationSource } from './phone-registrar.js';
import { TrunkAcl } from './trunk-acl.js';

const TOPOLOGY = {
  version: 3,
  sites: [
    { id: 'wanzhou', kind: 'full', endpoints: { cti: '10.0.0.1:7443', sip: '10.20.0.10:5060' } },
    { id: 'chongqing', kind: 'full', endpoints: { cti: '10.0.0.2:7443', sip: '10.10.0.10:5060' } },
    // A site and a carrier on one address, as on loopback.
    { id: 'fuling', kind: 'full', endpoints: { cti: '10.0.0.3:7443', sip: '203.0.113.9:5060' } },
  ],
} as unknown as Topology;

/** No address is a registered phone's in these tests. */
const NO_PHONES = { isPhoneSource: () => false } as unknown as PhoneRegistrar;

function gate() {
  const lines: Array<Record<string, unknown>> = [];
  const log = createLogger(
    {},
    { level: 'debug', write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>) },
  );
  const g = new InviteGate(
    new TrunkAcl([
      { name: 'telecom', sources: [parseCidr('203.0.113.0/28', 'f')], dnis: ['95555'], maxChannels: 30 },
    ]),
    NO_PHONES,
    log,
    new ManualClock(0),
    { peers: peerSites('wanzhou', ['udp'], () => TOPOLOGY), toTag: () => 'gate' },
  );
  return { g, refusals: () => lines.filter((l) => l.msg === 'sip invite refused') };
}

const from = (host: string, port = 5060): RegistrationSource => ({ transport: 'udp', host, port });
const overTcp = (host: string, port: number): RegistrationSource => ({ transport: 'tcp', host, port });
const TOKEN = 'X-CC-Handover-Token: 0f8fad5b-d9cb-469f-a165-70867728950e\n';

describe('the invite gate and hand-overs', () => {
  test("another site's host with a token is that site handing a caller over (any port)", () => {
    const { g } = gate();
    expect(g.admit(invite({ extra: TOKEN }), from('10.10.0.10', 41234))).toEqual({
      ok: true,
      from: 'site',
      siteId: 'chongqing',
      token: '0f8fad5b-d9cb-469f-a165-70867728950e',
    });
    // Sharing an address with a trunk: the token decides.
    expect(g.admit(invite({ extra: TOKEN }), from('203.0.113.9'))).toMatchObject({
      from: 'site',
      siteId: 'fuling',
    });
    expect(g.admit(invite(), from('203.0.113.9'))).toMatchObject({ from: 'trunk' });
    g.stop();
  });

  test('over TCP too: from a port of the kernel, and as a dual-stack listener reports IPv4', () => {
    const { g, refusals } = gate();
    expect(g.admit(invite({ extra: TOKEN }), overTcp('10.10.0.10', 50312))).toMatchObject({
      ok: true,
      from: 'site',
      siteId: 'chongqing',
    });
    expect(g.admit(invite({ extra: TOKEN }), overTcp('::ffff:10.10.0.10', 50313))).toMatchObject({
      ok: true,
      from: 'site',
      siteId: 'chongqing',
    });
    const stranger = g.admit(invite({ extra: TOKEN }), overTcp('192.0.2.66', 50314));
    expect(!stranger.ok && stranger.response.status).toBe(403);
    expect(refusals().map((l) => [l.source, l.why])).toEqual([
      ['tcp:192.0.2.66:50314', 'hand-over-from-unknown-site'],
    ]);
    g.stop();
  });

  test("a token on a carrier's INVITE is ignored: a new call from the trunk", () => {
    const { g, refusals } = gate();
    expect(g.admit(invite({ extra: TOKEN }), from('203.0.113.5'))).toMatchObject({ ok: true, from: 'trunk' });
    expect(refusals()).toEqual([]);
    g.stop();
  });

  test('a token from an address that is no other site’s is 403, logged once with who and why', () => {
    const { g, refusals } = gate();
    for (let i = 0; i < 5; i++) {
      const r = g.admit(invite({ extra: TOKEN }), from('192.0.2.66', 5070));
      expect(!r.ok && r.response.status).toBe(403);
    }
    // This site's own address is not a peer either.
    const self = g.admit(invite({ extra: TOKEN }), from('10.20.0.10'));
    expect(!self.ok && self.response.status).toBe(403);
    expect(refusals().map((l) => [l.source, l.why])).toEqual([
      ['udp:192.0.2.66:5070', 'hand-over-from-unknown-site'],
      ['udp:10.20.0.10:5060', 'hand-over-from-unknown-site'],
    ]);
    g.stop();
  });

  test('a malformed token from a peer is 400, naming the site and the problem', () => {
    const { g, refusals } = gate();
    const r = g.admit(invite({ extra: 'X-CC-Handover-Token: a b\n' }), from('10.10.0.10'));
    expect(!r.ok && r.response.status).toBe(400);
    expect(refusals()).toMatchObject([{ siteId: 'chongqing', why: 'bad-hand-over-token' }]);
    g.stop();
  });
});
