/** Flow validation: errors name the flow, the node and the field. */
import { describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { isDomainError } from '../../shared/errors.js';
import { loadPromptCatalogueFile, parseFlow, parsePromptCatalogue, renderPrompt } from './flow.js';
import { PROMPTS_FILE, loadPhoneBanking } from './test-support.js';

const catalogue = loadPromptCatalogueFile(PROMPTS_FILE);

const base = () => ({
  id: 'demo',
  start: 'main_menu',
  nodes: {
    main_menu: {
      kind: 'menu',
      prompt: 'main.menu',
      options: { '1': { next: 'agent' }, '9': { next: 'bye' } },
      onMaxRetries: 'agent',
    } as Record<string, unknown>,
    agent: { kind: 'transfer', queue: 'retail' } as Record<string, unknown>,
    bye: { kind: 'hangup' } as Record<string, unknown>,
  } as Record<string, Record<string, unknown>>,
});

function problems(input: unknown, strict = false): string {
  try {
    parseFlow(input, { catalogue, strict });
  } catch (e) {
    assert.ok(isDomainError(e, 'invalid-argument'), String(e));
    return e.message;
  }
  assert.fail('expected the flow to be refused');
}

describe('flow validation', () => {
  test('the phone-banking flow and its catalogue load cleanly (strict)', () => {
    const { flow } = loadPhoneBanking();
    assert.equal(flow.id, 'phone-banking');
    assert.equal(flow.start, 'greeting');
  });

  test('a valid flow loads with defaults filled in', () => {
    const { flow, warnings } = parseFlow(base(), { catalogue });
    assert.deepEqual(warnings, []);
    assert.equal(flow.settings.bankTimeoutMs, 8000);
    assert.equal(flow.nodes.bye?.kind === 'hangup' && flow.nodes.bye.reason, 'completed');
  });

  test('an unknown target names the node and the field', () => {
    const f = base();
    (f.nodes.main_menu!.options as Record<string, unknown>)['9'] = { next: 'nope' };
    assert.equal(problems(f), 'flow demo: nodes.main_menu.options["9"].next: unknown node "nope"');
  });

  test('shorthand options name the option', () => {
    const f = base();
    (f.nodes.main_menu!.options as Record<string, unknown>)['*'] = 'missing';
    assert.match(problems(f), /nodes\.main_menu\.options\["\*"\]: unknown node "missing"/);
  });

  test('a missing start node', () => {
    assert.match(problems({ ...base(), start: 'welcome' }), /^flow demo: start: unknown node "welcome"/);
  });

  test('a prompt not in the catalogue', () => {
    const f = base();
    f.nodes.main_menu!.prompt = 'main.menuu';
    assert.match(problems(f), /flow demo: nodes\.main_menu\.prompt: unknown prompt "main\.menuu"/);
  });

  test('shape errors name the field: wrong kind, typo key, bad type, PIN variables', () => {
    const f = base();
    f.nodes.agent = { kind: 'teleport' };
    f.nodes.bye = { kind: 'hangup', promt: 'common.goodbye' };
    f.nodes.c = {
      kind: 'collect',
      prompt: 'bill.enter_ref',
      into: 'pin',
      minLength: 'four',
      maxLength: 6,
      next: 'bye',
      onMaxRetries: 'bye',
    };
    const msg = problems(f);
    assert.match(msg, /flow demo: nodes\.agent\.kind: /);
    assert.match(msg, /flow demo: nodes\.bye: .*promt/);
    assert.match(msg, /flow demo: nodes\.c\.into: a PIN is never stored/);
    assert.match(msg, /flow demo: nodes\.c\.minLength: /);
  });

  test('a bank action that needs a verified caller must say where unverified callers go', () => {
    const f = base();
    f.nodes.bal = { kind: 'bank', action: 'balance', next: 'bye', onError: 'bye' };
    (f.nodes.main_menu!.options as Record<string, unknown>)['2'] = 'bal';
    assert.match(problems(f), /nodes\.bal\.onUnverified: required/);
  });

  test('a loop that never waits for the caller is refused', () => {
    const f = base();
    f.nodes.a = { kind: 'play', prompt: 'welcome', next: 'b' };
    f.nodes.b = { kind: 'ticket', ticketKind: 'suggestion', slaMinutes: 5, next: 'a' };
    (f.nodes.main_menu!.options as Record<string, unknown>)['3'] = 'a';
    assert.match(problems(f), /loop without caller input: a -> b -> a/);
  });

  test("a transfer or callback to a queue the site's ACD does not have is refused, naming the field", () => {
    const f = base();
    f.nodes.agent = {
      kind: 'transfer',
      queue: 'retail',
      rules: [{ when: { segment: 'vip' }, queue: 'vip' }],
    };
    f.nodes.cb = { kind: 'callback', queue: 'fx', slaMinutes: 60, next: 'bye' };
    (f.nodes.main_menu!.options as Record<string, unknown>)['8'] = 'cb';
    let message = '';
    try {
      parseFlow(f, { catalogue, queues: ['retail', 'credit-card'] });
    } catch (e) {
      assert.ok(isDomainError(e, 'invalid-argument'), String(e));
      message = e.message;
    }
    assert.match(
      message,
      /nodes\.agent\.rules\[0\]\.queue: unknown queue "vip" \(the site's ACD has retail, credit-card\)/,
    );
    assert.match(message, /nodes\.cb\.queue: unknown queue "fx"/);
    // The same flow against an ACD with those queues, and with no queue list (a flow checked
    // on its own), loads.
    assert.doesNotThrow(() => parseFlow(f, { catalogue, queues: ['retail', 'vip', 'fx'] }));
    assert.doesNotThrow(() => parseFlow(f, { catalogue }));
  });

  test('unreachable nodes are a warning, or an error when strict', () => {
    const f = base();
    f.nodes.orphan = { kind: 'hangup' };
    const { warnings } = parseFlow(f, { catalogue });
    assert.deepEqual(warnings, ['flow demo: nodes.orphan: unreachable from start node "main_menu"']);
    assert.match(problems(f, true), /nodes\.orphan: unreachable/);
  });

  test('several problems are reported at once', () => {
    const f = base();
    f.nodes.main_menu!.onMaxRetries = 'x1';
    f.nodes.main_menu!.timeoutPrompt = 'nope.prompt';
    const msg = problems(f);
    assert.match(msg, /^2 problems:/);
  });

  test('the prompt catalogue is validated and renders variables', () => {
    assert.throws(() => parsePromptCatalogue({ 'Bad Id': { zh: 'x', en: 'y' } }), /prompts\["Bad Id"\]/);
    assert.throws(() => parsePromptCatalogue({ ok: { zh: 'x' } }), /prompts\.ok\.en/);
    assert.equal(
      renderPrompt(catalogue, 'cardloss.stopped', { last4: '1001' }, 'en'),
      'The card ending 1001 is stopped.',
    );
    assert.equal(renderPrompt(catalogue, 'nope'), '[nope]');
  });
});
