import { afterAll, beforeAll, test } from 'vitest';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { PageServer } from './page-server.js';

let server: PageServer;
let base: string;
let polls = 0;

beforeAll(async () => {
  server = new PageServer({
    pagePath: fileURLToPath(new URL('../../site-node/web/wallboard.html', import.meta.url)),
    host: '127.0.0.1',
    port: 0,
    snapshot: () => ({ siteId: 'cq', poll: ++polls }),
  });
  base = `http://127.0.0.1:${await server.start()}`;
});

afterAll(() => server.stop());

test('serves the wallboard page and a fresh snapshot on every poll', async () => {
  const page = await fetch(`${base}/`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type') ?? '', /text\/html/);
  const html = await page.text();
  assert.match(html, /\/api\/snapshot/);
  assert.match(html, /id="queues"/);
  assert.match(html, /href="\/board.css"/);
  const css = await fetch(`${base}/board.css`);
  assert.equal(css.status, 200);
  assert.match(css.headers.get('content-type') ?? '', /text\/css/);
  assert.match(await css.text(), /--panel:/);

  const a = (await (await fetch(`${base}/api/snapshot`)).json()) as { poll: number };
  const b = (await (await fetch(`${base}/api/snapshot`)).json()) as { poll: number };
  assert.equal(b.poll, a.poll + 1);
});

test('is read-only and names what it does not have', async () => {
  const post = await fetch(`${base}/api/snapshot`, { method: 'POST', body: '{}' });
  assert.equal(post.status, 405);
  const missing = await fetch(`${base}/admin`);
  assert.equal(missing.status, 404);
  assert.match(await missing.text(), /not found: \/admin/);
});
