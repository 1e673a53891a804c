import { test } from 'vitest';
import assert from 'node:assert/strict';
import { SIM_ATTACHED_KEYS } from '../sim/sim-hand-over.js';
import { ORIGIN_SITE_KEY, movedCallAttached } from './call-data.js';

test("a moved call's attached data keeps the origin's, drops the simulated caller's keys, names the origin", () => {
  const got = movedCallAttached(
    {
      intent: 'balance',
      customerId: 'c-1',
      [SIM_ATTACHED_KEYS.talkMs]: '9000',
      [SIM_ATTACHED_KEYS.thinkMs]: '2000',
    },
    'wanzhou',
  );
  assert.deepEqual(got, { intent: 'balance', customerId: 'c-1', [ORIGIN_SITE_KEY]: 'wanzhou' });
});
