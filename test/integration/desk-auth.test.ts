/**
 * A real site's agent desk is authenticated (issue 10, finding 1): it speaks TLS with the
 * site's certificate, or plaintext only on loopback when asked; nobody anonymous is served;
 * supervisors act on their teams and each action is in the site's desk audit; the operator's
 * CLI sets the first password, audited; refusals are logged. Before, the example site served
 * its desk in plaintext to anybody and started on 0.0.0.0 without a word.
 */
import { afterAll, beforeAll, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import type { DomainError } from '../../shared/errors.js';
import { mtlsClientCredentials, tlsClientCredentials } from '../../shared/grpc/tls.js';
import { createLogger, silentLogger } from '../../shared/log.js';
import { createPool } from '../../shared/pg/pool.js';
import { RealScheduler } from '../../shared/scheduler.js';
import { PgLedgerBankHost } from '../../shared/bank-host/pg-ledger.js';
import { compileSiteConfig } from '../../site-node/config.js';
import { GrpcAgentDesk } from '../../site-node/cti/grpc-desk-client.js';
import { testPassword } from '../../site-node/cti/testing.js';
import { Site } from '../../site-node/runtime/site.js';
import { SimMedia } from '../../site-node/sim/sim-media.js';
import { readDeskAudit } from '../../site-node/store/desk-auth-repo.js';
import { startExampleSite, type ExampleSite } from '../support/example-site.js';
import { waitFor } from '../support/wait.js';
import { makeTestPki, type TestPki } from '../support/pki.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const EXAMPLE = join(ROOT, 'deploy/examples/site-chongqing.yaml');

async function refused(p: Promise<unknown>): Promise<DomainError> {
  return p.then(
    () => assert.fail('must be refused'),
    (e: unknown) => e as DomainError,
  );
}

describe('the desk refuses to start unsafely', () => {
  function siteWith(cti: Record<string, unknown>, insecureLoopback: boolean): () => Site {
    const doc = parseYaml(readFileSync(EXAMPLE, 'utf8')) as Record<string, unknown>;
    doc.cti = cti;
    const config = compileSiteConfig(doc, dirname(EXAMPLE), 'site');
    // No connection is opened before start(): the refusal comes first.
    const pool = createPool('postgres://nobody@127.0.0.1:1/none', { applicationName: 'test/desk-auth' });
    const scheduler = new RealScheduler({ speed: 1 });
    return () =>
      new Site({
        config,
        pool,
        databaseUrl: 'postgres://nobody@127.0.0.1:1/none',
        scheduler,
        media: new SimMedia(scheduler, () => undefined),
        bank: new PgLedgerBankHost(pool),
        log: silentLogger,
        insecureLoopback,
      });
  }

  test('without cti.tls and without --insecure-loopback: refused, naming cti.tls and the fix', () => {
    assert.throws(siteWith({ host: '127.0.0.1', port: 0 }, false), (e: DomainError) => {
      assert.equal(e.field, 'cti.tls');
      assert.match(e.message, /cti\.tls.*deploy\/pki\.sh.*--insecure-loopback/s);
      return true;
    });
  });

  test('--insecure-loopback on a non-loopback address (0.0.0.0, a LAN address): refused, naming cti.host', () => {
    for (const host of ['0.0.0.0', '10.1.2.3', '::']) {
      assert.throws(siteWith({ host, port: 0 }, true), (e: DomainError) => {
        assert.equal(e.field, 'cti.host');
        assert.match(
          e.message,
          new RegExp(`cti\\.host: "${host.replace(/\./g, '\\.')}" is not a loopback address`),
        );
        return true;
      });
    }
    siteWith({ host: '127.0.0.1', port: 0 }, true)();
  });
});

describe('a site with a TLS desk', () => {
  let pki: TestPki;
  let ex: ExampleSite;
  const lines: string[] = [];
  const clients: GrpcAgentDesk[] = [];

  beforeAll(async () => {
    pki = makeTestPki([
      ['site', 'chongqing'],
      ['agent', 'a06'],
    ]);
    const p = pki.paths('site', 'chongqing');
    ex = await startExampleSite({
      label: 'desk-auth',
      tls: { ca: p.caPath, cert: p.certPath, key: p.keyPath },
      // a06 signs in with its certificate: this site accepts agent certificates (off by default).
      edit: (doc) => {
        (doc.cti as Record<string, unknown>).auth = { agentCertificates: true };
      },
      log: createLogger({}, { level: 'info', write: (l) => lines.push(l) }),
    });
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await ex?.close();
    pki?.cleanup();
  });

  function tlsDesk(password?: (id: string) => string | undefined): GrpcAgentDesk {
    const d = new GrpcAgentDesk({
      address: `127.0.0.1:${ex.site.ctiPort}`,
      deadlineMs: 5000,
      credentials: tlsClientCredentials(pki.material('site', 'chongqing').ca, {
        expectServer: { kind: 'site', id: 'chongqing' },
      }),
      ...(password ? { password } : {}),
    });
    clients.push(d);
    return d;
  }

  test('an anonymous desk is refused and changes nothing; the refusal is logged with peer and method', async () => {
    const anon = tlsDesk();
    for (const p of [
      () => anon.login('a01'),
      () => anon.setNotReady('a02', 'break'),
      () => anon.agent('a03'),
    ]) {
      assert.equal((await refused(p())).kind, 'unauthenticated');
    }
    assert.equal(ex.site.engine.agent('a01')?.state ?? 'logged-out', 'logged-out');
    const refusal = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.msg === 'rpc refused');
    assert.ok(refusal, 'logged');
    assert.equal(refusal.who, 'anonymous');
    assert.equal(refusal.peer, '127.0.0.1');
    assert.equal(refusal.method, 'AgentDesk.Login');
  });

  test('an agent signs in over TLS; another uses its certificate; neither can act for the other', async () => {
    const a01 = tlsDesk(testPassword);
    assert.equal((await a01.login('a01')).state, 'not-ready');
    const a06 = new GrpcAgentDesk({
      address: `127.0.0.1:${ex.site.ctiPort}`,
      credentials: mtlsClientCredentials(pki.material('agent', 'a06'), {
        expectServer: { kind: 'site', id: 'chongqing' },
      }),
    });
    clients.push(a06);
    assert.equal((await a06.login('a06')).state, 'not-ready');
    const e = await refused(a06.logout('a01'));
    assert.equal(e.kind, 'permission-denied');
    assert.equal(e.field, 'agent_id');
    assert.equal(ex.site.engine.agent('a01')?.state, 'not-ready', 'a01 is untouched');
    await a06.logout('a06');
  });

  test('a supervisor forces a team member not-ready and out, audited in the database; outside its team refused', async () => {
    const agent = tlsDesk(testPassword);
    await agent.login('a02');
    await agent.setReady('a02');
    const sup = tlsDesk();
    assert.equal((await sup.signIn('s01', testPassword('s01'))).role, 'supervisor');
    assert.ok(
      (await sup.listTeam('s01')).some((m) => m.agent.agentId === 'a02' && m.agent.state === 'ready'),
    );
    await sup.forceNotReady('s01', 'a02', 'meeting', 'team meeting at 10');
    assert.equal(ex.site.engine.agent('a02')?.state, 'not-ready');
    await sup.forceLogout('s01', 'a02', 'shift over');
    assert.equal(ex.site.engine.agent('a02')?.state, 'logged-out');

    // a08 leads the corporate team only: a01 is not in it.
    const lead = tlsDesk();
    await lead.signIn('a08', testPassword('a08'));
    const e = await refused(lead.forceLogout('a08', 'a01', 'not mine'));
    assert.equal(e.kind, 'permission-denied');
    assert.equal(ex.site.engine.agent('a01')?.state, 'not-ready');

    const audit = (await readDeskAudit(ex.pool, 'a02')).filter((r) => r.action !== 'set-password');
    assert.deepEqual(
      audit.map((r) => [r.actor, r.action, r.target, r.detail.reason]),
      [
        ['s01', 'force-not-ready', 'a02', 'team meeting at 10'],
        ['s01', 'force-logout', 'a02', 'shift over'],
      ],
    );
    assert.equal((await readDeskAudit(ex.pool, 'a01')).filter((r) => r.action !== 'set-password').length, 0);
  });

  function runSetPassword(
    user: string,
    file: string,
  ): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        [
          '--import',
          'tsx',
          'site-node/admin/set-password.ts',
          '--config',
          EXAMPLE,
          '--user',
          user,
          '--password-file',
          file,
          '--database',
          ex.db.url,
        ],
        { cwd: ROOT, env: { ...process.env, LOG_LEVEL: 'warn' } },
        (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
      );
    });
  }

  test("the operator's CLI sets a password, audited as the operator; the supervisor signs in with it; setting it again ends that session", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'set-password-'));
    try {
      const file = join(dir, 'pw.txt');
      writeFileSync(file, 'first supervisor password\n', { mode: 0o600 });
      const out = await runSetPassword('s01', file);
      assert.equal(out.code, 0, out.stderr);
      assert.match(out.stdout, /the password of s01 at site chongqing is set/);
      assert.ok(
        !out.stdout.includes('first supervisor password') &&
          !out.stderr.includes('first supervisor password'),
      );
      const last = (await readDeskAudit(ex.pool, 's01')).at(-1)!;
      assert.deepEqual([last.actor, last.action], [`operator:${userInfo().username}`, 'set-password']);
      const sup = tlsDesk();
      await refused(sup.signIn('s01', testPassword('s01')));
      assert.equal((await sup.signIn('s01', 'first supervisor password')).role, 'supervisor');
      // The operator's CLI sets it again: the session signed in with the old one ends (the
      // site notices within its sweep, a few seconds), though another process changed it.
      writeFileSync(file, 'second supervisor password\n', { mode: 0o600 });
      const again = await runSetPassword('s01', file);
      assert.equal(again.code, 0, again.stderr);
      await waitFor('the old session ended', async () => {
        const e = await sup.listTeam('s01').then(
          () => undefined,
          (err: unknown) => err as DomainError,
        );
        return e?.kind === 'unauthenticated';
      });

      const unknown = (await runSetPassword('nobody', file)).code;
      assert.equal(unknown, 1, 'an unknown user is refused');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
