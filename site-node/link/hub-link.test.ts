/**
 * The site's hub link against a scripted NEWER hub (contract v2) over real mTLS, on a real
 * site database: the link tolerates what it does not know (extra fields in Welcome, message
 * kinds it has never heard of), adopts and acknowledges a pushed topology, refuses one that
 * does not include it (and says why in the ack), applies drain and customer changes, and
 * after the hub drops the stream it redials and its new Hello carries what it remembered
 * (topology version, feed cursor) so the hub resumes exactly where it stopped.
 */
import { afterAll, beforeAll, test } from 'vitest';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { SiteMessage } from '../../proto/gen/federation.js';
import { HubMessage, Welcome } from '../../proto/gen/federation.js';
import { customerToProto } from '../../shared/domain/customer-proto.js';
import { asField, unknownCase, withUnknownFields } from '../../shared/federation/version-tolerance.js';
import { CONTRACT_VERSION } from '../../shared/federation/contract.js';
import { loadTopology } from '../../shared/topology/validate.js';
import { waitFor } from '../../test/support/wait.js';
import { PgCustomerDirectory } from '../store/customers-repo.js';
import { pgSkip, type SiteTestDb } from '../store/testing.js';
import type { GrpcHubLink } from './hub-link.js';
import { readLinkMemory } from './link-store.js';
import { startScriptedHub, type ScriptedHub, type ScriptedLinkCall } from './testing.js';

const topology = loadTopology(
  readFileSync(fileURLToPath(new URL('../../deploy/examples/province.yaml', import.meta.url)), 'utf8'),
);

let hub: ScriptedHub;
let db: SiteTestDb;
let link: GrpcHubLink;
const hellos: SiteMessage[] = [];
const received: SiteMessage[] = [];
let streams = 0;

/** The scripted v2 hub: raw bytes out, so it can send what a v1 encoder never would. */
function scriptedLink(call: ScriptedLinkCall): void {
  streams++;
  const first = streams === 1;
  call.on('data', (m: SiteMessage) => {
    received.push(m);
    if (m.body?.$case !== 'hello') {
      // The first stream ends once the site acknowledged the second topology push.
      if (first && m.body?.$case === 'topologyAck' && m.body.value.version === 6) call.end();
      return;
    }
    hellos.push(m);
    const welcome: Welcome = {
      hubId: 'hub',
      softwareVersion: '3.0.0',
      contractVersion: 3,
      capabilities: ['topology', 'customer-feed', 'snapshots'],
      heartbeatIntervalMs: 200,
      // A real hub remembers the drain it pushed on the first stream and says so again.
      drained: !first,
      topologyVersion: 5,
    };
    call.write(asField(1, withUnknownFields(Welcome.encode(welcome).finish())));
    if (!first) return;
    call.write(unknownCase(9)); // a message kind of a later contract: the site skips it
    const push = (version: number, t: unknown) =>
      call.write(
        HubMessage.encode({
          body: {
            $case: 'topology',
            value: {
              version,
              topologyJson: Buffer.from(JSON.stringify(t)),
              appliedAtMs: Date.now(),
              appliedBy: 'alice',
            },
          },
        }).finish(),
      );
    push(5, topology);
    call.write(
      HubMessage.encode({
        body: { $case: 'drain', value: { drained: true, reason: 'maintenance' } },
      }).finish(),
    );
    call.write(
      HubMessage.encode({
        body: {
          $case: 'customerChanged',
          value: {
            cursor: 17,
            profile: customerToProto({
              customerId: 'cq-c-9',
              name: '李娜',
              phones: ['13912345678'],
              cards: [],
              homeSiteId: 'chongqing',
              segment: 'retail',
              language: 'zh',
              flags: { blacklisted: false, lostCard: false },
              accountIds: [],
              version: 3,
            }),
          },
        },
      }).finish(),
    );
    // A valid version without this site (the two other full sites, nothing shared): refused,
    // the site keeps running version 5.
    push(6, {
      ...topology,
      sites: topology.sites.filter((s) => s.kind === 'full' && s.id !== 'wanzhou'),
      overflow: [],
      cover: [],
    });
  });
  call.on('error', () => undefined);
}

beforeAll(async () => {
  if (pgSkip) return;
  hub = await startScriptedHub({
    label: 'hub_link',
    script: scriptedLink,
    link: { minBackoffMs: 50, maxBackoffMs: 200 },
  });
  ({ db, link } = hub);
});

afterAll(async () => {
  await hub?.close();
});

test.skipIf(pgSkip)('a v1 site on a v2 hub: tolerant, adopts, refuses, remembers, resumes', async () => {
  await waitFor(
    'the first stream acknowledged both pushes',
    () => received.filter((m) => m.body?.$case === 'topologyAck').length >= 2,
  );
  const acks = received
    .filter((m) => m.body?.$case === 'topologyAck')
    .map((m) => (m.body as { value: { version: number; error: string } }).value);
  assert.deepEqual(acks[0], { version: 5, error: '' });
  assert.equal(acks[1]!.version, 6);
  assert.match(acks[1]!.error, /site wanzhou is not in topology version 6/);

  const first = hellos[0]!.body as { value: { contractVersion: number; topologyVersion: number } };
  assert.equal(first.value.contractVersion, CONTRACT_VERSION);
  assert.equal(first.value.topologyVersion, 0);

  // The hub ended the stream: the site redials and says where it stands.
  await waitFor('a second hello', () => hellos.length >= 2);
  const second = hellos[1]!.body as { value: { topologyVersion: number; customerCursor: number } };
  assert.equal(second.value.topologyVersion, 5, 'runs the adopted version, not the refused one');
  assert.equal(second.value.customerCursor, 17, 'the feed resumes after what it cached');
  await waitFor('up again', () => link.state === 'up');
  assert.ok(link.status.drops >= 1);

  const mem = await readLinkMemory(db.pool);
  assert.equal(mem.topologyVersion, 5);
  assert.equal(mem.drained, true);
  assert.equal(link.drained, true);
  assert.equal((await new PgCustomerDirectory(db.pool).byId('cq-c-9'))?.version, 3);
  // Heartbeats flow on the new stream (and the unknown message kind did not break anything).
  await waitFor('a heartbeat on the second stream', () =>
    received.slice(received.indexOf(hellos[1]!)).some((m) => m.body?.$case === 'heartbeat'),
  );
});
