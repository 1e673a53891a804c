/**
 * Test support for the site's hub link: a scripted hub (a gRPC server on loopback over real
 * mTLS, whose Link handler the test writes) and a real GrpcHubLink of site wanzhou on a real
 * site database, dialling it. The handler writes raw HubMessage bytes, so a test can send
 * what this contract version cannot encode (a newer hub's unknown fields and message kinds);
 * `encodeHub` is there for ordinary messages.
 */
import type { ServerDuplexStream } from '@grpc/grpc-js';
import { HubMessage, SiteMessage } from '../../proto/gen/federation.js';
import { systemClock } from '../../shared/clock.js';
import { GrpcServer } from '../../shared/grpc/server.js';
import { mtlsServerCredentials } from '../../shared/grpc/tls.js';
import { makeTestPki, type TestPki } from '../../test/support/pki.js';
import { siteTestDb, type SiteTestDb } from '../store/testing.js';
import { GrpcHubLink, type GrpcHubLinkOptions } from './hub-link.js';

export type ScriptedLinkCall = ServerDuplexStream<SiteMessage, Uint8Array>;

export const encodeHub = (m: HubMessage): Uint8Array => HubMessage.encode(m).finish();

export interface ScriptedHub {
  pki: TestPki;
  db: SiteTestDb;
  link: GrpcHubLink;
  close(): Promise<void>;
}

/** Starts the scripted hub, then wanzhou's link to it (started, dialling). */
export async function startScriptedHub(opts: {
  label: string;
  script: (call: ScriptedLinkCall) => void;
  link?: Partial<GrpcHubLinkOptions>;
}): Promise<ScriptedHub> {
  const pki = makeTestPki([
    ['hub', 'hub'],
    ['site', 'wanzhou'],
  ]);
  const db = await siteTestDb(opts.label, { siteId: 'wanzhou' });
  const server = new GrpcServer({
    host: '127.0.0.1',
    port: 0,
    credentials: mtlsServerCredentials(pki.material('hub', 'hub')),
    services: [
      {
        definition: {
          link: {
            path: '/pcc.federation.v1.Federation/Link',
            requestStream: true,
            responseStream: true,
            requestSerialize: (m: SiteMessage) => Buffer.from(SiteMessage.encode(m).finish()),
            requestDeserialize: (b: Buffer) => SiteMessage.decode(b),
            responseSerialize: (b: Uint8Array) => Buffer.from(b),
            responseDeserialize: (b: Buffer) => b,
          },
        },
        implementation: { link: opts.script },
      },
    ],
  });
  const port = await server.start();
  const link = new GrpcHubLink({
    siteId: 'wanzhou',
    addresses: [`127.0.0.1:${port}`],
    tls: pki.material('site', 'wanzhou'),
    hubId: 'hub',
    store: db.ctx,
    clock: systemClock,
    eventsOverLink: false,
    heartbeatIntervalMs: 200,
    ...opts.link,
  });
  await link.start();
  return {
    pki,
    db,
    link,
    async close() {
      await link.stop(100);
      await server.stop();
      await db.close();
      pki.cleanup();
    },
  };
}
