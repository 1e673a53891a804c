/** `fedctl routes`: one row per decision, where the call went or why it stayed, every verdict with its age. */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import type { RouteDecision } from '../../proto/gen/admin.js';
import { formatRoutes } from './format-routes.js';

const decision = (patch: Partial<RouteDecision> = {}): RouteDecision => ({
  requestId: 'wz-1#1',
  callId: 'wz-1',
  kind: 'overflow',
  ruleId: 'wanzhou-busy',
  originSiteId: 'wanzhou',
  queueId: 'retail',
  targetSiteId: 'fuling',
  reason: '',
  why: '2 agent(s) ready',
  decidedAtMs: Date.UTC(2026, 0, 5, 9, 30, 15),
  maxSnapshotAgeMs: 1000,
  candidates: [
    { siteId: 'chongqing', verdict: 'no-capacity', why: 'no agent ready', ageMs: 120, link: 'up' },
    { siteId: 'fuling', verdict: 'taken', why: '2 agent(s) ready', ageMs: 80, link: 'up' },
  ],
  ...patch,
});

test('a routed and a refused decision, newest first as given', () => {
  const out = formatRoutes({
    decisions: [
      decision({
        requestId: 'wz-2#1',
        targetSiteId: '',
        reason: 'no-eligible-site',
        candidates: [
          { siteId: 'chongqing', verdict: 'drained', why: 'drained by an admin', ageMs: 40, link: 'up' },
          { siteId: 'fuling', verdict: 'link-not-up', why: 'link is never', link: 'never' },
        ],
      }),
      decision(),
    ],
  }).split('\n');
  assert.match(out[0]!, /^WHEN \(UTC\)\s+REQUEST\s+RULE\s+FROM\s+TO\s+CANDIDATES/);
  assert.match(
    out[1]!,
    /^2026-01-05T09:30:15\s+wz-2#1\s+overflow wanzhou-busy\s+wanzhou\/retail\s+\(home: no-eligible-site\)\s+chongqing drained 40ms, fuling link-not-up no snapshot$/,
  );
  assert.match(
    out[2]!,
    /wz-1#1\s+overflow wanzhou-busy\s+wanzhou\/retail\s+fuling\s+chongqing no-capacity 120ms, fuling taken 80ms$/,
  );
});

test('nothing matches: said in words', () => {
  assert.equal(formatRoutes({ decisions: [] }), 'no routing decision matches');
});
