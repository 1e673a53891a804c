/**
 * `npm run demo` (deploy/demo/province-demo.ts) runs a whole province and exits by itself: the
 * demo runs as a process, exactly as a user starts it, with `--duration 25 --json`, on its
 * own embedded PostgreSQL (no services needed). The test checks:
 *   - it exits 0 on its own, and stdout is nothing but the JSON summary;
 *   - the summary has the three full sites, each with calls offered and events the hub
 *     ingested; the access city qianjiang had calls carried to its center fuling;
 *   - the hub ingested events and audited roaming reads (customers of one site served at
 *     another), and the province figures come from the hub's ingested call records;
 *   - calls moved between sites: wanzhou, busier than its agents, moved callers out, each
 *     move counted at both ends (out at wanzhou = in at the others), and the summary counts them;
 *   - stderr carried the progress lines and a live line per site, a moves line per site, and a
 *     line for the access city and for the hub.
 *
 * Time: about 5 s for PostgreSQL, then the seeding (two scrypt PIN hashes per customer, hence
 * `--customers 30` instead of the demo's 60: the test checks the wiring, not the scale), 25 s
 * of traffic, ~5 s to stop: under a minute on an idle two-core machine. On a loaded machine
 * the start-up takes several times longer, hence the generous timeout.
 */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ProvinceDemoSummary } from '../../deploy/demo/province-demo.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TIMEOUT_MS = 240_000;

test(
  'npm run demo: a province with traffic, a live line per site, a JSON summary, exit 0',
  { timeout: TIMEOUT_MS + 10_000 },
  async () => {
    const t0 = Date.now();
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'deploy/demo/province-demo.ts',
        '--duration',
        '25',
        '--json',
        '--customers',
        '30',
        '--stats-every',
        '3',
      ],
      {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT_MS);
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    clearTimeout(killer);
    const tail = `\n--- stderr (tail) ---\n${stderr.slice(-3000)}`;
    assert.equal(code, 0, `the demo exits 0 by itself (took ${Date.now() - t0} ms)${tail}`);

    const lines = stdout.trim().split('\n');
    assert.equal(lines.length, 1, `stdout holds only the JSON summary, got:\n${stdout.slice(0, 2000)}`);
    const s = JSON.parse(lines[0]!) as ProvinceDemoSummary;

    assert.deepEqual(
      s.sites.map((x) => x.siteId).sort(),
      ['chongqing', 'fuling', 'wanzhou'],
      'the three full sites of deploy/examples/province.yaml',
    );
    for (const site of s.sites) {
      assert.ok(site.offered > 0, `${site.siteId} offered calls: ${site.offered}`);
      assert.ok(
        site.eventsIngested > 0,
        `${site.siteId}: events ingested at the hub: ${site.eventsIngested}`,
      );
      // Everything shipped reached the hub's Postgres (stop flushes the outbox over the link).
      assert.equal(site.eventsIngested, site.eventsShipped, `${site.siteId}: shipped = ingested`);
    }
    const qianjiang = s.accessCities.find((a) => a.siteId === 'qianjiang');
    assert.ok(qianjiang, 'the access city is in the summary');
    assert.equal(qianjiang.center, 'fuling');
    assert.ok(qianjiang.calls > 0, `qianjiang calls carried to fuling: ${qianjiang.calls}`);

    assert.equal(s.hub.topologyVersion, 1);
    assert.ok(s.hub.eventsIngested > 0, `events ingested: ${s.hub.eventsIngested}`);
    assert.equal(
      s.hub.eventsIngested,
      s.sites.reduce((n, x) => n + x.eventsIngested, 0),
      'the hub ingested events only from the three sites',
    );
    assert.ok(s.hub.roamingReadsAudited > 0, `roaming reads audited: ${s.hub.roamingReadsAudited}`);
    assert.ok(s.province.sites >= 3, `province stats list the sites: ${s.province.sites}`);
    assert.ok(
      s.province.offered > 0,
      `the province's queued calls, from ingested call records: ${s.province.offered}`,
    );

    // Overflow happens: the busy city moved callers, and each move is counted at both ends.
    const wz = s.sites.find((x) => x.siteId === 'wanzhou')!;
    assert.ok(wz.moves.out > 0, `wanzhou moved calls out: ${JSON.stringify(wz.moves)}`);
    assert.equal(
      s.sites.reduce((n, x) => n + x.moves.in, 0),
      s.sites.reduce((n, x) => n + x.moves.out, 0),
      'every call moved out was taken in',
    );
    assert.equal(
      s.moves.overflow + s.moves.cover,
      s.sites.reduce((n, x) => n + x.moves.out, 0),
    );

    for (const line of [
      'starting embedded PostgreSQL',
      'hub up on 127.0.0.1:',
      'site chongqing up',
      'site wanzhou up',
      'site fuling up',
      'fedctl.ts status --hub 127.0.0.1:',
    ]) {
      assert.ok(stderr.includes(line), `progress line "${line}"${tail}`);
    }
    for (const site of ['chongqing', 'wanzhou', 'fuling']) {
      assert.match(
        stderr,
        new RegExp(`^\\[${site} \\d\\d:\\d\\d:\\d\\d\\] live .* \\| hub up v1`, 'm'),
        `a live line for ${site}`,
      );
    }
    for (const site of ['chongqing', 'wanzhou', 'fuling'])
      assert.match(
        stderr,
        new RegExp(`^\\[${site} moves\\] out \\d+.* \\| in \\d+.* \\| not routed \\d+$`, 'm'),
        `a moves line for ${site}`,
      );
    assert.match(stderr, /^\[qianjiang -> fuling\] access city/m, 'a live line for the access city');
    assert.match(
      stderr,
      /^\[hub\] sites up 3\/3, topology v1, events ingested \d+/m,
      'a live line for the hub',
    );
  },
);
