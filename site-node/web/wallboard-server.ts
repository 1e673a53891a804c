/**
 * The supervisor's wallboard: a small HTTP server on the site that serves one page
 * (wallboard.html) and the live snapshot it polls as JSON. Read-only: GET only, nothing
 * on it changes the site. It binds to the configured host (loopback by default).
 */
import { createServer, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface WallboardOptions {
  host: string;
  /** 0 = any free port; start() returns the bound one. */
  port: number;
  /** The live view to show; called on every poll. */
  snapshot: () => unknown;
}

const PAGE = fileURLToPath(new URL('./wallboard.html', import.meta.url));

export class WallboardServer {
  private server: Server | undefined;
  private readonly page: string;

  constructor(private readonly opts: WallboardOptions) {
    this.page = readFileSync(PAGE, 'utf8');
  }

  async start(): Promise<number> {
    if (this.server) return (this.server.address() as { port: number }).port;
    const server = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://wallboard').pathname;
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res
          .writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' })
          .end('method not allowed: GET only\n');
        return;
      }
      if (path === '/' || path === '/index.html') {
        res
          .writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
          .end(this.page);
        return;
      }
      if (path === '/api/snapshot') {
        let body: string;
        try {
          body = JSON.stringify(this.opts.snapshot());
        } catch (e) {
          res
            .writeHead(500, { 'content-type': 'text/plain' })
            .end(`snapshot failed: ${(e as Error).message}\n`);
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(body);
        return;
      }
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: ${path}\n`);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.host, () => resolve());
    });
    this.server = server;
    return (server.address() as { port: number }).port;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
