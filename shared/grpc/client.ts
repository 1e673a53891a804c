/**
 * Client-side helpers: channel options matching the server's limits, the credentials seam,
 * and `call(...)`, which turns a generated callback-style unary method into a promise whose
 * failures are DomainErrors (via shared/grpc/status.ts) and which always has a deadline.
 */
import {
  credentials as grpcCredentials,
  Metadata,
  type CallOptions,
  type ChannelCredentials,
  type ClientOptions,
  type ClientUnaryCall,
  type ServiceError,
} from '@grpc/grpc-js';
import { DEFAULT_MAX_MESSAGE_BYTES } from './server.js';
import { fromGrpcError } from './status.js';

/** Plaintext: a site's local agent-desk port and tests. Federation clients use `mtlsClientCredentials` (tls.ts). */
export function clientCredentials(): ChannelCredentials {
  return grpcCredentials.createInsecure();
}

export function clientOptions(extra: ClientOptions = {}): ClientOptions {
  return {
    'grpc.max_receive_message_length': 4 * DEFAULT_MAX_MESSAGE_BYTES,
    'grpc.max_send_message_length': 4 * DEFAULT_MAX_MESSAGE_BYTES,
    'grpc.keepalive_time_ms': 30_000,
    'grpc.keepalive_timeout_ms': 10_000,
    ...extra,
  };
}

export type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (error: ServiceError | null, response: Res) => void,
) => ClientUnaryCall;

export const DEFAULT_DEADLINE_MS = 5000;

/**
 * `await call(client.login.bind(client), { agentId })`: resolves with the response or rejects
 * with a DomainError (kind and field from the server).
 */
export function call<Req, Res>(
  method: UnaryMethod<Req, Res>,
  request: Req,
  opts: { deadlineMs?: number; metadata?: Metadata } = {},
): Promise<Res> {
  return new Promise<Res>((resolve, reject) => {
    method(
      request,
      opts.metadata ?? new Metadata(),
      { deadline: Date.now() + (opts.deadlineMs ?? DEFAULT_DEADLINE_MS) },
      (err, res) => (err ? reject(fromGrpcError(err)) : resolve(res)),
    );
  });
}
