/**
 * The SIPp runner (test/support/sipp.ts): its arguments, the files it reads back, and what it
 * says when SIPp or a scenario is missing or SIPp cannot have the port it was given.
 */
import { afterEach, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { parseSippRtt, parseSippStats, sippArgs, sippBin, startSipp } from '../support/sipp.js';

const HEADER =
  'StartTime;LastResetTime;CurrentTime;ElapsedTime(P);ElapsedTime(C);TargetRate;CurrentCall;TotalCallCreated;' +
  'SuccessfulCall(C);FailedCall(C);FailedMaxUDPRetrans(C);FailedUnexpectedMessage(C);Retransmissions(C);' +
  'OutOfCallMsgs(C);DeadCallMsgs(C);ResponseTimesetup(C);ResponseTimesetupStDev(C);';

describe('SIPp runner', () => {
  const saved = process.env['SIPP_BIN'];
  afterEach(() => {
    if (saved === undefined) delete process.env['SIPP_BIN'];
    else process.env['SIPP_BIN'] = saved;
  });

  test('the statistics CSV: the last row cumulative, the peak of concurrent calls over all rows', () => {
    const csv = [
      HEADER,
      'a;b;c;00:00:01;00:00:01;10;7;7;0;0;0;0;0;0;0;00:00:00:100000;00:00:00:000000;',
      'a;b;c;00:00:01;00:00:02;10;12;15;3;0;0;0;1;0;0;00:00:00:120000;00:00:00:000000;',
      'a;b;c;00:00:01;00:01:05;10;0;20;18;2;1;1;4;1;0;00:00:00:123500;00:00:00:010000;',
      '',
    ].join('\n');
    assert.deepEqual(parseSippStats(csv), {
      created: 20,
      successful: 18,
      failed: 2,
      failedBy: { MaxUDPRetrans: 1, UnexpectedMessage: 1 },
      retransmissions: 4,
      outOfCallMessages: 1,
      deadCallMessages: 0,
      current: 0,
      peakConcurrent: 12,
      meanResponseMs: { setup: 123.5 },
      elapsedSec: 65,
    });
    assert.equal(parseSippStats(HEADER), undefined, 'a header without rows is no statistics');
  });

  test('the response-time CSV: samples by rtd name', () => {
    const csv = 'Date_ms;response_time_ms;rtd_no\n212.001;108;setup\n300.5;12;1\n412.0;97;setup\n\n';
    assert.deepEqual(parseSippRtt(csv), { setup: [108, 97], '1': [12] });
  });

  test('arguments: the scenario from test/sip/scenarios, keys, the media port as sdp_port unless given', () => {
    const args = sippArgs(
      { scenario: 'caller.xml', remote: '127.0.0.1:5060', keys: { dnis: 95533 }, calls: 3 },
      5070,
      6000,
      '/tmp/x',
    );
    assert.match(args[1]!, /test\/sip\/scenarios\/caller\.xml$/);
    const keys = args.flatMap((a, i) => (a === '-key' ? [`${args[i + 1]}=${args[i + 2]}`] : []));
    assert.deepEqual(keys, ['sdp_port=6000', 'dnis=95533']);
    assert.deepEqual(args.slice(args.indexOf('-m'), args.indexOf('-m') + 2), ['-m', '3']);
    const metered = sippArgs({ scenario: 'caller.xml', keys: { sdp_port: 7000 } }, 5070, 6000, '/tmp/x');
    assert.ok(metered.join(' ').includes('-key sdp_port 7000'));
    assert.ok(!metered.join(' ').includes('sdp_port 6000'));
  });

  test('refusals name what is wrong: a missing scenario, a bad key name, SIPp not installed', async () => {
    assert.throws(
      () => sippArgs({ scenario: 'nope.xml' }, 1, 2, '/tmp/x'),
      /scenario .*nope\.xml does not exist/,
    );
    assert.throws(
      () => sippArgs({ scenario: 'caller.xml', keys: { 'a b': 1 } }, 1, 2, '/tmp/x'),
      /SIPp key "a b"/,
    );
    process.env['SIPP_BIN'] = '/nonexistent/sipp';
    assert.throws(
      () => sippBin(),
      /SIPp is not installed at \/nonexistent\/sipp: install the Debian package sip-tester/,
    );
    await assert.rejects(startSipp({ scenario: 'caller.xml' }), /sip-tester/);
  });

  test('a SIP port given and taken: SIPp cannot bind, and the error says so with its exit code', async () => {
    const sock = createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
    try {
      await assert.rejects(
        startSipp({ scenario: 'agent-phone.xml', localPort: sock.address().port, keys: { ring_ms: 0 } }),
        new RegExp(`did not start on 127\\.0\\.0\\.1:${sock.address().port} .*exit 254`, 's'),
      );
    } finally {
      sock.close();
    }
  });
});
