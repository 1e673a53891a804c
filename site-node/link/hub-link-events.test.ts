/**
 * The site's outbox on the link, against a scripted hub over real mTLS on a real site
 * database: a backlog left by an outage goes in seq order, each event once, one batch in
 * flight, each batch within the limits the hub takes (MAX_BATCH_EVENTS, MAX_BATCH_BYTES: a
 * message over the hub's 1 MiB would end the stream); a batch the hub refuses is sent again
 * before anything after it; rows are marked shipped only once acked, and the link is `up`
 * once the backlog is through. An acked batch whose mark is slow (a loaded database; here a
 * row lock holds it back) is not read and sent again: reads from the oldest wait for every
 * mark, not only the last one (a loaded run once got 1680.. again after the whole backlog).
 */
import { afterAll, beforeAll, test } from 'vitest';
import assert from 'node:assert/strict';
import pg from 'pg';
import { SiteMessage } from '../../proto/gen/federation.js';
import { makeEvent } from '../../shared/events/envelope.js';
import { appendToOutbox, countUnshipped } from '../../shared/events/outbox.js';
import { MAX_BATCH_BYTES, MAX_BATCH_EVENTS } from '../../shared/federation/event-batch.js';
import { withTransaction } from '../../shared/pg/transaction.js';
import { waitFor } from '../../test/support/wait.js';
import { pgSkip } from '../store/testing.js';
import { encodeHub, startScriptedHub, type ScriptedHub, type ScriptedLinkCall } from './testing.js';

const EVENTS = 2500;

let hub: ScriptedHub;
let welcome: () => void = () => undefined;
const welcomed = new Promise<void>((r) => (welcome = r));
const batches: Array<{ n: number[]; bytes: number }> = [];
let inFlight = 0;
let maxInFlight = 0;
let unshippedAtFirstBatch = -1;
let dropsAtFirstBatch = -1;
/**
 * The batch whose rows the test keeps locked from before its ack (so its mark waits) until
 * everything else is marked: the last but one, whose mark the final read from the oldest
 * must wait for.
 */
let held: { ids: string[]; tx: pg.Client } | undefined;

/** Locks the rows, on a connection of its own (not one of the link's pool). */
async function holdRows(ids: string[]): Promise<pg.Client> {
  const tx = new pg.Client({ connectionString: hub.db.db.url });
  await tx.connect();
  await tx.query('BEGIN');
  await tx.query('SELECT 1 FROM outbox WHERE id = ANY($1::text[]) FOR UPDATE', [ids]);
  return tx;
}

function script(call: ScriptedLinkCall): void {
  call.on('data', (m: SiteMessage) => {
    const b = m.body;
    if (b?.$case === 'hello') {
      void welcomed.then(() =>
        call.write(
          encodeHub({
            body: {
              $case: 'welcome',
              value: {
                hubId: 'hub',
                softwareVersion: 'test',
                contractVersion: 1,
                capabilities: ['events-over-link'],
                // This hub answers no heartbeat: a long interval keeps the link from being
                // declared down for silence while a slow machine ships the backlog (a redial
                // sends the batch in flight again, as it should; the test checks none came).
                heartbeatIntervalMs: 60_000,
                drained: false,
                topologyVersion: 0,
              },
            },
          }),
        ),
      );
      return;
    }
    if (b?.$case !== 'events') return;
    maxInFlight = Math.max(maxInFlight, ++inFlight);
    const first = batches.length === 0;
    if (first) dropsAtFirstBatch = hub.link.status.drops;
    const n = b.value.events.map((e) => (JSON.parse(e.payloadJson.toString('utf8')) as { n: number }).n);
    batches.push({ n, bytes: SiteMessage.encode(m).finish().length });
    // Fewer events left after it than it carries: the next batch is the last (the events are
    // alike all through, so every full batch holds about as many).
    const lastButOne = !first && !held && EVENTS - 1 - n[n.length - 1]! < n.length;
    void (async () => {
      if (first) unshippedAtFirstBatch = await countUnshipped(hub.db.pool);
      if (lastButOne) {
        const ids = b.value.events.map((e) => e.id);
        held = { ids, tx: await holdRows(ids) };
      }
      inFlight--;
      call.write(
        encodeHub({
          body: {
            $case: 'eventsAck',
            value: first
              ? { batchId: b.value.batchId, accepted: 0, duplicates: 0, error: 'database unavailable' }
              : { batchId: b.value.batchId, accepted: b.value.events.length, duplicates: 0, error: '' },
          },
        }),
      );
    })();
  });
  call.on('error', () => undefined);
}

beforeAll(async () => {
  if (pgSkip) return;
  hub = await startScriptedHub({
    label: 'hub_link_events',
    script,
    link: { eventsOverLink: true, minBackoffMs: 50, maxBackoffMs: 200 },
  });
});

afterAll(async () => {
  await held?.tx.end();
  await hub?.close();
});

test.skipIf(pgSkip)(
  'a backlog goes in order, once, one batch in flight, within the hub limits; a refused batch goes first again',
  async () => {
    // Every fifth event is large, so batches are cut by bytes as well as by count.
    await withTransaction(hub.db.pool, async (c) => {
      for (let n = 0; n < EVENTS; n++) {
        await appendToOutbox(
          c,
          makeEvent({
            type: 'call.data-changed',
            siteId: 'wanzhou',
            aggregateId: `wanzhou-call-${n % 97}`,
            occurredAtMs: 1_700_000_000_000 + n,
            payload: { n, note: n % 5 === 0 ? 'x'.repeat(4000) : 'short' },
          }),
        );
      }
    });
    welcome();
    // The last batch acked and marked, the last but one's mark still held: a read from the
    // oldest now would find that batch unshipped and send it again.
    await waitFor('all but the held batch marked shipped', async () => {
      return held !== undefined && (await countUnshipped(hub.db.pool)) === held.ids.length;
    });
    await held!.tx.query('COMMIT');
    await waitFor('the backlog shipped and the link up', async () => {
      return hub.link.state === 'up' && (await countUnshipped(hub.db.pool)) === 0;
    });

    assert.equal(unshippedAtFirstBatch, EVENTS, 'nothing marked before an ack');
    assert.equal(maxInFlight, 1, 'one batch in flight');
    // A redial would legitimately send the batch in flight again (at-least-once): none here,
    // so any batch sent twice below is the link's own doing.
    assert.equal(hub.link.status.drops, dropsAtFirstBatch, 'the link stayed open through the backlog');
    // The refused first batch comes again, whole, before anything after it.
    assert.deepEqual(batches[1]!.n, batches[0]!.n);
    const delivered = batches.slice(1).flatMap((b) => b.n);
    assert.deepEqual(
      delivered,
      Array.from({ length: EVENTS }, (_, i) => i),
    );
    for (const b of batches) {
      assert.ok(b.n.length <= MAX_BATCH_EVENTS, `${b.n.length} events in one batch`);
      assert.ok(b.bytes <= MAX_BATCH_BYTES, `${b.bytes} bytes in one batch`);
    }
    assert.ok(
      batches.some((b) => b.bytes > MAX_BATCH_BYTES / 2),
      'batches are filled up to the byte bound',
    );
    assert.equal(hub.link.stats.eventsShipped, EVENTS);
  },
);
