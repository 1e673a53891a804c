/**
 * What the simulated network reports for the chaos suite (docs/operations.md §11): each
 * confirmation prompt a caller on the line hears, with its reference, and each call the
 * traffic places with the site's id for it.
 */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { VirtualScheduler } from '../../shared/scheduler.js';
import { SimMedia, type HeardConfirmation, type SimCaller } from './sim-media.js';
import { Traffic } from './traffic.js';
import type { CallLeg } from '../telephony/media-port.js';

const caller: SimCaller = {
  ani: '13800000001',
  dnis: '95588',
  patienceMs: 60_000,
  thinkMs: 1000,
  respond: () => 'timeout',
};

test('a caller on the line reports the confirmation prompts it hears, and only those', async () => {
  const heard: HeardConfirmation[] = [];
  const media = new SimMedia(
    new VirtualScheduler(0),
    () => undefined,
    (h) => heard.push(h),
  );
  media.onInbound((c) => (c.leg.callId = 'call-1'));
  const leg = media.place(caller);
  await media.play(leg, 'welcome');
  await media.play(leg, 'ticket.created', { ref: 'call-1:tkt1' });
  await media.play(leg, 'callback.scheduled', { minutes: '120' });
  await media.hangup(leg);
  await media.play(leg, 'feedback.complaint_recorded', { ref: 'late' }); // nobody on the line
  assert.deepEqual(heard, [
    { callId: 'call-1', promptId: 'ticket.created', ref: 'call-1:tkt1' },
    { callId: 'call-1', promptId: 'callback.scheduled' },
  ]);
});

test('the traffic reports each call placed with the id the site gave it', async () => {
  const scheduler = new VirtualScheduler(0);
  const media = new SimMedia(scheduler);
  let n = 0;
  media.onInbound((c) => (c.leg.callId = n % 2 === 0 ? `call-${++n}` : (n++, '')));
  const placed: string[] = [];
  const traffic = new Traffic(scheduler, media, {
    callsPerHour: 3600,
    seed: 1,
    customers: [],
    onPlaced: (leg: CallLeg) => placed.push(leg.callId),
  });
  traffic.start();
  await scheduler.advance(60_000);
  traffic.stop();
  assert.equal(placed.length, traffic.placed);
  assert.ok(placed.length > 10, `${placed.length} calls in a simulated minute at 1 per second`);
  assert.deepEqual(placed.slice(0, 4), ['call-1', '', 'call-3', '']);
});
