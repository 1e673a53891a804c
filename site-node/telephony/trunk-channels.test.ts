import { expect, it } from 'vitest';
import { TrunkChannels } from './trunk-channels.js';

it('counts channels per trunk, refuses past maxChannels, and takes each back once', () => {
  const ch = new TrunkChannels();
  const telecom = { name: 'telecom', maxChannels: 2 };
  const unicom = { name: 'unicom', maxChannels: 1 };
  const a = ch.take(telecom)!;
  const b = ch.take(telecom)!;
  expect(ch.take(telecom)).toBeUndefined();
  // Another trunk's channels are its own.
  expect(ch.take(unicom)).toBeTypeOf('function');
  expect(ch.take(unicom)).toBeUndefined();
  a();
  a();
  expect(ch.inUse('telecom')).toBe(1);
  expect(ch.take(telecom)).toBeTypeOf('function');
  b();
  expect(ch.inUse('telecom')).toBe(1);
});
