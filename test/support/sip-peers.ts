/**
 * The SIPp peers of a test against a site over SIP (test/sip/*.test.ts): SIPp runs
 * (test/support/sipp.ts), RTP meters in front of them (test/support/rtp-meter.ts) and phones
 * registering with digest (agent-register.xml), each undone after the test (`cleanup()` in
 * afterEach, or in afterAll for a file of one test).
 */
import assert from 'node:assert/strict';
import { RtpMeter } from './rtp-meter.js';
import { describeSipp, startSipp, type SippOptions, type SippResult, type SippRun } from './sipp.js';

export const LOCAL = '127.0.0.1';

/** SIPp's run ended well, with `calls` successful calls and none failed. */
export function assertAllSucceeded(what: string, r: SippResult, calls: number): void {
  assert.equal(r.code, 0, describeSipp(what, r));
  assert.equal(r.stats?.successful, calls, describeSipp(what, r));
  assert.equal(r.stats.failed, 0, describeSipp(what, r));
}

/** A phone's REGISTER (agent-register.xml) to `remote`, signed with digest. */
export interface PhoneRegistration {
  /** host:port of the registrar. */
  remote: string;
  extension: string;
  password: string;
  realm: string;
  /** Where the phone's SIPp listens: the binding's Contact. */
  contactPort: number;
  /** The binding's lifetime (s); default 300. */
  expires?: number;
}

export class SipPeers {
  private readonly cleanups: Array<() => Promise<unknown>> = [];

  /** `timeoutSec`: how long a SIPp run may last, unless the run says otherwise. */
  constructor(private readonly timeoutSec = 90) {}

  /** Runs what the test's helpers left to undo, last first. */
  async cleanup(): Promise<void> {
    for (const c of this.cleanups.splice(0).reverse()) await c();
  }

  /** Something to undo after the test. */
  later(c: () => Promise<unknown>): void {
    this.cleanups.push(c);
  }

  /** A SIPp run, killed after the test. */
  async sipp(o: SippOptions): Promise<SippRun> {
    const run = await startSipp({ timeoutSec: this.timeoutSec, ...o });
    this.later(() => run.dispose());
    return run;
  }

  /** An RTP meter (put it in front of a SIPp's media with `sdp_port` and `target`), closed after. */
  async meter(): Promise<RtpMeter> {
    const m = await RtpMeter.start();
    this.later(() => m.close());
    return m;
  }

  /** Registers the extension with digest; resolves once the registrar said 200. */
  async registerPhone(r: PhoneRegistration): Promise<void> {
    const register = await this.sipp({
      scenario: 'agent-register.xml',
      remote: r.remote,
      calls: 1,
      timeoutSec: 20,
      auth: { username: r.extension, password: r.password },
      // SIPp signs the address it sends to unless told; the registrar checks the digest's uri is
      // the REGISTER's Request-URI (sip:realm).
      extraArgs: ['-auth_uri', r.realm],
      keys: {
        extension: r.extension,
        domain: r.realm,
        contact_port: r.contactPort,
        expires: r.expires ?? 300,
      },
    });
    assertAllSucceeded(`register ${r.extension}`, await register.done, 1);
  }
}
