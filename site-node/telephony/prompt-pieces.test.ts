import { test } from 'vitest';
import assert from 'node:assert/strict';
import { DomainError } from '../../shared/errors.js';
import { loadPromptCatalogueFile } from '../ivr/flow.js';
import { PROMPTS_FILE } from '../ivr/test-support.js';
import { type Clip, clipKey, clipsToBuild, planPrompt } from './prompt-pieces.js';

const cat = loadPromptCatalogueFile(PROMPTS_FILE);
/** What a plan says, words and fixed stretches, in one readable string. */
const said = (clips: Clip[], sep: string) => clips.map((c) => c.text).join(sep);

test('a prompt without vars is one clip of its whole text', () => {
  assert.deepEqual(planPrompt(cat, 'welcome', {}, 'zh'), [
    { lang: 'zh', name: 'prompt:welcome', text: '欢迎致电本行客户服务中心。' },
  ]);
});

test('a balance of 12,345.60 yuan in Mandarin and English', () => {
  const vars = { last4: '1001', type: 'current', balance: '12345.60', currency: 'CNY' };
  assert.equal(
    said(planPrompt(cat, 'bank.balance_item', vars, 'zh'), ''),
    '您尾号一零零一的活期账户余额为一万两千三百四十五点六零元', // the closing 。 alone makes no clip
  );
  assert.equal(
    said(planPrompt(cat, 'bank.balance_item', vars, 'en'), ' '),
    'Your current account ending one zero zero one has twelve thousand three hundred forty five point six zero yuan',
  );
  const names = planPrompt(cat, 'bank.balance_item', vars, 'en').map((c) => c.name);
  assert.deepEqual(names.slice(0, 3), [
    'prompt:bank.balance_item#0',
    'word:current',
    'prompt:bank.balance_item#2',
  ]);
});

test('queue positions 1, 2 and 23 and an expected wait', () => {
  const zh = (position: string) => said(planPrompt(cat, 'queue.position', { position }, 'zh'), '');
  assert.equal(zh('1'), '您前面还有一位客户在等候。');
  assert.equal(zh('2'), '您前面还有两位客户在等候。');
  assert.equal(zh('23'), '您前面还有二十三位客户在等候。');
  assert.equal(
    said(planPrompt(cat, 'queue.position', { position: '23' }, 'en'), ' '),
    'Callers ahead of you: twenty three',
  );
  assert.equal(
    said(planPrompt(cat, 'queue.expected_wait', { minutes: '2' }, 'zh'), ''),
    '预计等候时间约两分钟。',
  );
  assert.equal(
    said(planPrompt(cat, 'queue.expected_wait', { minutes: '10' }, 'en'), ' '),
    'The expected wait is about ten minutes.',
  );
});

test('amounts 0, 10, 100, 1001 and 10,000 in a transfer confirmation', () => {
  const zh = (amount: string) =>
    said(planPrompt(cat, 'transfer.done', { amount, ref: 'A7' }, 'zh'), '').replace(
      /^转账成功，金额|，流水号.*$/g,
      '',
    );
  const en = (amount: string) =>
    said(planPrompt(cat, 'transfer.done', { amount, ref: 'A7' }, 'en'), ' ').replace(
      /^Done: | transferred.*$/g,
      '',
    );
  assert.deepEqual(['0', '10', '100', '1001', '10000'].map(zh), ['零', '十', '一百', '一千零一', '一万']);
  assert.deepEqual(['0', '10', '100', '1001', '10000'].map(en), [
    'zero',
    'ten',
    'one hundred',
    'one thousand one',
    'ten thousand',
  ]);
  assert.equal(
    said(planPrompt(cat, 'transfer.done', { amount: '1', ref: 'tkt-07' }, 'en'), ' ').slice(-16),
    'T K T zero seven',
  );
});

test('dates and currencies without a word of their own', () => {
  const vars = { date: '2026-12-02', kind: 'transfer', amount: '-50.00', currency: 'CAD' };
  assert.equal(
    said(planPrompt(cat, 'bank.txn_item', vars, 'zh'), ' '),
    '二 零 二 六 年 十 二 月 二 日 转账 ，金额 负 五 十 点 零 零 C A D',
  );
  assert.equal(
    said(planPrompt(cat, 'bank.txn_item', vars, 'en'), ' '),
    'December second two thousand twenty six transfer minus fifty point zero zero C A D',
  );
});

test('bad vars are refused naming the prompt and the var', () => {
  const fails = (id: string, vars: Record<string, string>, field: string, msg: RegExp) =>
    assert.throws(
      () => planPrompt(cat, id, vars, 'zh'),
      (e: unknown) =>
        e instanceof DomainError && e.kind === 'invalid-argument' && e.field === field && msg.test(e.message),
    );
  fails('callback.scheduled', {}, 'callback.scheduled.vars.minutes', /missing/);
  fails('callback.scheduled', { minutes: 'soon' }, 'callback.scheduled.vars.minutes', /not a whole number/);
  fails(
    'bank.txn_item',
    { date: '2026-13-01', kind: 'bill', amount: '1', currency: 'CNY' },
    'bank.txn_item.vars.date',
    /not a date/,
  );
  fails(
    'bill.payee_item',
    { payee: 'casino', key: '1' },
    'bill.payee_item.vars.payee',
    /not one of utility-water/,
  );
  assert.throws(
    () => planPrompt(cat, 'nope', {}, 'en'),
    (e: unknown) => e instanceof DomainError && e.kind === 'not-found',
  );
});

test('the build list holds every clip any plan can name, each once', () => {
  const clips = clipsToBuild(cat);
  const keys = new Set(clips.map(clipKey));
  assert.equal(keys.size, clips.length);
  const plans = [
    planPrompt(
      cat,
      'bank.choose_account_item',
      { key: '9', last4: '2468', type: 'deposit', balance: '98765432.01', currency: 'USD' },
      'zh',
    ),
    planPrompt(
      cat,
      'bank.txn_item',
      { date: '2025-02-21', kind: 'reversal', amount: '200000', currency: 'HKD' },
      'en',
    ),
    planPrompt(cat, 'rates.deposit_item', { months: '12', rate: '1.75' }, 'zh'),
    planPrompt(cat, 'main.menu', {}, 'en'),
  ].flat();
  for (const c of plans) assert.ok(keys.has(clipKey(c)), `${clipKey(c)} is not built`);
});

test('a placeholder with no reading fails the build list', () => {
  const bad = new Map([['x.y', { zh: '请{mystery}', en: 'Please {mystery}' }]]);
  assert.throws(() => clipsToBuild(bad), /placeholder \{mystery\} has no reading/);
});
