/**
 * Callbacks at the edges (docs/architecture.md §4.7), on a real site (real PostgreSQL, ACD, IVR
 * and agent desk over gRPC; simulated callers and media):
 * - the caller presses the callback key and, while that request is being committed, the queue's
 *   max wait turns them away with a callback: one request, one callback, counted once;
 * - the key press's request is refused by the store: the caller hears the apology, keeps waiting
 *   and may press again;
 * - a callback's turn comes while the site is stopping: no dial, and the agent it reserved is
 *   released at once for the callers still draining (the request keeps its place and its tries);
 * - the key is pressed while the call is taken for a move to another site: a failed move gives
 *   the request the caller's place; a move that happened closes it `served-elsewhere`, unplaced.
 */
import { afterAll, beforeAll, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import type pg from 'pg';
import { startExampleSite, type ExampleSite } from '../support/example-site.js';
import { waitFor } from '../support/wait.js';
import type { DeskEvent, ScreenPop } from '../../site-node/cti/agent-desk.js';
import type { SimCaller } from '../../site-node/sim/sim-media.js';
import { getCall, getTicket, type TicketRecord } from '../../site-node/store/index.js';
import { query } from '../../shared/pg/pool.js';

/** A known customer who asks for an agent (0) and answers every later prompt with `onPrompt`. */
function caller(ani: string, heard: string[], onPrompt: (prompt: string) => string): SimCaller {
  return {
    ani,
    dnis: '95599',
    patienceMs: 600_000,
    thinkMs: 20,
    respond: (prompt) => {
      if (prompt) heard.push(prompt);
      return prompt === 'main.menu' ? '0' : onPrompt(prompt ?? '');
    },
  };
}

async function callbackTicketsOf(pool: pg.Pool, callId: string): Promise<TicketRecord[]> {
  const r = await query<{ id: string }>(
    pool,
    `SELECT id FROM tickets WHERE kind = 'callback-request' AND call_id = $1`,
    [callId],
  );
  return Promise.all(r.rows.map(async (row) => (await getTicket(pool, row.id))!));
}

/** Retail offers the callback key; `retail` adds to (or overrides) its settings. */
const retailWith =
  (retail: Record<string, unknown>) =>
  (doc: Record<string, unknown>): void => {
    const queues = (doc.acd as { queues: Array<Record<string, unknown>> }).queues;
    const q = queues.find((x) => x.id === 'retail')!;
    Object.assign(q, { callback: { key: '1', maxTries: 2, retryDelayMs: '2s' }, ...retail });
  };

describe('the key pressed as the queue gives up on the caller', () => {
  let ex: ExampleSite;
  beforeAll(async () => {
    ex = await startExampleSite({ label: 'cb-race', edit: retailWith({ maxWaitMs: '2s' }) });
  });
  afterAll(async () => {
    await ex?.close();
  });

  test('one request, one callback, counted once', async () => {
    const { site, media, pool, people } = ex;
    // Hold every new request at the store, so the max wait fires while the key press is committed.
    const lock = await pool.connect();
    let released = false;
    const release = async (): Promise<void> => {
      if (released) return;
      released = true;
      await lock.query('COMMIT');
      lock.release();
    };
    try {
      await lock.query('BEGIN');
      await lock.query('LOCK TABLE tickets IN EXCLUSIVE MODE');
      const heard: string[] = [];
      const c = media.place(
        caller(people[0]!.profile.phones[0]!, heard, (p) => (p === 'acd.callback_option' ? '1' : 'timeout')),
      );
      await waitFor('the caller waiting', () => c.callId !== '' && site.engine.call(c.callId));
      await waitFor('the key pressed', () => heard.includes('acd.callback_option'));
      await waitFor(
        'the queue giving up on the caller',
        () => site.engine.call(c.callId) === undefined,
        10_000,
      );
      await release();
      const ticket = await waitFor(
        'the callback request',
        async () => (await callbackTicketsOf(pool, c.callId))[0],
        20_000,
      );
      await waitFor('the callback in the queue', () => site.callbacks.virtualCallOf(ticket.ticketId));
      await site.flushWrites();
      assert.equal((await callbackTicketsOf(pool, c.callId)).length, 1, 'one request for the caller');
      assert.equal(site.callbacks.pending.waiting, 1, 'one callback waiting (one agent, one dial)');
      assert.equal(site.tally.callbacksScheduled, 1, 'counted once');
      assert.equal((await getCall(pool, c.callId))?.state, 'callback-scheduled');
    } finally {
      await release();
    }
  });
});

describe('the key press not recorded, then a stop while callbacks wait', () => {
  let ex: ExampleSite;
  beforeAll(async () => {
    ex = await startExampleSite({ label: 'cb-refused', edit: retailWith({}), drainMs: 30_000 });
  });
  afterAll(async () => {
    await ex?.close();
  });

  test('a key press the store refuses: the caller hears the apology, keeps waiting and may press again', async () => {
    const { site, media, pool, people } = ex;
    // The store refuses the first callback request it is given (a permanent failure), then takes them.
    await pool.query(`CREATE SEQUENCE test_callback_refusals`);
    await pool.query(`
      CREATE FUNCTION test_refuse_first_callback() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF nextval('test_callback_refusals') = 1 THEN
          RAISE EXCEPTION 'test: the first callback request is refused' USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
      END $$`);
    await pool.query(`
      CREATE TRIGGER test_refuse_first_callback BEFORE INSERT ON tickets FOR EACH ROW
      WHEN (NEW.kind = 'callback-request') EXECUTE FUNCTION test_refuse_first_callback()`);
    const heard: string[] = [];
    const pressAgain = (p: string): string =>
      p === 'acd.callback_option' || p === 'callback.not_scheduled' ? '1' : 'timeout';
    const c = media.place(caller(people[0]!.profile.phones[0]!, heard, pressAgain));
    const ticket = await waitFor(
      'the request of the second key press',
      async () => (c.callId ? (await callbackTicketsOf(pool, c.callId))[0] : undefined),
      20_000,
    );
    assert.deepEqual(
      heard.filter((p) => p.startsWith('acd.callback') || p.startsWith('callback.')),
      ['acd.callback_option', 'callback.not_scheduled'],
      'the offer, then the apology after the refused request',
    );
    assert.ok(await waitFor('its place in the queue', () => site.callbacks.virtualCallOf(ticket.ticketId)));
    await site.flushWrites();
    assert.equal((await callbackTicketsOf(pool, c.callId)).length, 1);
    assert.equal(site.tally.callbacksScheduled, 1, 'only the recorded request is counted');
  });

  test('a callback whose turn comes while the site stops releases its agent for the callers still draining', async () => {
    const { site, media, pool, people, desk } = ex;
    // A callback waits at the front of retail (with any left by the test before); a caller behind.
    const a = media.place(
      caller(people[2]!.profile.phones[0]!, [], (p) => (p === 'acd.callback_option' ? '1' : 'timeout')),
    );
    const front = await waitFor(
      'the callback request',
      async () => (a.callId ? (await callbackTicketsOf(pool, a.callId))[0] : undefined),
      20_000,
    );
    await waitFor('the callback in the queue', () => site.callbacks.virtualCallOf(front.ticketId));
    const r = media.place(caller(people[1]!.profile.phones[0]!, [], () => 'timeout'));
    await waitFor(
      'a caller waiting behind the callback',
      () => site.engine.call(r.callId)?.state === 'queued',
    );

    const stopped = site.stop(); // refuses new calls, then lets the live ones finish
    const events: DeskEvent[] = [];
    const unsubscribe = desk.subscribe('a03', (e) => events.push(e));
    await desk.login('a03');
    await desk.setReady('a03');
    const offer = await waitFor(
      'the waiting caller offered to the agent while the site drains',
      () => events.find((e): e is Extract<DeskEvent, { type: 'offer' }> => e.type === 'offer'),
      10_000,
    );
    const pop: ScreenPop = offer.pop;
    assert.equal(pop.callId, r.callId, 'the caller, not the callback (no dial while stopping)');
    await desk.answer('a03', pop.callId);
    await desk.hangup('a03', pop.callId);
    await desk.completeWrapup('a03', pop.callId, 'resolved');
    unsubscribe();
    await stopped;
    const t = await getTicket(pool, front.ticketId);
    assert.equal(t?.status, 'open', 'the request stays open for the next start');
    assert.equal(t?.data.tries ?? 0, 0, 'and no try was counted');
  });
});

describe('the key pressed while the call is taken for a move to another site', () => {
  let ex: ExampleSite;
  beforeAll(async () => {
    ex = await startExampleSite({ label: 'cb-move', edit: retailWith({}) });
  });
  afterAll(async () => {
    await ex?.close();
  });

  /**
   * A caller presses the key with the store held, so the request is still being committed when
   * the test takes the call for a move (as overflow-origin.ts would); `settle` then ends the move
   * before the store is let go. Returns the caller's call id and the committed request.
   */
  async function pressedWhileTaken(
    ani: string,
    settle: (callId: string) => void,
  ): Promise<{ callId: string; ticket: TicketRecord }> {
    const { site, media, pool } = ex;
    const lock = await pool.connect();
    let released = false;
    const release = async (): Promise<void> => {
      if (released) return;
      released = true;
      await lock.query('COMMIT');
      lock.release();
    };
    try {
      await lock.query('BEGIN');
      await lock.query('LOCK TABLE tickets IN EXCLUSIVE MODE');
      const c = media.place(caller(ani, [], (p) => (p === 'acd.callback_option' ? '1' : 'timeout')));
      await waitFor(
        'the key press being committed',
        () => c.callId !== '' && site.callbacks.joinRequest(c.callId) !== undefined,
      );
      site.engine.dispatch({ type: 'take-call', callId: c.callId, requestId: `${c.callId}#1` });
      assert.equal(site.engine.call(c.callId)?.state, 'taken');
      await release();
      const ticket = await waitFor(
        'the request committed',
        async () => (await callbackTicketsOf(pool, c.callId))[0],
        20_000,
      );
      settle(c.callId);
      return { callId: c.callId, ticket };
    } finally {
      await release();
    }
  }

  test('the move fails: the caller is back in the queue and the request takes their place', async () => {
    const { site, pool, people } = ex;
    const { callId, ticket } = await pressedWhileTaken(people[0]!.profile.phones[0]!, (id) =>
      site.engine.dispatch({ type: 'return-call', callId: id }),
    );
    await waitFor('the callback in the queue', () => site.callbacks.virtualCallOf(ticket.ticketId), 10_000);
    await site.flushWrites();
    assert.equal((await getTicket(pool, ticket.ticketId))?.status, 'open');
    assert.equal((await getCall(pool, callId))?.state, 'callback-scheduled');
  });

  test('the call moved: the request is closed served elsewhere and never placed', async () => {
    const { site, pool, people } = ex;
    const { callId, ticket } = await pressedWhileTaken(people[1]!.profile.phones[0]!, (id) =>
      site.engine.dispatch({ type: 'call-moved', callId: id, toSiteId: 'wanzhou', token: 'T' }),
    );
    const closed = await waitFor(
      'the request closed',
      async () => {
        const t = await getTicket(pool, ticket.ticketId);
        return t?.status === 'closed' ? t : undefined;
      },
      10_000,
    );
    assert.equal(closed.closeReason, 'served-elsewhere');
    assert.equal(site.callbacks.virtualCallOf(ticket.ticketId), undefined, 'never placed');
    await site.flushWrites();
    assert.equal((await getCall(pool, callId))?.state, 'overflowed');
  });

  test('the call moved before the request committed: the request is closed, never placed', async () => {
    const { site, media, pool, people } = ex;
    const lock = await pool.connect();
    let released = false;
    const release = async (): Promise<void> => {
      if (released) return;
      released = true;
      await lock.query('COMMIT');
      lock.release();
    };
    try {
      await lock.query('BEGIN');
      await lock.query('LOCK TABLE tickets IN EXCLUSIVE MODE');
      const c = media.place(
        caller(people[2]!.profile.phones[0]!, [], (p) => (p === 'acd.callback_option' ? '1' : 'timeout')),
      );
      await waitFor(
        'the key press being committed',
        () => c.callId !== '' && site.callbacks.joinRequest(c.callId) !== undefined,
      );
      site.engine.dispatch({ type: 'take-call', callId: c.callId, requestId: `${c.callId}#1` });
      site.engine.dispatch({ type: 'call-moved', callId: c.callId, toSiteId: 'wanzhou', token: 'T2' });
      await release();
      const closed = await waitFor(
        'the request closed',
        async () => {
          const t = (await callbackTicketsOf(pool, c.callId))[0];
          return t?.status === 'closed' ? t : undefined;
        },
        20_000,
      );
      assert.equal(closed.closeReason, 'served-elsewhere');
      assert.equal(site.callbacks.virtualCallOf(closed.ticketId), undefined, 'never placed');
    } finally {
      await release();
    }
  });
});
