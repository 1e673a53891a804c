import { describe, expect, it } from 'vitest';
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

  it('is well-formed SVG with a title naming the scenario', () => {
    expect(root.name).toBe('svg');
    expect(root.attrs.xmlns).toBe('http://www.w3.org/2000/svg');
    expect(els.find((e) => e.name === 'title')!.text).toContain('small &lt;test&gt; &amp; co');
  });

  it("draws one line per site and run, federation off and on, from the summary's hours", () => {
    const paths = els.filter((e) => e.name === 'path');
    expect(paths.map((p) => `${p.attrs['data-run']}:${p.attrs['data-site']}`).sort()).toEqual([
      'off:busy',
      'off:helper',
      'on:busy',
      'on:helper',
    ]);
    // Calls arrive 09:00-12:00 only: three points per line, the rest of the day a gap.
    for (const p of paths) expect(p.attrs.d!.match(/[ML]/g)).toEqual(['M', 'L', 'L']);
    const texts = els.filter((e) => e.name === 'text').map((e) => e.text);
    expect(texts).toEqual(
      expect.arrayContaining(['Federation off', 'Federation on', '09:00', '100%', 'service level']),
    );
    expect(texts.some((t) => t.startsWith('busy '))).toBe(true);
  });

  it('the reader refuses what is not well-formed', () => {
    expect(() => parseXml('<svg><path></svg>')).toThrow();
    expect(() => parseXml('<svg a="1 & 2"/>')).toThrow();
  });
});
