/**
 * The site's media engine port (docs/sip.md "Media engine"): what the SIP adapter asks of
 * the RTP side, by endpoint (one RTP socket per call leg): open one, point it at the far end
 * the SDP agreed, play prompts (barge-in on a digit), hold with music and a fresh
 * announcement, bridge two legs, record, close. Digits, silent far ends, recordings written
 * at stop and the engine's own death arrive as events.
 *
 * The port and the engine live in shared/media/engine/ (the access gateway may play prompts
 * too); this file is where the site takes them from. A site runs one engine in a worker
 * thread, so that packets are paced and forwarded off the thread that runs the calls;
 * rtpengine could stand behind the same port later.
 */
import type { Logger } from '../../shared/log.js';
import type { MediaEngine, MediaEngineConfig } from '../../shared/media/engine/port.js';
import { WorkerMediaEngine } from '../../shared/media/engine/worker-engine.js';

export type {
  HoldOptions,
  MediaEngine,
  MediaEngineConfig,
  MediaEngineStats,
  MediaEvent,
  OpenedEndpoint,
  PlayOptions,
  PlayOutcome,
  PromptPiece,
  RecordingResult,
} from '../../shared/media/engine/port.js';

/**
 * The site's engine, in its worker. Rejects (`invalid-argument`) on a config it refuses. Watch
 * for the `failed` event: the site's media is gone with the worker, and it must stop taking calls.
 */
export const startMediaEngine = (config: MediaEngineConfig, log: Logger): Promise<MediaEngine> =>
  WorkerMediaEngine.start(config, log.child({ component: 'media-engine' }));
