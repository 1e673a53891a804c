/**
 * The floor of the roaming-lookup benchmark: a trivial unary gRPC service (JSON on the wire)
 * that answers every request with the same profile-sized document. echo-server.ts runs it.
 */
import {
  makeGenericClientConstructor,
  type ChannelCredentials,
  type Client,
  type ServiceDefinition,
} from '@grpc/grpc-js';
import type { UnaryMethod } from '../../shared/grpc/client.js';

export interface EchoRequest {
  siteId: string;
  value: string;
  purpose: { reason: string; callId: string; ivrSessionId: string };
}

const json = {
  serialize: (v: unknown): Buffer => Buffer.from(JSON.stringify(v)),
  deserialize: (b: Buffer): unknown => JSON.parse(b.toString('utf8')),
};

export const echoDefinition: ServiceDefinition = {
  echo: {
    path: '/bench.Echo/Echo',
    requestStream: false,
    responseStream: false,
    requestSerialize: json.serialize,
    requestDeserialize: json.deserialize,
    responseSerialize: json.serialize,
    responseDeserialize: json.deserialize,
  },
};

export type EchoClient = Client & { echo: UnaryMethod<EchoRequest, unknown> };
export const EchoClientCtor = makeGenericClientConstructor(echoDefinition, 'Echo') as unknown as new (
  address: string,
  creds: ChannelCredentials,
  options?: object,
) => EchoClient;
