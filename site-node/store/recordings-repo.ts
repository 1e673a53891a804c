/**
 * Call recordings in the site store (migration 012, docs/sip.md "Call recording"): a row when a
 * call's recording starts, and its end: `saved` with the WAV's path, length and size, written
 * only once the file is (the media port's `saved` resolved), or `failed` with why. The CDR read
 * (calls-repo.ts getCdr) carries it as `recording`.
 *
 * Each write is idempotent (the durable writes run a write again after a blip): a second start
 * changes nothing, and an end lands only on a recording still running, so a late `failed`
 * never overwrites a `saved`.
 */
import { invalidArgument } from '../../shared/errors.js';
import { query, type Queryable } from '../../shared/pg/pool.js';
import { ts, type StoreContext } from './context.js';

export type RecordingState = 'recording' | 'saved' | 'failed';

/** A call's recording as the CDR shows it. */
export interface CallRecordingRecord {
  state: RecordingState;
  /** Why the flow asked for it: `node:<id>` or `queue:<id>`. */
  reason: string;
  startedAtMs: number;
  endedAtMs?: number;
  /** Only when saved: the WAV, its length and its size. */
  path?: string;
  durationMs?: number;
  bytes?: number;
  /** Only when failed. */
  error?: string;
}

export type RecordingEnd =
  { state: 'saved'; path: string; durationMs: number; bytes: number } | { state: 'failed'; error: string };

/** The recording began (the time is the store context's clock: when the fact happened). */
export async function recordingStarted(
  ctx: StoreContext,
  r: { callId: string; reason: string },
): Promise<void> {
  if (!r.reason) throw invalidArgument('reason', 'a recording says why the call is recorded');
  await query(
    ctx.pool,
    `INSERT INTO call_recordings (call_id, state, reason, started_at) VALUES ($1, 'recording', $2, $3)
     ON CONFLICT (call_id) DO NOTHING`,
    [r.callId, r.reason, ts(ctx.clock.now())],
  );
}

/**
 * The recording ended: saved (its file is written) or failed. True when it landed; false when
 * the recording had ended already (a write run twice) or never started here.
 */
export async function recordingEnded(ctx: StoreContext, callId: string, end: RecordingEnd): Promise<boolean> {
  if (end.state === 'saved') {
    if (!end.path) throw invalidArgument('path', 'a saved recording names its file');
    if (!(end.durationMs >= 0))
      throw invalidArgument('durationMs', `must be 0 or more, got ${end.durationMs}`);
    if (!(end.bytes > 0)) throw invalidArgument('bytes', `a written WAV has bytes, got ${end.bytes}`);
  } else if (!end.error) throw invalidArgument('error', 'a failed recording says why');
  const r = await query(
    ctx.pool,
    `UPDATE call_recordings SET state = $2, ended_at = $3, path = $4, duration_ms = $5, bytes = $6, error = $7
      WHERE call_id = $1 AND state = 'recording'`,
    [
      callId,
      end.state,
      ts(ctx.clock.now()),
      end.state === 'saved' ? end.path : null,
      end.state === 'saved' ? end.durationMs : null,
      end.state === 'saved' ? end.bytes : null,
      end.state === 'failed' ? end.error : null,
    ],
  );
  return (r.rowCount ?? 0) === 1;
}

/**
 * At start (recovery.ts): recordings the last run left running were in its memory and are
 * gone; each is `failed` with `why`. Returns their calls.
 */
export async function failOpenRecordings(ctx: StoreContext, why: string): Promise<string[]> {
  const r = await query<{ call_id: string }>(
    ctx.pool,
    `UPDATE call_recordings SET state = 'failed', ended_at = $1, error = $2 WHERE state = 'recording'
     RETURNING call_id`,
    [ts(ctx.clock.now()), why],
  );
  return r.rows.map((x) => x.call_id).sort();
}

export interface RecordingRow {
  state: RecordingState;
  reason: string;
  started_at: Date;
  ended_at: Date | null;
  path: string | null;
  duration_ms: string | null;
  bytes: string | null;
  error: string | null;
}

export function toRecording(x: RecordingRow): CallRecordingRecord {
  return {
    state: x.state,
    reason: x.reason,
    startedAtMs: x.started_at.getTime(),
    ...(x.ended_at ? { endedAtMs: x.ended_at.getTime() } : {}),
    ...(x.path !== null ? { path: x.path } : {}),
    ...(x.duration_ms !== null ? { durationMs: Number(x.duration_ms) } : {}),
    ...(x.bytes !== null ? { bytes: Number(x.bytes) } : {}),
    ...(x.error !== null ? { error: x.error } : {}),
  };
}

export async function getRecording(db: Queryable, callId: string): Promise<CallRecordingRecord | undefined> {
  const r = await query<RecordingRow>(db, `SELECT * FROM call_recordings WHERE call_id = $1`, [callId]);
  return r.rows[0] ? toRecording(r.rows[0]) : undefined;
}
