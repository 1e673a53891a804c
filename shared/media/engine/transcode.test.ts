import alawmulaw from 'alawmulaw';
import fc from 'fast-check';
import { expect, test } from 'vitest';
import { transcodeInPlace, transcoded } from './transcode.js';

test('A-law to µ-law and back is what decoding and encoding would give, byte for byte', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 1, maxLength: 400 }), (alaw) => {
      const mulaw = transcoded(alaw, 'PCMA', 'PCMU');
      expect(mulaw).toEqual(alawmulaw.mulaw.encode(alawmulaw.alaw.decode(alaw)));
      expect(transcoded(mulaw, 'PCMU', 'PCMA')).toEqual(alawmulaw.alaw.encode(alawmulaw.mulaw.decode(mulaw)));
      expect(transcoded(alaw, 'PCMA', 'PCMA')).toEqual(alaw);
    }),
  );
});

test('in place touches only the range it is given', () => {
  const b = new Uint8Array([1, 2, 3, 4]);
  transcodeInPlace(b, 1, 3, 'PCMU', 'PCMA');
  expect([b[0], b[3]]).toEqual([1, 4]);
  expect(b.subarray(1, 3)).toEqual(alawmulaw.alaw.encode(alawmulaw.mulaw.decode(new Uint8Array([2, 3]))));
});
