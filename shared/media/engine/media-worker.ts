/**
 * The media worker's entry (docs/sip.md "Media engine"), started by worker-engine.ts: the
 * engine served on the parent port (worker-serve.ts). A config the engine refuses ends the
 * worker once the refusal is sent.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createLogger } from '../../log.js';
import { serveMediaEngine } from './worker-serve.js';
import type { WorkerInit } from './worker-protocol.js';

if (!parentPort) throw new Error('media-worker.ts runs as a worker thread (worker-engine.ts starts it)');
const log = createLogger({ component: 'media-engine' });
if (!serveMediaEngine(parentPort, (workerData as WorkerInit).config, log)) process.exit(1);
