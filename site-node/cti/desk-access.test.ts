import { test } from 'vitest';
import assert from 'node:assert/strict';
import { actFor, DeskRoster, setPassword, supervise, teamOf, type DeskPrincipal } from './desk-access.js';

const roster = new DeskRoster({
  agents: ['a01', 'a02', 'a03', 'lead'].map((id) => ({ id, name: id })),
  supervisors: [{ id: 's01', name: 'Sun' }],
  teams: [
    { id: 'east', supervisors: ['s01'], agents: ['a01', 'a02'] },
    { id: 'west', supervisors: ['lead'], agents: ['a03'] },
  ],
});
const as = (userId: string): DeskPrincipal => ({ ...roster.user(userId)!, via: 'session' });

function denied(fn: () => unknown, field?: string): void {
  assert.throws(fn, (e: { kind: string; field?: string }) => {
    assert.equal(e.kind, 'permission-denied');
    if (field) assert.equal(e.field, field);
    return true;
  });
}

test('roles: an agent who leads a team is a supervisor and still an agent; a supervisor is not an agent', () => {
  assert.deepEqual(roster.user('a01'), { userId: 'a01', name: 'a01', agentId: 'a01', role: 'agent' });
  assert.deepEqual(roster.user('lead'), {
    userId: 'lead',
    name: 'lead',
    agentId: 'lead',
    role: 'supervisor',
  });
  assert.deepEqual(roster.user('s01'), { userId: 's01', name: 'Sun', role: 'supervisor' });
  assert.equal(roster.user('nobody'), undefined);
});

test('an agent acts only for itself; a supervisor who is no agent acts for nobody', () => {
  assert.equal(actFor(as('a01'), 'a01'), 'a01');
  denied(() => actFor(as('a01'), 'a02'), 'agent_id');
  denied(() => actFor(as('s01'), 'a01'), 'agent_id');
  assert.equal(actFor(as('lead'), 'lead'), 'lead');
});

test('a supervisor acts on its own teams only; an agent supervises nobody', () => {
  assert.equal(supervise(roster, as('s01'), 'a02'), 'a02');
  denied(() => supervise(roster, as('s01'), 'a03'), 'agent_id');
  denied(() => supervise(roster, as('lead'), 'a01'), 'agent_id');
  denied(() => supervise(roster, as('a01'), 'a02'), 'agent_id');
  assert.deepEqual(
    teamOf(roster, as('s01')).map((t) => t.id),
    ['east'],
  );
  denied(() => teamOf(roster, as('a01')));
});

test("passwords: one's own, or a member's of one's teams", () => {
  assert.equal(setPassword(roster, as('a01'), 'a01'), 'self');
  assert.equal(setPassword(roster, as('s01'), 'a01'), 'supervisor');
  assert.equal(setPassword(roster, as('s01'), 's01'), 'self');
  denied(() => setPassword(roster, as('a01'), 'a02'), 'user_id');
  denied(() => setPassword(roster, as('s01'), 'a03'), 'user_id');
  denied(() => setPassword(roster, as('lead'), 's01'), 'user_id');
});

test("a supervisor cannot set another supervisor's password, even a member of its team", () => {
  // `lead` supervises west and is a member of east: s01's reset would hand s01 the west team.
  const r = new DeskRoster({
    agents: ['a01', 'lead'].map((id) => ({ id, name: id })),
    supervisors: [{ id: 's01', name: 'Sun' }],
    teams: [
      { id: 'east', supervisors: ['s01'], agents: ['a01', 'lead'] },
      { id: 'west', supervisors: ['lead'], agents: [] },
    ],
  });
  const who = (id: string): DeskPrincipal => ({ ...r.user(id)!, via: 'session' });
  denied(() => setPassword(r, who('s01'), 'lead'), 'user_id');
  assert.equal(setPassword(r, who('s01'), 'a01'), 'supervisor');
  assert.equal(setPassword(r, who('lead'), 'lead'), 'self');
});
