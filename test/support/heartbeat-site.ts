/**
 * A bare site in a process of its own: dials the hub over mTLS, says hello and heartbeats every
 * HEARTBEAT_MS until killed. For tests that stall the hub's process: the site's heartbeats keep
 * arriving (and queue in the socket) while the hub cannot run, as from a real remote site.
 * Run: tsx test/support/heartbeat-site.ts <hub address> <site id> <ca> <cert> <key>
 */
import { Metadata } from '@grpc/grpc-js';
import { FederationClient, type SiteMessage } from '../../proto/gen/federation.js';
import { clientOptions } from '../../shared/grpc/client.js';
import { loadTlsMaterial, mtlsClientCredentials } from '../../shared/grpc/tls.js';

const [address, siteId, caPath, certPath, keyPath] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string,
];
const HEARTBEAT_MS = 100;
const client = new FederationClient(
  address,
  mtlsClientCredentials(loadTlsMaterial({ caPath, certPath, keyPath }), { expectServer: { kind: 'hub' } }),
  clientOptions(),
);
const link = client.link(new Metadata(), {});
link.on('data', () => undefined);
link.on('error', (e: Error) => {
  process.stderr.write(`heartbeat-site: ${e.message}\n`);
  process.exit(1);
});
const hello: SiteMessage = {
  body: {
    $case: 'hello',
    value: {
      siteId,
      softwareVersion: 'test',
      contractVersion: 1,
      capabilities: [],
      topologyVersion: 0,
      customerCursor: 0,
      sentAtMs: Date.now(),
    },
  },
};
link.write(hello);
let seq = 0;
setInterval(() => {
  link.write({ body: { $case: 'heartbeat', value: { seq: ++seq, sentAtMs: Date.now(), outboxBacklog: 0 } } });
}, HEARTBEAT_MS);
process.stdout.write('dialled\n');
