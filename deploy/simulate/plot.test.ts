import { describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { plotServiceLevel } from './plot.js';
import { runProvince } from './province-run.js';
import { compileScenario } from './scenario.js';
import { summarise } from './summary.js';
import { allElements, parseXml, smallFiles, smallScenario } from './testing.js';

describe('the service-level plot', () => {
  const s = compileScenario(smallScenario(), smallFiles);
  const summary = summarise(s, runProvince(s, false), runProvince(s, true), { offMs: 1, onMs: 1 });
  const svg = plotServiceLevel(summary, 'small <test> & co');
  const root = parseXml(svg);
  const els = allElements(root);

  test('is well-formed SVG with a title naming the scenario', () => {
    assert.equal(root.name, 'svg');
    assert.equal(root.attrs.xmlns, 'http://www.w3.org/2000/svg');
    assert.ok(els.find((e) => e.name === 'title')!.text.includes('small &lt;test&gt; &amp; co'));
  });

  test("draws one line per site and run, federation off and on, from the summary's hours", () => {
    const paths = els.filter((e) => e.name === 'path');
    assert.deepEqual(paths.map((p) => `${p.attrs['data-run']}:${p.attrs['data-site']}`).sort(), [
      'off:busy',
      'off:helper',
      'on:busy',
      'on:helper',
    ]);
    // Calls arrive 09:00-12:00 only: three points per line, the rest of the day a gap.
    for (const p of paths) assert.deepEqual(p.attrs.d!.match(/[ML]/g), ['M', 'L', 'L']);
    const texts = els.filter((e) => e.name === 'text').map((e) => e.text);
    for (const t of ['Federation off', 'Federation on', '09:00', '100%', 'service level']) {
      assert.ok(texts.includes(t), t);
    }
    assert.ok(texts.some((t) => t.startsWith('busy ')));
  });

  test('the reader refuses what is not well-formed', () => {
    assert.throws(() => parseXml('<svg><path></svg>'));
    assert.throws(() => parseXml('<svg a="1 & 2"/>'));
  });
});
