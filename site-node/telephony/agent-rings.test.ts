import { expect, it } from 'vitest';
import { AgentRings } from './agent-rings.js';

/** A ring the test answers or fails by hand; `started` is reported at once, as the port does. */
function phone() {
  let answer!: (leg: string) => void;
  let fail!: (e: Error) => void;
  const place = (leg: string) => (started: (l: string) => void) => {
    started(leg);
    return new Promise<string>((res, rej) => {
      answer = res;
      fail = rej;
    });
  };
  return { place, answer: (leg: string) => answer(leg), fail: (e: Error) => fail(e) };
}

it('the bridge takes the ring of its caller and agent, and waits for its answer', async () => {
  const hung: string[] = [];
  const rings = new AgentRings<string>((l) => hung.push(l));
  const p = phone();
  const offered = rings.start('caller-1', 'a01', p.place('a01-leg'));
  expect(rings.take('caller-1', 'a02')).toBeUndefined();
  const taken = rings.take('caller-1', 'a01')!;
  p.answer('a01-leg');
  expect(await taken).toBe('a01-leg');
  expect(await offered).toBe('a01-leg');
  rings.settle('caller-1');
  // Settled: stopping the offer now hangs nothing up (the call is the bridge's).
  rings.stop('caller-1');
  expect(hung).toEqual([]);
  expect(rings.size).toBe(0);
});

it('the caller leaves while the bridge waits for the phone: the phone is hung up', () => {
  const hung: string[] = [];
  const rings = new AgentRings<string>((l) => hung.push(l));
  const p = phone();
  void rings.start('caller-1', 'a01', p.place('a01-leg')).catch(() => {});
  expect(rings.take('caller-1', 'a01')).toBeDefined();
  rings.stop('caller-1');
  expect(hung).toEqual(['a01-leg']);
});

it('an offer withdrawn while the phone rings hangs the phone up; answered late, it is hung up again', async () => {
  const hung: string[] = [];
  const rings = new AgentRings<string>((l) => hung.push(l));
  const p = phone();
  const offered = rings.start('caller-1', 'a01', p.place('a01-leg'));
  rings.stop('caller-1');
  expect(hung).toEqual(['a01-leg']);
  expect(rings.take('caller-1', 'a01')).toBeUndefined();
  // The 200 crossed the CANCEL: the answered leg is dropped too.
  p.answer('a01-leg');
  await offered;
  expect(hung).toEqual(['a01-leg', 'a01-leg']);
});

it("a second offer for the same caller stops the first agent's ring; a failed ring is forgotten", async () => {
  const hung: string[] = [];
  const rings = new AgentRings<string>((l) => hung.push(l));
  const first = phone();
  void rings.start('caller-1', 'a01', first.place('a01-leg')).catch(() => {});
  const second = phone();
  const ring2 = rings.start('caller-1', 'a02', second.place('a02-leg'));
  expect(hung).toEqual(['a01-leg']);
  second.fail(new Error('phone-busy'));
  await expect(ring2).rejects.toThrow('phone-busy');
  expect(rings.size).toBe(0);
});
