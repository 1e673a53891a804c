/**
 * The worker side of threaded-meter.ts: one RtpMeter (test/support/rtp-meter.ts) in its own
 * thread, driven by messages from the bench's main thread.
 */
import { parentPort } from 'node:worker_threads';
import { RtpMeter } from '../support/rtp-meter.js';
import type { FromMeter, ToMeter } from './threaded-meter.js';

const port = parentPort!;
const meter = await RtpMeter.start();
const send = (m: FromMeter): void => port.postMessage(m);
port.on('message', (m: ToMeter) => {
  if (m.type === 'target') meter.target = m.target;
  else if (m.type === 'summary') send({ type: 'summary', id: m.id, summary: meter.summary() });
  else void meter.close().then(() => send({ type: 'closed' }));
});
send({ type: 'started', port: meter.port });
