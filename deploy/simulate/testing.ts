/**
 * Test helpers for the simulator (only tests import this): a small province to run in a unit
 * test, and a strict little XML reader to hold the SVG plot to being well-formed (the repo has
 * no XML parser, and the plot must not need one to ship).
 */
import type { ReadRelative } from './scenario.js';

/** Two full sites: `busy` overflows retail to `helper` when more than 2 wait or one waits 20 s. */
export const SMALL_TOPOLOGY = `
version: 1
province: test province
hubSite: helper
utcOffsetMinutes: 480
sites:
  - { id: busy, kind: full, city: Busy, endpoints: { cti: 'busy.test:7443', sip: '10.0.0.1:5060' }, capacity: { trunks: 30, agents: 10, ivrPorts: 10 }, queues: [retail, vip] }
  - { id: helper, kind: full, city: Helper, endpoints: { cti: 'helper.test:7443', sip: '10.0.0.2:5060' }, capacity: { trunks: 30, agents: 10, ivrPorts: 10 }, queues: [retail, vip] }
overflow:
  - id: busy-out
    from: busy
    queues: [retail]
    to: [helper]
    when: { waitingOver: 2, oldestWaitOverMs: 20s }
`;

const ACD = {
  wrapUpMs: '10s',
  queues: [
    { id: 'retail', skill: 'retail', maxWaitMs: '5m', onMaxWait: 'callback-offer' },
    { id: 'vip', skill: 'vip', expansion: [{ afterMs: '30s', alsoSkills: ['retail'] }] },
  ],
};

// The tests poke at arbitrary depths of a scenario document, which has no static type.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Doc = Record<string, any>;

/** A scenario document: `busy` has 2 agents for 40 retail calls an hour, `helper` 8 for 20. */
export function smallScenario(): Doc {
  const hours = (n: number): number[] => Array.from({ length: 24 }, (_, h) => (h >= 9 && h < 12 ? n : 0));
  return {
    topology: 'topology.yaml',
    day: '2026-12-02',
    seed: 7,
    sites: {
      busy: {
        acd: ACD,
        arrivals: { byQueue: { retail: hours(40), vip: hours(4) } },
        priorities: { vip: 10 },
        handleTime: { meanMs: '3m', distribution: 'exponential' },
        patience: { meanMs: '90s' },
        roster: [{ name: 'day', from: '08:00', to: '13:00', count: 2, skills: { retail: 4, vip: 4 } }],
      },
      helper: {
        acd: { from: 'site-helper.yaml' },
        arrivals: { byHour: hours(20), share: { retail: 1 } },
        handleTime: { meanMs: '3m', distribution: 'exponential' },
        patience: { meanMs: '90s' },
        roster: [{ name: 'day', from: '08:00', to: '13:00', count: 8, skills: { retail: 4 } }],
      },
    },
  };
}

/** The files the small scenario names. */
export const smallFiles: ReadRelative = (path) => {
  if (path === 'topology.yaml') return SMALL_TOPOLOGY;
  if (path === 'site-helper.yaml') return `site: { id: helper }\nacd: ${JSON.stringify(ACD)}\n`;
  throw Object.assign(new Error(`ENOENT: no such file ${path}`), { code: 'ENOENT' });
};

// ---- a strict XML reader (elements, attributes, text, comments, the declaration) ----

export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

const NAME = /^[A-Za-z_][\w.:-]*/;
const ENTITY = /^&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/;

function checkText(t: string, where: number): void {
  for (let i = t.indexOf('&'); i >= 0; i = t.indexOf('&', i + 1)) {
    if (!ENTITY.test(t.slice(i))) throw new Error(`bad entity at ${where + i}`);
  }
  if (t.includes('<')) throw new Error(`stray < at ${where}`);
}

/** Parse a whole document; throws naming the offset of the first thing that is not well-formed. */
export function parseXml(xml: string): XmlElement {
  let i = 0;
  const skipMisc = (): void => {
    for (;;) {
      while (i < xml.length && /\s/.test(xml[i]!)) i++;
      if (xml.startsWith('<?', i)) i = xml.indexOf('?>', i) + 2;
      else if (xml.startsWith('<!--', i)) i = xml.indexOf('-->', i) + 3;
      else return;
      if (i < 2) throw new Error('unterminated declaration or comment');
    }
  };
  const element = (): XmlElement => {
    if (xml[i] !== '<') throw new Error(`expected < at ${i}`);
    i++;
    const name = NAME.exec(xml.slice(i))?.[0];
    if (!name) throw new Error(`expected a tag name at ${i}`);
    i += name.length;
    const el: XmlElement = { name, attrs: {}, children: [], text: '' };
    for (;;) {
      while (/\s/.test(xml[i] ?? '')) i++;
      if (xml.startsWith('/>', i)) {
        i += 2;
        return el;
      }
      if (xml[i] === '>') {
        i++;
        break;
      }
      const an = NAME.exec(xml.slice(i))?.[0];
      if (!an || xml[i + an.length] !== '=' || xml[i + an.length + 1] !== '"') {
        throw new Error(`bad attribute at ${i} in <${name}>`);
      }
      i += an.length + 2;
      const end = xml.indexOf('"', i);
      if (end < 0) throw new Error(`unterminated attribute ${an} at ${i}`);
      const v = xml.slice(i, end);
      checkText(v, i);
      if (an in el.attrs) throw new Error(`duplicate attribute ${an} in <${name}>`);
      el.attrs[an] = v;
      i = end + 1;
    }
    for (;;) {
      const lt = xml.indexOf('<', i);
      if (lt < 0) throw new Error(`<${name}> is never closed`);
      const t = xml.slice(i, lt);
      checkText(t, i);
      el.text += t;
      i = lt;
      if (xml.startsWith('</', i)) {
        const close = `</${name}>`;
        if (!xml.startsWith(close, i)) throw new Error(`expected ${close} at ${i}`);
        i += close.length;
        return el;
      }
      if (xml.startsWith('<!--', i)) {
        const e = xml.indexOf('-->', i);
        if (e < 0) throw new Error('unterminated comment');
        i = e + 3;
        continue;
      }
      el.children.push(element());
    }
  };
  skipMisc();
  const root = element();
  skipMisc();
  if (i !== xml.length) throw new Error(`content after the root element at ${i}`);
  return root;
}

/** Every element under `el` (itself included), depth first. */
export function allElements(el: XmlElement): XmlElement[] {
  return [el, ...el.children.flatMap(allElements)];
}
