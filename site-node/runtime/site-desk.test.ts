import { test } from 'vitest';
import assert from 'node:assert/strict';
import { isDomainError } from '../../shared/errors.js';
import { createLogger } from '../../shared/log.js';
import { VirtualScheduler } from '../../shared/scheduler.js';
import { compileAcdConfig } from '../acd/config.js';
import type { DeskPinUnlock } from '../cti/agent-desk.js';
import { AcdEngine } from './acd-engine.js';
import type { SitePinUnlock } from './pin-unlock.js';
import { SiteDesk } from './site-desk.js';
import { PinRefusalLog } from './pin-refusal-log.js';
import { ManualClock } from '../../shared/clock.js';

const clock = new ManualClock(1_000_000);

const req: DeskPinUnlock = {
  callId: 'c1',
  customerId: 'cust-1',
  verification: { method: 'security-questions', detail: 'two answered' },
  reason: 'forgot',
};

function desk(pins: SitePinUnlock | undefined): { desk: SiteDesk; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const log = createLogger(
    {},
    { level: 'debug', write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>) },
  );
  const engine = new AcdEngine(
    compileAcdConfig({ queues: [{ id: 'retail', skill: 'retail' }] }),
    new VirtualScheduler(),
    () => {},
    log,
  );
  const roster = [{ id: 'a01', name: 'A', skills: { retail: 3 } }];
  const codes = { notReadyReasons: ['break'], wrapupCodes: ['resolved'] };
  return {
    desk: new SiteDesk(engine, roster, codes, () => {}, pins, new PinRefusalLog(log, { clock })),
    lines,
  };
}

test('a PIN unlock refused before SitePinUnlock is asked is logged once, with who and why', async () => {
  // SitePinUnlock logs its own refusals; it must not be reached here.
  const pins = {
    unlock: () => assert.fail('an unknown agent reached the unlock'),
  } as unknown as SitePinUnlock;
  const unknown = desk(pins);
  await assert.rejects(unknown.desk.unlockPin('nobody', req), (e) => isDomainError(e, 'not-found'));
  assert.deepEqual(
    unknown.lines.map((l) => [l.msg, l.agentId, l.callId, l.customerId, String(l.why).includes('nobody')]),
    [['pin unlock refused', 'nobody', 'c1', 'cust-1', true]],
  );

  const noPins = desk(undefined);
  await assert.rejects(noPins.desk.unlockPin('a01', req), (e) => isDomainError(e, 'failed-precondition'));
  assert.deepEqual(
    noPins.lines.map((l) => [l.msg, l.agentId, l.why]),
    [['pin unlock refused', 'a01', 'this site does not unlock PINs from the desk']],
  );
});

test('a desk looping on a refused unlock costs one line per agent per window, every refusal counted', async () => {
  const noPins = desk(undefined);
  for (let i = 0; i < 50; i++) {
    await assert.rejects(noPins.desk.unlockPin('a01', req), (e) => isDomainError(e, 'failed-precondition'));
  }
  assert.equal(noPins.lines.filter((l) => l.msg === 'pin unlock refused').length, 1);
  clock.advance(10_000);
  await assert.rejects(noPins.desk.unlockPin('a01', req));
  const more = noPins.lines.filter((l) => l.msg === 'more pin unlock refusals');
  assert.deepEqual(
    more.map((l) => [l.agentId, l.count, l.kinds]),
    // 51 refusals: the line, and 50 counted (the 51st, which closed the window, with them).
    [['a01', 50, { 'failed-precondition': 50 }]],
  );
});

test("an agent's view says whether its phone is registered, and a change is pushed to its desk", async () => {
  const { desk: d } = desk(undefined);
  // Without SIP the view says nothing of a phone.
  assert.equal((await d.agent('a01')).phone, undefined);
  const states: Record<string, 'registered' | 'not-registered' | 'no-phone'> = { a01: 'not-registered' };
  d.showPhones({ phoneState: (id) => states[id] ?? 'no-phone' });
  assert.equal((await d.agent('a01')).phone, 'not-registered');
  const pushed: unknown[] = [];
  d.subscribe('a01', (e) => pushed.push(e));
  states.a01 = 'registered';
  d.phoneChanged('a01');
  d.phoneChanged('nobody'); // not on the roster: nothing to tell
  assert.deepEqual(pushed, [
    {
      type: 'state',
      agent: { agentId: 'a01', state: 'logged-out', skills: { retail: 3 }, phone: 'registered' },
    },
  ]);
  states.a01 = 'no-phone';
  assert.equal((await d.agent('a01')).phone, undefined);
});
