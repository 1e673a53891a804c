/** Flow validation: errors name the flow, the node and the field. */
import { describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDomainError } from '../../shared/errors.js';
import { fileURLToPath } from 'node:url';
import { loadSiteConfig } from '../config.js';
import {
  announcementPrompt,
  flowRecords,
  loadPromptCatalogueFile,
  parseFlow,
  parsePromptCatalogue,
  recordingFields,
  renderPrompt,
} from './flow.js';
import { loadFlow, loadFlowFile } from './load-flow.js';
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

/** Writes a flow file (YAML text as an admin would write it) and returns where. */
function flowFile(yaml: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'flow-')), 'flow.yaml');
  writeFileSync(file, yaml);
  return file;
}

/** The invalid-argument error loading a flow file gives (fails if it loads). */
function fileProblems(file: string): { message: string; field: string | undefined } {
  try {
    loadFlowFile(file, { catalogue });
  } catch (e) {
    assert.ok(isDomainError(e, 'invalid-argument'), String(e));
    return { message: e.message, field: e.field };
  }
  assert.fail('expected the flow file to be refused');
}

const MENU_YAML = (options: string) => `id: demo
start: main_menu
nodes:
  main_menu:
    kind: menu
    prompt: main.menu
    options:
${options}
    onMaxRetries: agent
  agent: { kind: transfer, queue: retail }
  bye: { kind: hangup }
`;

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

  test('a PIN node whose onLocked leads back to it is a loop without caller input', () => {
    // Once locked, entering the node goes straight to onLocked: back in, out again, forever.
    const f = base();
    f.nodes.pin = { kind: 'verify-pin', next: 'agent', onLocked: 'pin', onUnidentified: 'bye' };
    (f.nodes.main_menu!.options as Record<string, unknown>)['2'] = 'pin';
    assert.match(problems(f), /^flow demo: nodes\.pin\.onLocked: loop without caller input: pin -> pin$/);
  });

  test('a bank action whose onError leads back to it is a loop without caller input', () => {
    // An unidentified caller at a bank node that needs no verification (no onUnverified)
    // leaves through onError at once; a host error or timeout does too, with no key pressed.
    const f = base();
    f.nodes.bal = { kind: 'bank', action: 'balance', requiresVerified: false, next: 'bye', onError: 'sorry' };
    f.nodes.sorry = { kind: 'play', prompt: 'common.error', next: 'bal' };
    (f.nodes.main_menu!.options as Record<string, unknown>)['2'] = 'bal';
    assert.match(
      problems(f),
      /^flow demo: nodes\.sorry\.next: loop without caller input: bal -> sorry -> bal$/,
    );
  });

  test('a menu whose retries run out back into itself loops on a silent caller; a key press is no loop', () => {
    const f = base();
    f.nodes.main_menu!.onMaxRetries = 'main_menu';
    assert.match(
      problems(f),
      /^flow demo: nodes\.main_menu\.onMaxRetries: loop without caller input: main_menu -> main_menu$/,
    );
    // Back to the menu on a key press needs the caller every time round: allowed.
    const g = base();
    (g.nodes.main_menu!.options as Record<string, unknown>)['0'] = 'main_menu';
    assert.doesNotThrow(() => parseFlow(g, { catalogue }));
  });

  test("menu keys 0 and '0' are one key: refused at load, naming the node and the field", () => {
    // YAML reads 0 as a number and '0' as a string; both become the key "0", and the later
    // one would silently win.
    const file = flowFile(MENU_YAML(`      0: agent\n      '1': agent\n      '0': bye`));
    const { message, field } = fileProblems(file);
    assert.equal(
      message,
      `flow demo (${file}): nodes.main_menu.options["0"]: keys 0 (line 8) and '0' (line 10) are the same key`,
    );
    assert.equal(field, 'nodes.main_menu.options["0"]');
  });

  test('a key YAML itself refuses as a duplicate names the node and the field', () => {
    const file = flowFile(MENU_YAML(`      '1': agent\n      '1': bye`));
    const { message, field } = fileProblems(file);
    assert.equal(
      message,
      `flow demo (${file}): nodes.main_menu.options["1"]: key '1' is given twice (lines 8 and 9)`,
    );
    assert.equal(field, 'nodes.main_menu.options["1"]');
    // A node given twice, too.
    const twice = flowFile(MENU_YAML(`      '1': agent`) + `  bye: { kind: hangup, reason: twice }\n`);
    assert.match(fileProblems(twice).message, /: nodes\.bye: key bye is given twice \(lines 11 and 12\)$/);
  });

  test("a transfer, callback or bank callbackQueue to a queue the site's ACD does not have is refused, naming the field", () => {
    const f = base();
    f.nodes.agent = {
      kind: 'transfer',
      queue: 'retail',
      rules: [{ when: { segment: 'vip' }, queue: 'vip' }],
    };
    f.nodes.cb = { kind: 'callback', queue: 'fx', slaMinutes: 60, next: 'bye' };
    (f.nodes.main_menu!.options as Record<string, unknown>)['8'] = 'cb';
    f.nodes.move = {
      kind: 'bank',
      action: 'transfer-own-accounts',
      callbackQueue: 'corporate',
      next: 'bye',
      onError: 'agent',
      onUnverified: 'bye',
    };
    (f.nodes.main_menu!.options as Record<string, unknown>)['7'] = 'move';
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
    assert.match(message, /nodes\.move\.callbackQueue: unknown queue "corporate"/);
    // The same flow against an ACD with those queues, and with no queue list (a flow checked
    // on its own), loads.
    assert.doesNotThrow(() => parseFlow(f, { catalogue, queues: ['retail', 'vip', 'fx', 'corporate'] }));
    assert.doesNotThrow(() => parseFlow(f, { catalogue }));
  });

  test('recording: `record` on a node and settings.recordQueues, checked at load naming the field', () => {
    const f = base();
    f.nodes.agent!.record = true;
    const { flow } = parseFlow(
      { ...f, settings: { recordQueues: ['complaints'] } },
      {
        catalogue,
        queues: ['retail', 'complaints'],
      },
    );
    assert.equal(flowRecords(flow), true);
    assert.deepEqual(recordingFields(flow), ['nodes.agent.record', 'settings.recordQueues']);
    assert.equal(flowRecords(parseFlow(base(), { catalogue }).flow), false);

    const bad = base();
    bad.nodes.agent!.record = 'yes';
    assert.match(problems(bad), /^flow demo: nodes\.agent\.record: .*boolean/);
    const queues = { ...base(), settings: { recordQueues: ['complaints', 'nope', 'complaints'] } };
    try {
      parseFlow(queues, { catalogue, queues: ['retail', 'complaints'] });
      assert.fail('expected the flow to be refused');
    } catch (e) {
      assert.ok(isDomainError(e, 'invalid-argument'), String(e));
      assert.match(
        e.message,
        /flow demo: settings\.recordQueues\[1\]: unknown queue "nope" \(the site's ACD has retail, complaints\)/,
      );
      assert.match(e.message, /flow demo: settings\.recordQueues\[2\]: queue "complaints" is listed twice/);
      assert.equal(e.field, 'settings.recordQueues[1]');
    }
    assert.match(
      problems({ ...base(), settings: { recordQueues: 'complaints' } }),
      /^flow demo: settings\.recordQueues: /,
    );
  });

  test('the phone-banking flow records complaints: its complaint ticket node and the complaints queue', () => {
    const { flow } = loadPhoneBanking();
    assert.deepEqual(recordingFields(flow), ['nodes.complaint_ticket.record', 'settings.recordQueues']);
    assert.deepEqual(flow.settings.recordQueues, ['complaints']);
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

  test("the site's own prompts (refusals, the queue's callback offer) must be in the catalogue", () => {
    const without = new Map(catalogue);
    without.delete('acd.callback_option');
    assert.throws(
      () => parseFlow(base(), { catalogue: without }),
      /\(built-in site prompt\): unknown prompt "acd\.callback_option"/,
    );
  });

  test("a queue's fallback announcement without its prompt is refused at load, naming the queue's field", () => {
    const config = loadSiteConfig(
      fileURLToPath(new URL('../../deploy/examples/site-chongqing.yaml', import.meta.url)),
    );
    assert.doesNotThrow(() => loadFlow(config));
    const [q0, ...rest] = config.acd.queues;
    const holiday = { kind: 'announcement' as const, announcement: 'holiday-closed' };
    const bad = { ...config, acd: { ...config.acd, queues: [{ ...q0!, afterHours: holiday }, ...rest] } };
    assert.equal(announcementPrompt('holiday-closed'), 'acd.holiday_closed');
    assert.throws(() => loadFlow(bad), /acd\.queues\[0\]\.afterHours: unknown prompt "acd\.holiday_closed"/);
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
