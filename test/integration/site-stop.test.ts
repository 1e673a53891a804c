/**
 * A site that stops cleanly closes its agents' day: every agent still logged in (ready,
 * not-ready, or just left on a call the stop released) is logged out by the stop itself, with
 * reason `site-shutdown`, its session closed and its `agent.logged-out` event in the outbox.
 * Before, their sessions stayed open until the next start's recovery closed them as
 * `site-restart` (the chaos suite found agents left logged in after clean stops).
 */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { startExampleSite } from '../support/example-site.js';

test('a clean stop logs out every agent still logged in, with reason site-shutdown', async () => {
  const ex = await startExampleSite({ label: 'site-stop' });
  try {
    const { desk, pool } = ex;
    await desk.login('a01');
    await desk.setReady('a01');
    await desk.login('a02'); // logged in, not ready
    desk.close();
    await ex.site.stop();
    const agents = await pool.query<{ id: string; state: string }>(
      `SELECT id, state FROM agents WHERE state <> 'logged-out' ORDER BY id`,
    );
    assert.deepEqual(agents.rows, [], 'agents left logged in after a clean stop');
    const sessions = await pool.query<{ agent_id: string; logout_reason: string | null }>(
      `SELECT agent_id, logout_reason FROM agent_sessions ORDER BY agent_id`,
    );
    assert.deepEqual(sessions.rows, [
      { agent_id: 'a01', logout_reason: 'site-shutdown' },
      { agent_id: 'a02', logout_reason: 'site-shutdown' },
    ]);
    const events = await pool.query<{ agent: string; reason: string }>(
      `SELECT aggregate_id AS agent, payload->>'reason' AS reason FROM outbox
        WHERE type = 'agent.logged-out' ORDER BY aggregate_id`,
    );
    assert.deepEqual(events.rows, [
      { agent: 'a01', reason: 'site-shutdown' },
      { agent: 'a02', reason: 'site-shutdown' },
    ]);
  } finally {
    await ex.close();
  }
}, 60_000);
