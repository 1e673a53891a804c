/**
 * A TCP relay on loopback whose open connections can be frozen: bytes are dropped both ways and
 * nothing is closed, as on a half-open link (a cable cut behind a router), so each end finds
 * out only by its own heartbeats. Connections opened after a freeze go through. In-process and
 * without toxiproxy, for the link-liveness test and bench.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface Relay {
  port: number;
  freeze(): void;
  close(): Promise<void>;
}

/** A TCP relay to `targetPort` whose open connections can be frozen (silent, not closed). */
export async function relayTo(targetPort: number): Promise<Relay> {
  const pairs = new Set<{ a: Socket; b: Socket; frozen: boolean }>();
  const server: Server = createServer((a) => {
    const b = connect(targetPort, '127.0.0.1');
    const pair = { a, b, frozen: false };
    pairs.add(pair);
    a.on('data', (d) => void (pair.frozen || b.write(d)));
    b.on('data', (d) => void (pair.frozen || a.write(d)));
    const end = () => {
      pairs.delete(pair);
      a.destroy();
      b.destroy();
    };
    // A frozen pair stays open: the ends only find out by their own timers.
    a.on('close', () => pair.frozen || end());
    b.on('close', () => pair.frozen || end());
    a.on('error', () => undefined);
    b.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    freeze: () => {
      for (const p of pairs) p.frozen = true;
    },
    close: async () => {
      for (const p of pairs) {
        p.a.destroy();
        p.b.destroy();
      }
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
