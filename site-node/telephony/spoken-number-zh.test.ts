import { test } from 'vitest';
import assert from 'node:assert/strict';
import { readDigitsZh, readNumberZh } from './spoken-number-zh.js';

const zh = (text: string, count = false) => readNumberZh(text, { count }).join('');

test('small numbers, tens and hundreds', () => {
  assert.equal(zh('0'), '零');
  assert.equal(zh('7'), '七');
  assert.equal(zh('10'), '十');
  assert.equal(zh('15'), '十五');
  assert.equal(zh('23'), '二十三');
  assert.equal(zh('100'), '一百');
  assert.equal(zh('110'), '一百一十');
  assert.equal(zh('120'), '一百二十');
  assert.equal(zh('200'), '两百');
});

test('zeros: inside a group read once, trailing zeros of a group silent, a zero group read', () => {
  assert.equal(zh('1001'), '一千零一');
  assert.equal(zh('1010'), '一千零一十');
  assert.equal(zh('10000'), '一万');
  assert.equal(zh('10010'), '一万零一十');
  assert.equal(zh('100000'), '十万');
  assert.equal(zh('10001000'), '一千万一千');
  assert.equal(zh('100001000'), '一亿零一千');
  assert.equal(zh('100010000'), '一亿零一万');
  assert.equal(zh('0012'), '十二');
});

test('2 before 百, 千, 万 and 亿 is 两; a count of 2 is 两; elsewhere 二', () => {
  assert.equal(zh('2'), '二');
  assert.equal(zh('2', true), '两');
  assert.equal(zh('12', true), '十二');
  assert.equal(zh('2000'), '两千');
  assert.equal(zh('20000'), '两万');
  assert.equal(zh('220000'), '二十二万');
  assert.equal(zh('200000000'), '两亿');
});

test('amounts: 12,345.60 yuan, negatives', () => {
  assert.equal(zh('12345.60'), '一万两千三百四十五点六零');
  assert.equal(zh('0.05'), '零点零五');
  assert.equal(zh('-3.5'), '负三点五');
  assert.deepEqual(readNumberZh('10.50'), ['十', '点', '五', '零']);
});

test('queue positions 1, 2, 23 as counts', () => {
  assert.equal(zh('1', true), '一');
  assert.equal(zh('2', true), '两');
  assert.equal(zh('23', true), '二十三');
});

test('digit strings and bad input', () => {
  assert.equal(readDigitsZh('1001').join(''), '一零零一');
  assert.throws(() => readNumberZh('12,345'), /not a decimal number/);
  assert.throws(() => readNumberZh('1'.repeat(17)), /too large/);
});
