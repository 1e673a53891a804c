/**
 * Media engine benchmark (issue 12's goal: 300 concurrent calls with RTP through one site on
 * 2 cores, no RTP lost): `npm run -s bench -- media [--pairs 300] [--seconds 10]`.
 *
 * What runs, in this process: the site's media engine in its worker (startMediaEngine), and
 * `--pairs` bridged calls, each a caller and an agent endpoint bridged, one PCMA and one PCMU
 * (so every packet is transcoded). The far ends are raw UDP sockets in this thread, each
 * sending a 20 ms packet by the clock for `--seconds` (one timer for all of them, as the
 * engine does), then the run waits for the last packets to arrive.
 *
 * Result: packets sent and received by the far ends, lost (sent but never forwarded),
 * out-of-order or duplicate arrivals, packets per second through the engine, and the CPU the
 * whole process used (engine worker and the far ends together) in cores.
 */
import dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { createLogger } from '../../shared/log.js';
import { writeRtpHeader } from '../../shared/media/engine/rtp-view.js';
import type { G711Codec } from '../../shared/media/sdp.js';
import { startMediaEngine } from '../../site-node/telephony/media-engine.js';
import { waitFor } from '../support/wait.js';

function parseFlags(args: string[], defaults: Record<string, number>): Record<string, number> {
  const out = { ...defaults };
  for (let i = 0; i < args.length; i += 2) {
    const k = args[i]!.replace(/^--/, '');
    if (!(k in defaults)) throw new Error(`unknown flag --${k}; flags: ${Object.keys(defaults).join(', ')}`);
    out[k] = Number(args[i + 1]);
  }
  return out;
}

interface FarEnd {
  socket: dgram.Socket;
  port: number;
  codec: G711Codec;
  /** Where it sends: its endpoint's local port. */
  to: number;
  ssrc: number;
  seq: number;
  sent: number;
  received: number;
  disorder: number;
  lastSeq: number | null;
}

async function farEnd(codec: G711Codec, ssrc: number): Promise<FarEnd> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  const f: FarEnd = {
    socket,
    port: socket.address().port,
    codec,
    to: 0,
    ssrc,
    seq: 0,
    sent: 0,
    received: 0,
    disorder: 0,
    lastSeq: null,
  };
  socket.on('message', (m) => {
    f.received++;
    const seq = (m[2]! << 8) | m[3]!;
    if (f.lastSeq !== null && seq !== ((f.lastSeq + 1) & 0xffff)) f.disorder++;
    f.lastSeq = seq;
  });
  return f;
}

export async function run(args: string[], progress: (line: string) => void): Promise<unknown> {
  const f = parseFlags(args, { pairs: 300, seconds: 10 });
  const log = createLogger({}, { level: 'warn' });
  const engine = await startMediaEngine(
    { host: '127.0.0.1', portMin: 30000, portMax: 30000 + f.pairs! * 4 + 100, rtpTimeoutMs: 30_000 },
    log,
  );
  const ends: FarEnd[] = [];
  try {
    for (let i = 0; i < f.pairs!; i++) {
      const pair: FarEnd[] = [await farEnd('PCMA', 2 * i + 1), await farEnd('PCMU', 2 * i + 2)];
      const eps = [await engine.open(), await engine.open()];
      for (let k = 0; k < 2; k++) {
        const end = pair[k]!;
        end.to = eps[k]!.localPort;
        await engine.setRemote(eps[k]!.endpointId, {
          remoteAddress: '127.0.0.1',
          remotePort: end.port,
          codec: end.codec,
          payloadType: end.codec === 'PCMA' ? 8 : 0,
          telephoneEventPayloadType: 101,
          direction: 'sendrecv',
          heldByFarEnd: false,
          remotePtimeMs: 20,
        });
      }
      await engine.bridge(eps[0]!.endpointId, eps[1]!.endpointId);
      ends.push(...pair);
    }
    progress(`${f.pairs} bridged pairs up; sending for ${f.seconds} s`);

    const payload = new Uint8Array(160).fill(0x55);
    const start = performance.now();
    const cpu0 = process.cpuUsage();
    let frames = 0;
    const frameCount = Math.round((f.seconds! * 1000) / 20);
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        const due = Math.min(Math.floor((performance.now() - start) / 20), frameCount) - frames;
        for (let n = 0; n < due; n++) {
          for (const e of ends) {
            const pkt = Buffer.allocUnsafe(172);
            writeRtpHeader(pkt, e.codec === 'PCMA' ? 8 : 0, e.seq === 0, e.seq, e.seq * 160, e.ssrc);
            pkt.set(payload, 12);
            e.seq = (e.seq + 1) & 0xffff;
            e.sent++;
            e.socket.send(pkt, e.to, '127.0.0.1');
          }
        }
        frames += Math.max(0, due);
        if (frames >= frameCount) {
          clearInterval(timer);
          resolve();
        }
      }, 20);
    });
    const sendMs = performance.now() - start;
    const sent = ends.reduce((s, e) => s + e.sent, 0);
    const received = (): number => ends.reduce((s, e) => s + e.received, 0);
    // The last packets are in flight: wait until all have come, or nothing more comes.
    let last = -1;
    await waitFor(
      'the last packets',
      () => {
        const now = received();
        const settled = now === sent || now === last;
        last = now;
        return settled;
      },
      10_000,
      250,
    ).catch(() => undefined);
    const cpu = process.cpuUsage(cpu0);
    const wallMs = performance.now() - start;
    const got = received();
    const result = {
      pairs: f.pairs,
      seconds: f.seconds,
      sent,
      received: got,
      lost: sent - got,
      lossPercent: Number((((sent - got) / sent) * 100).toFixed(3)),
      outOfOrderOrGap: ends.reduce((s, e) => s + e.disorder, 0),
      packetsPerSecondThroughEngine: Math.round(got / (sendMs / 1000)),
      cpuCores: Number(((cpu.user + cpu.system) / 1000 / wallMs).toFixed(2)),
      engine: await engine.stats(),
    };
    progress(`lost ${result.lost} of ${sent}; ${result.cpuCores} cores`);
    return { ...result, exitCode: result.lost === 0 ? 0 : 1 };
  } finally {
    for (const e of ends) e.socket.close();
    await engine.stop();
  }
}
