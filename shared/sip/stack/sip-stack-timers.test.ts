/**
 * The timers the stack runs, on a VirtualScheduler: the commands' start-timer and
 * cancel-timer are carried out exactly, so an INVITE to a silent peer is resent at RFC 3261's
 * 0.5, 1.5, 3.5, 7.5, 15.5 and 31.5 s and given up at 32 s, and every timer is gone after.
 * Sends are counted when the timer fires (before the socket is done), so the counts are
 * read at once after each advance; only the bytes on the wire are awaited.
 */
import { afterEach, expect, test } from 'vitest';
import { waitFor } from '../../../test/support/wait.js';
import { silentLogger } from '../../log.js';
import { VirtualScheduler } from '../../scheduler.js';
import { buildResponse } from '../response.js';
import { SipStack } from './sip-stack.js';
import { LOOPBACK, rawRequest, RawUdpPeer, RecordingClient, RecordingTu, tuRequest } from './testing.js';

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((o) => o.close()));
});

async function setup(tu = new RecordingTu()) {
  const scheduler = new VirtualScheduler(1_000_000);
  const stack = await SipStack.start(
    { udp: { host: LOOPBACK, port: 0 }, tcp: { host: LOOPBACK, port: 0 }, scheduler, log: silentLogger },
    tu,
  );
  const peer = await RawUdpPeer.open();
  open.push(stack, peer);
  return { scheduler, stack, peer, tu };
}

test('an unanswered INVITE over UDP: resent on timer A at 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s; B at 32 s', async () => {
  const { scheduler, stack, peer } = await setup();
  const events = new RecordingClient();
  stack.request(tuRequest('INVITE'), { host: LOOPBACK, port: peer.port }, events);
  const sendsAt: number[] = [];
  let last = 0;
  for (let t = 100; t <= 32_000; t += 100) {
    await scheduler.advance(100);
    const n = stack.counters().retransmissions;
    if (n > last) sendsAt.push(t);
    last = n;
  }
  expect(sendsAt).toEqual([500, 1_500, 3_500, 7_500, 15_500, 31_500]);
  expect(events.timeouts).toBe(1);
  expect(stack.openTransactions.client).toBe(0);
  expect(scheduler.pending()).toBe(0);
  await waitFor('all seven copies', () => peer.received.length === 7);
});

test('an INVITE over TCP is never resent; its 1xx stops B', async () => {
  const { scheduler, stack, tu } = await setup();
  const events = new RecordingClient();
  stack.request(tuRequest('INVITE'), { ...stack.address('tcp'), transport: 'tcp' }, events);
  await waitFor('the INVITE at our own TCP listener', () => tu.requests.length === 1);
  await waitFor('its 100', () => events.responses.length === 1);
  await scheduler.advance(31_999);
  expect(stack.counters().retransmissions).toBe(0);
  // A 1xx cancelled B: the client INVITE now waits for its final (or a CANCEL).
  await scheduler.advance(100_000);
  expect(events.timeouts).toBe(0);
  expect(stack.openTransactions.client).toBe(1);
});

test('a non-INVITE answered over UDP lingers for J = 32 s, then its timers are gone', async () => {
  const { scheduler, stack, peer } = await setup(new RecordingTu(200));
  await peer.send(rawRequest('OPTIONS', peer.port, 'z9hG4bKlinger'), stack.address('udp'));
  await waitFor('the 200', () => peer.responses().length === 1);
  expect(stack.openTransactions.server).toBe(1);
  await scheduler.advance(31_999);
  expect(stack.openTransactions.server).toBe(1);
  await scheduler.advance(1);
  expect(stack.openTransactions.server).toBe(0);
  expect(scheduler.pending()).toBe(0);
});

test('a 486 over UDP is resent on G until the ACK, which cancels G and H; I ends it at T4', async () => {
  const tu = new RecordingTu();
  const { scheduler, stack, peer } = await setup(tu);
  await peer.send(rawRequest('INVITE', peer.port, 'z9hG4bKbusy'), stack.address('udp'));
  await waitFor('the INVITE', () => tu.requests.length === 1);
  const { request, tx } = tu.requests[0]!;
  tx.respond(buildResponse(request, 486, { toTag: 'b' }));
  await scheduler.advance(500);
  await scheduler.advance(1_000);
  expect(stack.counters().retransmissions).toBe(2); // G at 0.5 s and 1.5 s
  await peer.send(rawRequest('ACK', peer.port, 'z9hG4bKbusy', { toTag: 'b' }), stack.address('udp'));
  await waitFor('the ACK taken: only I left', () => scheduler.pending() === 1);
  await scheduler.advance(5_000);
  expect(stack.openTransactions.server).toBe(0);
  expect(stack.counters().retransmissions).toBe(2);
  expect(tu.failures).toHaveLength(0);
});
