/**
 * A grpc-js server with the project's defaults: bind host:port (port 0 picks a free port and
 * `start()` returns it), a 1 MiB receive limit so oversized requests are refused with
 * RESOURCE_EXHAUSTED before any handler runs, keepalive settings for long-lived streams,
 * and an idempotent start/stop.
 *
 * Credentials: the federation (hub) always passes `mtlsServerCredentials(...)` from
 * shared/grpc/tls.ts; plaintext is left only for a site's local agent-desk port and tests.
 * With TLS, every refused handshake (no client certificate, a certificate from another CA,
 * an expired one) is counted in `refusedHandshakes` and logged with the remote address and
 * the reason (handshake-reason.ts): grpc-js does not surface these, so we listen on its TLS
 * servers. The log is rate-limited per address (refusal-window.ts): the first refusal is
 * `tls handshake refused`, the rest of each window one `more tls handshakes refused` line
 * with their count, so a flood of bad handshakes cannot flood the log.
 *
 * Stop order: run each service's `drain()` (ends its open streams so clients reconnect
 * elsewhere), then `tryShutdown` (finish in-flight calls) for up to `shutdownTimeoutMs`,
 * then `forceShutdown`.
 */
import {
  Server,
  ServerCredentials,
  type ChannelOptions,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import type { Socket } from 'node:net';
import { Server as TlsServer, type TLSSocket } from 'node:tls';
import { systemClock, type Clock } from '../clock.js';
import { silentLogger, type Logger } from '../log.js';
import { handshakeReason } from './handshake-reason.js';
import { RefusalWindow } from './refusal-window.js';

export const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024;

export interface ServiceRegistration {
  definition: ServiceDefinition;
  implementation: UntypedServiceImplementation;
  /** Called at stop before shutdown: end long-lived streams. */
  drain?: () => void | Promise<void>;
}

export interface GrpcServerOptions {
  host: string;
  /** 0 = any free port; `start()` returns the bound one. */
  port: number;
  services: ServiceRegistration[];
  /** The mTLS seam. Default: insecure (plaintext), for tests and the single-machine mode. */
  credentials?: ServerCredentials;
  /** Largest request accepted; bigger ones get RESOURCE_EXHAUSTED. Default 1 MiB. */
  maxReceiveMessageBytes?: number;
  /** Largest response sent. Default 4 MiB. */
  maxSendMessageBytes?: number;
  /** How long `stop()` waits for in-flight calls before forcing. Default 5000. */
  shutdownTimeoutMs?: number;
  /** Extra grpc-js channel options (they win over the defaults). */
  channelOptions?: ChannelOptions;
  log?: Logger;
  /** Refused handshakes from one address are summarised once per this window. Default 10 s. */
  handshakeLogWindowMs?: number;
  clock?: Clock;
}

/** Plaintext: a site's local agent-desk port and tests. The federation uses mTLS (tls.ts). */
export function serverCredentials(): ServerCredentials {
  return ServerCredentials.createInsecure();
}

export class GrpcServer {
  private server: Server | undefined;
  private starting: Promise<number> | undefined;
  private stopping: Promise<void> | undefined;
  private boundPort: number | undefined;
  private readonly log: Logger;
  /** TLS handshakes refused since start (no or untrusted client certificate...). */
  refusedHandshakes = 0;
  private readonly refusals: RefusalWindow;
  private readonly clock: Clock;
  private summaryTimer: NodeJS.Timeout | undefined;
  /** Each TLS connection's remote address as it arrived (see watchHandshakes); weak: no leak. */
  private readonly peers = new WeakMap<Socket, { address: string; port: number | undefined }>();

  constructor(private readonly opts: GrpcServerOptions) {
    if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) {
      throw new RangeError(`grpc server: port ${opts.port} is not 0..65535`);
    }
    this.log = opts.log ?? silentLogger;
    this.clock = opts.clock ?? systemClock;
    this.refusals = new RefusalWindow(opts.handshakeLogWindowMs ?? 10_000);
  }

  /** The bound port, once started. */
  get port(): number | undefined {
    return this.boundPort;
  }

  /** `host:port` to dial, once started. */
  get address(): string | undefined {
    if (this.boundPort === undefined) return undefined;
    const host = this.opts.host.includes(':') ? `[${this.opts.host}]` : this.opts.host;
    return `${host}:${this.boundPort}`;
  }

  /** Bind and serve. Idempotent: a second call returns the same port. */
  start(): Promise<number> {
    if (this.stopping) return Promise.reject(new Error('grpc server: start after stop'));
    this.starting ??= this.bind();
    return this.starting;
  }

  private async bind(): Promise<number> {
    const server = new Server({
      'grpc.max_receive_message_length': this.opts.maxReceiveMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
      'grpc.max_send_message_length': this.opts.maxSendMessageBytes ?? 4 * DEFAULT_MAX_MESSAGE_BYTES,
      'grpc.keepalive_time_ms': 30_000,
      'grpc.keepalive_timeout_ms': 10_000,
      'grpc.keepalive_permit_without_calls': 1,
      ...this.opts.channelOptions,
    });
    for (const s of this.opts.services) server.addService(s.definition, s.implementation);
    const host = this.opts.host.includes(':') ? `[${this.opts.host}]` : this.opts.host;
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync(`${host}:${this.opts.port}`, this.opts.credentials ?? serverCredentials(), (err, p) =>
        err ? reject(err) : resolve(p),
      );
    });
    this.server = server;
    this.boundPort = port;
    this.watchHandshakes(server);
    this.log.info('grpc server listening', { host: this.opts.host, port });
    return port;
  }

  /**
   * Log refused TLS handshakes. grpc-js keeps its http2 servers in a private map; reading it
   * is the one way to see `tlsClientError`. If a grpc-js upgrade removes it, we say so once
   * instead of failing (the handshakes are still refused, only not logged).
   */
  private watchHandshakes(server: Server): void {
    if (!this.opts.credentials?._isSecure()) return;
    const inner = (server as unknown as { http2Servers?: Map<unknown, unknown> }).http2Servers;
    if (!(inner instanceof Map)) {
      this.log.warn('cannot observe TLS handshakes in this grpc-js version; refused ones are not logged');
      return;
    }
    for (const s of inner.keys()) {
      if (!(s instanceof TlsServer)) continue;
      // The address is read from the raw TCP socket as it arrives: when Node refuses a client
      // certificate it destroys the socket before `tlsClientError`, and by then neither the
      // TLS socket nor the raw one can ask the OS for the peer any more.
      s.on('connection', (raw: Socket) => {
        if (raw.remoteAddress !== undefined) {
          this.peers.set(raw, { address: raw.remoteAddress, port: raw.remotePort });
        }
      });
      s.on('tlsClientError', (err: Error, socket: TLSSocket) => this.onRefused(err, socket));
    }
    const windowMs = this.opts.handshakeLogWindowMs ?? 10_000;
    this.summaryTimer = setInterval(() => this.logSummaries(false), windowMs);
    this.summaryTimer.unref();
  }

  private onRefused(err: Error, socket: TLSSocket): void {
    this.refusedHandshakes++;
    // By the time the TLS layer gives up, the TLS socket may have lost its address (logged as
    // `?:?`); the raw TCP socket it wraps (Node keeps it as `_parent`) was noted on arrival.
    const raw = (socket as unknown as { _parent?: Socket })._parent;
    const noted = raw ? this.peers.get(raw) : undefined;
    const address = socket.remoteAddress ?? noted?.address ?? raw?.remoteAddress ?? 'unknown address';
    const port = socket.remotePort ?? noted?.port ?? raw?.remotePort;
    // A client certificate that fails verification surfaces as a hang-up; the socket still
    // says why it was not authorised (handshake-reason.ts).
    const reason = handshakeReason(err, socket.authorizationError);
    if (!this.refusals.note(address, reason, this.clock.now())) return;
    this.log.warn('tls handshake refused', {
      peer: port === undefined ? address : `${address}:${port}`,
      reason,
      code: (err as { code?: unknown }).code,
      ...(socket.authorizationError ? { verifyError: String(socket.authorizationError) } : {}),
      err,
    });
  }

  /** One line per address for the refusals counted but not logged; `all` at stop. */
  private logSummaries(all: boolean): void {
    for (const s of this.refusals.due(this.clock.now(), all)) {
      this.log.warn('more tls handshakes refused', {
        peer: s.key,
        count: s.suppressed,
        reasons: s.reasons,
        windowMs: s.windowMs,
      });
    }
  }

  /** Drain streams, then graceful shutdown with a timeout, then force. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    if (this.starting) await this.starting.catch(() => undefined);
    const server = this.server;
    if (!server) return;
    clearInterval(this.summaryTimer);
    this.logSummaries(true);
    for (const s of this.opts.services) {
      try {
        await s.drain?.();
      } catch (e) {
        this.log.warn('grpc service drain failed', { err: e });
      }
    }
    const timeoutMs = this.opts.shutdownTimeoutMs ?? 5000;
    let timer: NodeJS.Timeout | undefined;
    const graceful = await Promise.race([
      new Promise<boolean>((resolve) => server.tryShutdown(() => resolve(true))),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (!graceful) {
      this.log.warn('grpc server did not drain in time; forcing', { timeoutMs });
      server.forceShutdown();
    }
    this.log.info('grpc server stopped', { port: this.boundPort });
  }
}

/** Convenience: build and start a server; returns it with its bound port. */
export async function startGrpcServer(
  opts: GrpcServerOptions,
): Promise<{ server: GrpcServer; port: number }> {
  const server = new GrpcServer(opts);
  const port = await server.start();
  return { server, port };
}
