/**
 * The simulator's picture: service level by hour of arrival per site, federation off and on
 * in two panels side by side on the same axes, one colour per site (a legend under them).
 * Hand-written SVG (no plotting dependency). Each series is one `<path>` with `data-run` and
 * `data-site`, so a test (and a curious admin) can find it; an hour with no calls is a gap.
 */
import type { Summary } from './summary.js';

const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];
const W = 1000;
const H = 480;
const PANEL_W = 420;
const PANEL_H = 300;
const TOP = 70;
const LEFTS = [70, 560];

const esc = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const x = (left: number, hour: number): number => left + (hour / 24) * PANEL_W;
const y = (sl: number): number => TOP + PANEL_H - sl * PANEL_H;
const f1 = (n: number): string => n.toFixed(1);

function series(left: number, values: ReadonlyArray<number | null>): string {
  let d = '';
  let pen = false;
  values.forEach((v, h) => {
    if (v === null) {
      pen = false;
      return;
    }
    // Each hour's level is drawn at the middle of its hour.
    d += `${pen ? 'L' : 'M'}${f1(x(left, h + 0.5))},${f1(y(v))} `;
    pen = true;
  });
  return d.trim();
}

function panel(left: number, heading: string): string {
  const out: string[] = [];
  out.push(
    `<text x="${left + PANEL_W / 2}" y="${TOP - 12}" text-anchor="middle" font-size="15" font-weight="bold">${esc(heading)}</text>`,
  );
  for (let p = 0; p <= 100; p += 20) {
    const yy = f1(y(p / 100));
    out.push(`<line x1="${left}" y1="${yy}" x2="${left + PANEL_W}" y2="${yy}" stroke="#ddd"/>`);
    out.push(
      `<text x="${left - 8}" y="${yy}" text-anchor="end" dominant-baseline="middle" font-size="11">${p}%</text>`,
    );
  }
  for (let h = 0; h <= 24; h += 3) {
    const xx = f1(x(left, h));
    out.push(`<line x1="${xx}" y1="${TOP + PANEL_H}" x2="${xx}" y2="${TOP + PANEL_H + 5}" stroke="#333"/>`);
    out.push(
      `<text x="${xx}" y="${TOP + PANEL_H + 18}" text-anchor="middle" font-size="11">${String(h).padStart(2, '0')}:00</text>`,
    );
  }
  out.push(`<rect x="${left}" y="${TOP}" width="${PANEL_W}" height="${PANEL_H}" fill="none" stroke="#333"/>`);
  out.push(
    `<text x="${left + PANEL_W / 2}" y="${TOP + PANEL_H + 38}" text-anchor="middle" font-size="12">hour of arrival (local time)</text>`,
  );
  out.push(
    `<text x="${left - 48}" y="${TOP + PANEL_H / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 ${left - 48} ${TOP + PANEL_H / 2})">service level</text>`,
  );
  return out.join('\n');
}

/** The SVG document for a summary; `title` names the scenario. */
export function plotServiceLevel(s: Summary, title: string): string {
  const sites = Object.keys(s.off.serviceLevelByHour);
  const T = Math.round(s.serviceLevelThresholdMs / 1000);
  const out: string[] = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">`,
    `<title>${esc(`${title}: service level by hour, federation off and on`)}</title>`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="26" text-anchor="middle" font-size="18" font-weight="bold">${esc(title)} (${esc(s.day)}): service level by hour (answered within ${T} s)</text>`,
  ];
  const runs = [
    ['off', 'Federation off', s.off],
    ['on', 'Federation on', s.on],
  ] as const;
  runs.forEach(([run, heading, r], i) => {
    const left = LEFTS[i]!;
    out.push(panel(left, heading));
    sites.forEach((site, j) => {
      const d = series(left, r.serviceLevelByHour[site] ?? []);
      if (d === '') return;
      out.push(
        `<path data-run="${run}" data-site="${esc(site)}" d="${d}" fill="none" stroke="${COLOURS[j % COLOURS.length]}" stroke-width="2"/>`,
      );
    });
  });
  const ly = TOP + PANEL_H + 66;
  sites.forEach((site, j) => {
    const lx = 70 + j * 160;
    const off = s.off.sites[site]!;
    const on = s.on.sites[site]!;
    const pct = (v: number | null): string => (v === null ? '-' : `${Math.round(v * 100)}%`);
    out.push(
      `<line x1="${lx}" y1="${ly}" x2="${lx + 24}" y2="${ly}" stroke="${COLOURS[j % COLOURS.length]}" stroke-width="3"/>`,
    );
    out.push(
      `<text x="${lx + 30}" y="${ly}" dominant-baseline="middle" font-size="12">${esc(site)} ${pct(off.serviceLevel)} → ${pct(on.serviceLevel)}</text>`,
    );
  });
  out.push(`</svg>`, '');
  return out.join('\n');
}
