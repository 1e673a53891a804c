import { afterEach, expect, test } from 'vitest';
import { waitFor } from '../../../test/support/wait.js';
import { silentLogger } from '../../log.js';
import { UdpTransport } from './udp-transport.js';
import type { SipInbound } from './types.js';

const open: UdpTransport[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
});

async function bind(received: SipInbound[]): Promise<UdpTransport> {
  const t = await UdpTransport.bind(
    { host: '127.0.0.1', port: 0 },
    { onMessage: (m) => received.push(m), onRefused: () => {}, onConnectionClosed: () => {} },
    silentLogger,
  );
  open.push(t);
  return t;
}

test('datagrams both ways, each with its source; the bound port is exposed', async () => {
  const atA: SipInbound[] = [];
  const atB: SipInbound[] = [];
  const a = await bind(atA);
  const b = await bind(atB);
  expect(a.local.port).toBeGreaterThan(0);
  await a.send(Buffer.from('one'), b.local);
  await b.send(Buffer.from('two'), a.local);
  await waitFor('both', () => atA.length === 1 && atB.length === 1);
  expect(atB[0]).toMatchObject({ transport: 'udp', source: a.local, connection: undefined });
  expect(atA[0]!.bytes.toString()).toBe('two');
});

test('binding a taken port fails; a closed socket refuses to send and closes twice quietly', async () => {
  const a = await bind([]);
  await expect(
    UdpTransport.bind(
      a.local,
      { onMessage: () => {}, onRefused: () => {}, onConnectionClosed: () => {} },
      silentLogger,
    ),
  ).rejects.toThrow(/EADDRINUSE/);
  await a.close();
  await a.close();
  await expect(a.send(Buffer.from('x'), a.local)).rejects.toThrow(/closed/);
});
