/**
 * The site's hub link and the overflow protocol's envelopes (docs/architecture.md §5.9),
 * against a scripted hub over real mTLS: the link sends overflow only while the hub's Welcome
 * announced `overflow`; what the hub relays reaches the registered handler checked (a
 * malformed envelope is logged once with the hub's id and dropped; the hub's own refusal,
 * which names no sender, is read as from the hub); a lost stream is one `linkDown`; a relayed
 * envelope is handed over on arrival, not behind an earlier message's database work.
 */
import { afterAll, beforeAll, test } from 'vitest';
import assert from 'node:assert/strict';
import { HubMessage, type OverflowEnvelope, type SiteMessage } from '../../proto/gen/federation.js';
import { waitFor } from '../../test/support/wait.js';
import { pgSkip } from '../store/testing.js';
import type { OverflowMessage } from '../overflow/messages.js';
import { encodeHub, startScriptedHub, type ScriptedHub, type ScriptedLinkCall } from './testing.js';

let hub: ScriptedHub;
let current: ScriptedLinkCall | undefined;
let hellos = 0;
/** What the hub's Welcome announces, per stream (the test changes it between streams). */
let capabilities = ['overflow'];
const fromSite: OverflowEnvelope[] = [];
const handled: OverflowMessage[] = [];
let downs = 0;
const lines: string[] = [];

const relay = (e: OverflowEnvelope): Uint8Array => encodeHub({ body: { $case: 'overflow', value: e } });

function script(call: ScriptedLinkCall): void {
  call.on('data', (m: SiteMessage) => {
    if (m.body?.$case === 'overflow') fromSite.push(m.body.value);
    if (m.body?.$case !== 'hello') return;
    hellos++;
    current = call;
    call.write(
      HubMessage.encode({
        body: {
          $case: 'welcome',
          value: {
            hubId: 'hub',
            softwareVersion: 't',
            contractVersion: 2,
            capabilities,
            heartbeatIntervalMs: 200,
            drained: false,
            topologyVersion: 0,
          },
        },
      }).finish(),
    );
  });
  call.on('error', () => undefined);
}

beforeAll(async () => {
  if (pgSkip) return;
  const { createLogger } = await import('../../shared/log.js');
  hub = await startScriptedHub({
    label: 'hub_link_overflow',
    script,
    link: {
      minBackoffMs: 50,
      maxBackoffMs: 200,
      log: createLogger({}, { write: (l) => lines.push(l), level: 'info' }),
    },
  });
  hub.link.onOverflow({ message: (m) => handled.push(m), linkDown: () => downs++ });
});

afterAll(async () => {
  await hub?.close();
});

const cancel = (requestId: string): OverflowMessage => ({
  kind: 'cancel',
  requestId,
  fromSiteId: 'wanzhou',
  toSiteId: 'chongqing',
  token: 't-1',
});

test.skipIf(pgSkip)('overflow envelopes both ways, checked; link down said once', async () => {
  const { link } = hub;
  await waitFor('the link is up with overflow', () => link.overflowReady && current !== undefined);
  assert.equal(link.sendOverflow(cancel('wanzhou-1#1')), true);
  await waitFor('the hub got it', () => fromSite.length === 1);
  assert.equal(fromSite[0]!.requestId, 'wanzhou-1#1');
  assert.equal(fromSite[0]!.body?.$case, 'cancel');

  // A malformed envelope (no request id), a good accept, and the hub's own refusal.
  current!.write(relay({ fromSiteId: 'chongqing', toSiteId: 'wanzhou', requestId: '', body: undefined }));
  current!.write(
    relay({
      fromSiteId: 'chongqing',
      toSiteId: 'wanzhou',
      requestId: 'wanzhou-1#1',
      body: { $case: 'accept', value: { token: 't-1', holdMs: 3000 } },
    }),
  );
  current!.write(
    relay({
      fromSiteId: '',
      toSiteId: '',
      requestId: 'wanzhou-2#1',
      body: { $case: 'refuse', value: { reason: 'no-eligible-site', token: '', byHub: true } },
    }),
  );
  await waitFor('two handled', () => handled.length === 2);
  assert.deepEqual(
    handled.map((m) => [m.kind, m.fromSiteId, m.requestId]),
    [
      ['accept', 'chongqing', 'wanzhou-1#1'],
      ['refuse', '', 'wanzhou-2#1'],
    ],
  );
  const refused = lines
    .map((l) => JSON.parse(l) as { msg: string; hubId?: string; field?: string })
    .filter((l) => l.msg === 'overflow message refused');
  assert.equal(refused.length, 1, 'the malformed one, once');
  assert.equal(refused[0]!.hubId, 'hub');
  assert.match(refused[0]!.field ?? '', /^envelope\./);

  // The stream is lost: one linkDown, and nothing can be sent until a hub speaking overflow
  // welcomes the site again; this time the hub does not announce it.
  capabilities = [];
  current!.end();
  await waitFor('link down said', () => downs === 1);
  assert.equal(link.sendOverflow(cancel('wanzhou-1#1')), false);
  await waitFor('a new stream', () => hellos === 2 && link.state === 'up');
  assert.equal(link.overflowReady, false, 'a hub without overflow gets none');
  assert.equal(link.sendOverflow(cancel('wanzhou-1#1')), false);
  assert.equal(fromSite.length, 1);
  assert.equal(downs, 1, 'said once per stream that carried overflow');
});

test.skipIf(pgSkip)(
  'a relayed envelope reaches the runtime on arrival, not behind database work',
  async () => {
    const { link, db } = hub;
    capabilities = ['overflow'];
    const streams = hellos;
    current!.end();
    await waitFor('a stream with overflow again', () => hellos > streams && link.overflowReady);
    // The drain's save waits on this row lock for as long as the test holds it.
    const lock = await db.pool.connect();
    try {
      await lock.query('BEGIN');
      await lock.query('SELECT 1 FROM hub_link WHERE id = 1 FOR UPDATE');
      const before = handled.length;
      current!.write(encodeHub({ body: { $case: 'drain', value: { drained: true, reason: 'test' } } }));
      current!.write(
        relay({
          fromSiteId: 'chongqing',
          toSiteId: 'wanzhou',
          requestId: 'wanzhou-3#1',
          body: { $case: 'accept', value: { token: 't-3', holdMs: 3000 } },
        }),
      );
      await waitFor('the accept handled while the drain is still being saved', () => handled.length > before);
      assert.equal(handled.at(-1)!.requestId, 'wanzhou-3#1');
    } finally {
      await lock.query('ROLLBACK');
      lock.release();
    }
  },
);
