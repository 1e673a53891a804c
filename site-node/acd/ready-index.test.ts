import { test } from 'vitest';
import assert from 'node:assert/strict';
import { mulberry32 } from '../../shared/random.js';
import { AcdHarness, commandsOf } from './harness.js';
import { checkAcdInvariants } from './invariants.js';
import type { AcdCommand } from './types.js';
import { agentView } from './views.js';

/**
 * The ready index keeps dead entries until it passes or compacts them (state.ts): a long run of
 * agents going ready and not-ready, long enough for every list to be compacted many times,
 * must still offer each call to the agent a plain model says (longest idle; best proficiency,
 * ties to the longest idle), and keep each list within a bound set by the agents it can hold,
 * however many events pass.
 */
test('the ready index picks as a plain model does through many compactions, and stays small', () => {
  const h = new AcdHarness({
    offerTimeoutMs: '10s',
    wrapUpMs: '5s',
    queues: [
      { id: 'idle', skill: 's' },
      { id: 'best', skill: 't', strategy: 'best-proficiency' },
    ],
  });
  const rnd = mulberry32(20261202);
  const pick = (n: number): number => Math.floor(rnd() * n);
  const ids = Array.from({ length: 60 }, (_, i) => `a${i}`);
  const skills = new Map(ids.map((id) => [id, { s: 1 + pick(5), t: 1 + pick(5) }]));
  const prof = (id: string): number => skills.get(id)!.t;
  /** How many agents a list can ever hold: those with its skill at its proficiency. */
  const members = (skill: 's' | 't', p: number): number =>
    ids.filter((id) => skills.get(id)![skill] === p).length;
  /** Ready agents, longest idle first, from the commands alone. */
  const readyOrder: string[] = [];
  const follow = (cmds: AcdCommand[]): void => {
    for (const c of commandsOf(cmds, 'agent-state-changed')) {
      if (c.from === 'ready') readyOrder.splice(readyOrder.indexOf(c.agentId), 1);
      if (c.to === 'ready') readyOrder.push(c.agentId);
    }
  };
  for (const id of ids) {
    follow(h.send({ type: 'agent-login', agentId: id, skills: skills.get(id)!, ready: true }));
  }
  let calls = 0;
  let offered = 0;
  let longest = 0;
  for (let step = 0; step < 4000; step++) {
    h.advance(1000);
    const r = rnd();
    if (r < 0.5) {
      const id = ids[pick(ids.length)]!;
      const st = agentView(h.state, id)!.state;
      if (st === 'ready') follow(h.send({ type: 'agent-not-ready', agentId: id, reason: 'break' }));
      else if (st === 'not-ready') follow(h.send({ type: 'agent-ready', agentId: id }));
      continue;
    }
    const queueId = r < 0.75 ? 'idle' : 'best';
    let want: string | undefined = readyOrder[0];
    if (queueId === 'best') {
      for (const id of readyOrder) if (prof(id) > prof(want!)) want = id;
    }
    const callId = `c${++calls}`;
    const out = h.send({ type: 'call-arrived', callId, queueId });
    follow(out);
    assert.deepEqual(
      commandsOf(out, 'offer-call').map((c) => c.agentId),
      want === undefined ? [] : [want],
      `call ${callId} in ${queueId}`,
    );
    if (want !== undefined) offered++;
    // The caller leaves: a ringing agent goes back to ready, the newest idle one.
    follow(h.send({ type: 'caller-hung-up', callId }));
    for (const skill of ['s', 't'] as const) {
      h.state.bySkill.get(skill)!.lists.forEach((l, p) => {
        longest = Math.max(longest, l.entries.length / 2);
        assert.ok(
          l.entries.length / 2 <= 2 * members(skill, p) + 65,
          `list ${skill}/${p} outgrew its agents`,
        );
      });
    }
    if (step % 100 === 0) assert.deepEqual(checkAcdInvariants(h.state, { noIdleWhileWaiting: true }), []);
  }
  // The run did what it is for: most calls found an agent, and lists grew past a compaction.
  assert.ok(offered > calls / 2, `${offered} of ${calls} calls offered`);
  assert.ok(longest >= 64, `the longest list held ${longest} entries: no compaction was reached`);
});
