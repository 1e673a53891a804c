/**
 * What a site asks the hub to route (docs/architecture.md §5.8), and the check of it. An
 * overflow request names the policy it is under, a cover request the cover entry; both carry
 * the call as the origin sees it. The check runs before anything is decided and reports every
 * problem at once, each naming its field, so a bad request is refused whole and decides
 * nothing (the adapter logs the refusal with the site that sent it).
 */
import { throwInvalid } from '../../shared/validate.js';
import { DEFAULT_MAX_SNAPSHOT_AGE_MS } from './site-view.js';

export interface MoveRequest {
  /** The site that holds the call and asks. */
  originSiteId: string;
  callId: string;
  queueId: string;
  /** The call's priority in its queue (carried for the target; routing does not rank by it). */
  priority: number;
  /** How long the caller has waited so far (the target keeps it: docs/architecture.md §5.8). */
  waitedMs: number;
  /** How much longer the caller is expected to wait before hanging up; null = unknown. */
  remainingPatienceMs: number | null;
  /** Every site the call has been at, the origin included or not. */
  visitedSiteIds: readonly string[];
}

export interface OverflowRequest extends MoveRequest {
  policyId: string;
}

export interface CoverRequest extends MoveRequest {
  coverEntryId: string;
}

export interface RoutingOptions {
  /** Snapshots older than this (hub clock, inclusive bound) are not routed on. Default 1000 ms. */
  maxSnapshotAgeMs?: number;
}

const isNonNegative = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;
const isText = (v: unknown): v is string => typeof v === 'string' && v.length > 0;

/**
 * Check the parts every request has, the time and the options, then `more` (the rule id and
 * what it says about the request). Returns the snapshot age bound in force.
 */
export function checkRequest(
  req: MoveRequest,
  nowMs: number,
  options: RoutingOptions,
  more: (problems: string[]) => void,
): number {
  const problems: string[] = [];
  if (!isText(req.originSiteId)) problems.push('request.originSiteId: required: the site that asks');
  if (!isText(req.callId)) problems.push('request.callId: required: the call to move');
  if (!isText(req.queueId)) problems.push('request.queueId: required: the queue the call waits in');
  if (!Number.isInteger(req.priority)) {
    problems.push(`request.priority: must be an integer (got ${String(req.priority)})`);
  }
  if (!isNonNegative(req.waitedMs)) {
    problems.push(`request.waitedMs: must be a number of ms >= 0 (got ${String(req.waitedMs)})`);
  }
  if (req.remainingPatienceMs !== null && !isNonNegative(req.remainingPatienceMs)) {
    problems.push(
      `request.remainingPatienceMs: must be a number of ms >= 0, or null when unknown (got ${String(req.remainingPatienceMs)})`,
    );
  }
  if (!Array.isArray(req.visitedSiteIds) || !req.visitedSiteIds.every(isText)) {
    problems.push('request.visitedSiteIds: must be a list of site ids');
  }
  if (typeof nowMs !== 'number' || !Number.isFinite(nowMs)) {
    problems.push(`nowMs: must be a finite number of ms (got ${String(nowMs)})`);
  }
  const maxAge = options.maxSnapshotAgeMs ?? DEFAULT_MAX_SNAPSHOT_AGE_MS;
  if (!isNonNegative(maxAge)) {
    problems.push(`options.maxSnapshotAgeMs: must be a number of ms >= 0 (got ${String(maxAge)})`);
  }
  if (problems.length === 0) more(problems);
  if (problems.length > 0) throwInvalid(problems, problems[0]!.slice(0, problems[0]!.indexOf(':')));
  return maxAge;
}

/** Moves the call has made so far: the distinct sites it has been at, other than where it is. */
export function movesSoFar(req: MoveRequest): number {
  return new Set(req.visitedSiteIds.filter((s) => s !== req.originSiteId)).size;
}
