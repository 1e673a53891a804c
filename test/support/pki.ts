/**
 * A throwaway provincial PKI for tests: `deploy/pki.sh` (the real script admins run) makes
 * a CA and one certificate per node in a temporary directory.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NodeKind } from '../../shared/grpc/identity.js';
import { loadTlsMaterial, type TlsMaterial, type TlsPaths } from '../../shared/grpc/tls.js';

const PKI = fileURLToPath(new URL('../../deploy/pki.sh', import.meta.url));

export interface TestPki {
  dir: string;
  paths(kind: NodeKind, id: string): TlsPaths;
  material(kind: NodeKind, id: string): TlsMaterial;
  /** Issue one more node certificate. */
  issue(kind: NodeKind, id: string): void;
  cleanup(): void;
}

export function makeTestPki(nodes: ReadonlyArray<readonly [NodeKind, string]>, dir?: string): TestPki {
  const root = dir ?? mkdtempSync(join(tmpdir(), 'pcc-pki-'));
  const run = (...args: string[]) => execFileSync('bash', [PKI, root, ...args], { encoding: 'utf8' });
  run('ca');
  for (const [kind, id] of nodes) run('node', kind, id);
  const paths = (kind: NodeKind, id: string): TlsPaths => ({
    caPath: join(root, 'ca.crt'),
    certPath: join(root, `${kind}-${id}.crt`),
    keyPath: join(root, `${kind}-${id}.key`),
  });
  return {
    dir: root,
    paths,
    material: (kind, id) => loadTlsMaterial(paths(kind, id)),
    issue: (kind, id) => void run('node', kind, id),
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}
