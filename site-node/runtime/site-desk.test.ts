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
  return { desk: new SiteDesk(engine, roster, codes, () => {}, pins, log), lines };
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
