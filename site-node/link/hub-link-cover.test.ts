/**
 * The site's hub link and CoverState (docs/architecture.md §5.8), against a scripted hub over
 * real mTLS: the link keeps the active entry ids the hub sends and tells its `onCover`
 * callback once per change; when the stream is lost it keeps the last set but marks it stale,
 * and it is fresh again only when the hub says on the new stream (after Welcome).
 */
import { afterAll, beforeAll, test } from 'vitest';
import assert from 'node:assert/strict';
import { HubMessage, type SiteMessage } from '../../proto/gen/federation.js';
import { waitFor } from '../../test/support/wait.js';
import { pgSkip } from '../store/testing.js';
import type { CoverView } from './hub-link.js';
import { encodeHub, startScriptedHub, type ScriptedHub, type ScriptedLinkCall } from './testing.js';

let hub: ScriptedHub;
let current: ScriptedLinkCall | undefined;
let hellos = 0;
const told: CoverView[] = [];
const lines: string[] = [];

const cover = (ids: string[]): Uint8Array =>
  encodeHub({ body: { $case: 'cover', value: { activeEntryIds: ids } } });

function script(call: ScriptedLinkCall): void {
  call.on('data', (m: SiteMessage) => {
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
            capabilities: ['cover'],
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
    label: 'hub_link_cover',
    script,
    link: {
      minBackoffMs: 50,
      maxBackoffMs: 200,
      onCover: (c) => told.push(c),
      log: createLogger({}, { write: (l) => lines.push(l), level: 'info' }),
    },
  });
});

afterAll(async () => {
  await hub?.close();
});

test.skipIf(pgSkip)('cover state: kept, told once per change, stale while the stream is lost', async () => {
  const { link } = hub;
  await waitFor('the link is up', () => link.state === 'up' && current !== undefined);
  assert.deepEqual(link.cover, { activeEntryIds: [], stale: true }, 'nothing heard yet');

  current!.write(cover(['fuling-helps', 'night-wanzhou']));
  await waitFor('the first set', () => told.length === 1);
  assert.deepEqual(told[0], { activeEntryIds: ['fuling-helps', 'night-wanzhou'], stale: false });
  current!.write(cover(['fuling-helps', 'night-wanzhou'])); // the same set again: no change
  current!.write(cover(['night-wanzhou']));
  await waitFor('the second set', () => told.length === 2);
  assert.deepEqual(link.cover, { activeEntryIds: ['night-wanzhou'], stale: false });
  const logged = lines
    .map((l) => JSON.parse(l) as { msg: string; ended?: string[] })
    .filter((l) => l.msg === 'cover state from the hub');
  assert.equal(logged.length, 2, 'one line per change, none for a repeat');
  assert.deepEqual(logged[1]!.ended, ['fuling-helps']);

  // The hub drops the stream: the last set stays, marked stale.
  const first = current!;
  first.end();
  await waitFor('stale', () => told.length === 3);
  assert.deepEqual(told[2], { activeEntryIds: ['night-wanzhou'], stale: true });
  await waitFor('a new stream', () => hellos === 2 && link.state === 'up');
  assert.equal(link.cover.stale, true, 'still stale after Welcome, until the hub says');
  current!.write(cover(['night-wanzhou']));
  await waitFor('fresh again', () => told.length === 4);
  assert.deepEqual(told[3], { activeEntryIds: ['night-wanzhou'], stale: false });
});
