/**
 * A live page for people watching a node: a small HTTP server that serves one HTML page and
 * the JSON it polls (`GET /api/snapshot`). The site's supervisor wallboard and the hub's
 * province board both use it. Read-only: GET only, nothing on it changes the node. It binds
 * to the configured host (loopback by default).
 */
import { createServer, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface PageServerOptions {
  host: string;
  /** 0 = any free port; start() returns the bound one. */
  port: number;
  /** The HTML page served at `/` (read once, at construction). */
  pagePath: string;
  /** The live view to show; called on every poll. */
  snapshot: () => unknown;
}

/** The stylesheet every page shares (`/board.css`). */
const STYLES = fileURLToPath(new URL('./board.css', import.meta.url));

export class PageServer {
  private server: Server | undefined;
  private readonly page: string;
  private readonly styles: string;

  constructor(private readonly opts: PageServerOptions) {
    this.page = readFileSync(opts.pagePath, 'utf8');
    this.styles = readFileSync(STYLES, 'utf8');
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
      if (path === '/board.css') {
        res.writeHead(200, { 'content-type': 'text/css; charset=utf-8' }).end(this.styles);
        return;
      }
      if (path === '/api/snapshot') {
        Promise.resolve()
          .then(() => this.opts.snapshot())
          .then(
            (snap) =>
              res
                .writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' })
                .end(JSON.stringify(snap)),
            (e: unknown) =>
              res
                .writeHead(500, { 'content-type': 'text/plain' })
                .end(`snapshot failed: ${(e as Error).message}\n`),
          );
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
