import { test } from 'vitest';
import assert from 'node:assert/strict';
import { readDayOrdinalEn, readDigitsEn, readNumberEn } from './spoken-number-en.js';

const en = (text: string) => readNumberEn(text).join(' ');

test('whole numbers', () => {
  assert.equal(en('0'), 'zero');
  assert.equal(en('1'), 'one');
  assert.equal(en('2'), 'two');
  assert.equal(en('10'), 'ten');
  assert.equal(en('23'), 'twenty three');
  assert.equal(en('100'), 'one hundred');
  assert.equal(en('1001'), 'one thousand one');
  assert.equal(en('10000'), 'ten thousand');
  assert.equal(en('1000000'), 'one million');
  assert.equal(en('2000300'), 'two million three hundred');
});

test('amounts: 12,345.60 yuan, negatives', () => {
  assert.equal(en('12345.60'), 'twelve thousand three hundred forty five point six zero');
  assert.equal(en('-0.5'), 'minus zero point five');
});

test('days of the month and digit strings', () => {
  assert.deepEqual(readDayOrdinalEn(2), ['second']);
  assert.deepEqual(readDayOrdinalEn(20), ['twentieth']);
  assert.deepEqual(readDayOrdinalEn(31), ['thirty', 'first']);
  assert.throws(() => readDayOrdinalEn(32), /not a day/);
  assert.equal(readDigitsEn('0912').join(' '), 'zero nine one two');
});

test('bad input', () => {
  assert.throws(() => readNumberEn('1e5'), /not a decimal number/);
  assert.throws(() => readNumberEn('1'.repeat(13)), /too large/);
});
