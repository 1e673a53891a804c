import { test } from 'vitest';
import assert from 'node:assert/strict';
import { ManualClock } from '../clock.js';
import { createLogger } from '../log.js';
import { peerAddressOf, RefusalLog } from './refusal-log.js';

function setup() {
  const lines: Array<Record<string, unknown>> = [];
  const log = createLogger({}, { write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>) });
  const clock = new ManualClock(1_000);
  const refusals = new RefusalLog(log, { clock, windowMs: 10_000 });
  const refuse = (who: string, peer: string, kind = 'permission-denied') =>
    refusals.refused({ method: '/m', who, peer, kind, reason: `${who} may not` });
  const msgs = (m: string) => lines.filter((l) => l.msg === m);
  return { refusals, refuse, msgs, clock };
}

test('a burst from one peer is one line and a count; two certificates behind one address are two peers', () => {
  const { refusals, refuse, msgs, clock } = setup();
  refuse('site wanzhou', '10.0.0.1');
  refuse('site wanzhou', '10.0.0.1', 'unauthenticated');
  refuse('site wanzhou', '10.0.0.1');
  refuse('site fuling', '10.0.0.1');
  assert.deepEqual(
    msgs('rpc refused').map((l) => [l.who, l.peer, l.method, l.reason]),
    [
      ['site wanzhou', '10.0.0.1', '/m', 'site wanzhou may not'],
      ['site fuling', '10.0.0.1', '/m', 'site fuling may not'],
    ],
  );
  clock.advance(10_000);
  refuse('site fuling', '10.0.0.1'); // a quiet peer's window is over: a line again
  assert.equal(msgs('rpc refused').length, 3);
  const summary = msgs('more rpc refusals');
  assert.equal(summary.length, 1);
  assert.deepEqual(
    { who: summary[0]!.who, peer: summary[0]!.peer, count: summary[0]!.count, kinds: summary[0]!.kinds },
    {
      who: 'site wanzhou',
      peer: '10.0.0.1',
      count: 2,
      kinds: { 'permission-denied': 1, unauthenticated: 1 },
    },
  );
  refusals.stop();
});

test('stop says every count still unsaid', () => {
  const { refusals, refuse, msgs } = setup();
  refuse('anonymous', '10.0.0.9');
  refuse('anonymous', '10.0.0.9');
  assert.equal(msgs('more rpc refusals').length, 0);
  refusals.stop();
  assert.deepEqual(
    msgs('more rpc refusals').map((l) => [l.who, l.peer, l.count]),
    [['anonymous', '10.0.0.9', 1]],
  );
});

test('peer addresses lose their port and brackets', () => {
  assert.equal(peerAddressOf('10.1.2.3:5000'), '10.1.2.3');
  assert.equal(peerAddressOf('ipv4:10.1.2.3:5000'), '10.1.2.3');
  assert.equal(peerAddressOf('[::1]:5000'), '::1');
  assert.equal(peerAddressOf('::1:5000'), '::1');
  assert.equal(peerAddressOf(undefined), 'unknown');
});
