/**
 * The federation contract's version and capabilities (proto/federation.proto), shared by the
 * hub and the site's link so the two sides agree on the words.
 *
 * CONTRACT_VERSION is the version of federation.proto this code speaks. A peer with a HIGHER
 * version is accepted (it only adds fields and messages this side skips); a peer below
 * MIN_CONTRACT_VERSION is refused with FAILED_PRECONDITION naming both versions. Each side
 * only uses capabilities both announced.
 */
import { readFileSync } from 'node:fs';

export const CONTRACT_VERSION = 2;
export const MIN_CONTRACT_VERSION = 1;

export const CAPABILITIES = [
  /** Live queue and agent snapshots on the link. */
  'snapshots',
  /** Outbox events shipped on the link (the embedded single-machine mode; else Kafka). */
  'events-over-link',
  /** The customer change feed pushed on the link. */
  'customer-feed',
  /** Topology versions pushed and acknowledged on the link. */
  'topology',
  /** Contract 2: the overflow protocol's messages on the link (docs/architecture.md §5.9). */
  'overflow',
  /** Contract 2: the hub pushes the active cover entries (docs/architecture.md §5.8). */
  'cover',
] as const;
export type Capability = (typeof CAPABILITIES)[number];

/** The intersection, in our order: what both sides will use. */
export function commonCapabilities(
  theirs: readonly string[],
  ours: readonly string[] = CAPABILITIES,
): string[] {
  const t = new Set(theirs);
  return ours.filter((c) => t.has(c));
}

let cached: string | undefined;
/** This build's software version (package.json), announced in hello/welcome. */
export function softwareVersion(): string {
  if (cached !== undefined) return cached;
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    cached = pkg.version ?? '0.0.0';
  } catch {
    // dist/ layout: package.json is one level further up.
    try {
      const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
        version?: string;
      };
      cached = pkg.version ?? '0.0.0';
    } catch {
      cached = '0.0.0';
    }
  }
  return cached;
}
