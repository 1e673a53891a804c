/**
 * An agent sees whether its desk phone can be rung: the example site with a `sip:` section and
 * the location service on the site's own database. The agent's state over the real gRPC desk
 * says `not-registered`, the phone registers (digest challenge, then credentials), the desk's
 * Events stream is told `registered` at once, and the wallboard's snapshot says the same; an
 * agent without a phone in the config shows none.
 */
import { afterAll, beforeAll, test } from 'vitest';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { startExampleSite, type ExampleSite } from '../support/example-site.js';
import { waitFor } from '../support/wait.js';
import { PgRegistrationStore } from '../../site-node/store/sip-registrations-repo.js';
import { PhoneRegistrar } from '../../site-node/telephony/phone-registrar.js';
import type { DeskEvent } from '../../site-node/cti/agent-desk.js';
import { ha1 } from '../../shared/sip/digest-hash.js';
import { headerValues, type SipRequest } from '../../shared/sip/message.js';
import { parseSipMessage } from '../../shared/sip/parse.js';
import { wire } from '../../shared/sip/testing.js';
import { systemClock } from '../../shared/clock.js';
import { silentLogger } from '../../shared/log.js';

const REALM = 'chongqing.cc.example';
const PASSWORD = 'purple-Tiger-42';
const SOURCE = { transport: 'udp' as const, host: '127.0.0.1', port: 5062 };

let ex: ExampleSite;
let phones: PhoneRegistrar | undefined;

beforeAll(async () => {
  ex = await startExampleSite({
    label: 'desk_phone',
    edit: (doc) => {
      doc.sip = {
        listen: [{ transport: 'udp', host: '127.0.0.1', port: 5060 }],
        publicAddress: '127.0.0.1',
        rtpPorts: { from: 20000, to: 20099 },
        realm: REALM,
        digest: { secretEnv: 'UNUSED_HERE', algorithms: ['MD5'] },
        phones: [{ agent: 'a01', extension: '1001', ha1: { MD5: ha1('MD5', '1001', REALM, PASSWORD) } }],
      };
    },
    // The site asks lazily: the location service opens once the site has migrated its database.
    phones: { phoneState: (agentId) => phones?.phoneState(agentId) ?? 'no-phone' },
  });
  phones = await PhoneRegistrar.open({
    sip: ex.config.sip!,
    secret: Buffer.from('an-integration-test-secret-of-32-chars'),
    store: new PgRegistrationStore(ex.pool),
    clock: systemClock,
    log: silentLogger,
    onPhoneChange: (agentId) => ex.site.desk.phoneChanged(agentId),
  });
});

afterAll(async () => {
  phones?.stop();
  await ex?.close();
});

function register(auth = ''): SipRequest {
  return parseSipMessage(
    wire(
      `REGISTER sip:${REALM} SIP/2.0\n` +
        `Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK${auth.length}\n` +
        `From: <sip:1001@${REALM}>;tag=p1\nTo: <sip:1001@${REALM}>\nCall-ID: desk-phone-1\n` +
        `CSeq: ${auth ? 2 : 1} REGISTER\nContact: <sip:1001@127.0.0.1:5062>\n${auth}Content-Length: 0\n\n`,
    ),
  ) as SipRequest;
}

test("the agent's desk and the wallboard show whether its phone is registered", async () => {
  const view = await ex.desk.login('a01');
  assert.equal(view.phone, 'not-registered');
  assert.equal((await ex.desk.login('a04')).phone, undefined, 'a04 has no phone in the config');
  const events: DeskEvent[] = [];
  const stop = ex.desk.subscribe('a01', (e) => events.push(e));
  try {
    const challenge = await phones!.handleRegister(register(), SOURCE);
    assert.equal(challenge.status, 401);
    const value = headerValues(challenge, 'WWW-Authenticate')[0]!;
    const field = (n: string) => new RegExp(`${n}="([^"]*)"`).exec(value)![1]!;
    const h = (s: string) => createHash('md5').update(s).digest('hex');
    const uri = `sip:${REALM}`;
    const response = h(
      `${h(`1001:${REALM}:${PASSWORD}`)}:${field('nonce')}:00000001:c0ffee:auth:${h(`REGISTER:${uri}`)}`,
    );
    const auth =
      `Authorization: Digest username="1001",realm="${REALM}",nonce="${field('nonce')}",uri="${uri}",` +
      `response="${response}",algorithm=MD5,cnonce="c0ffee",qop=auth,nc=00000001,opaque="${field('opaque')}"\n`;
    // The stream sends the agent's state first: once it has, the stream is subscribed.
    await waitFor('the desk stream open', () =>
      events.some((e) => e.type === 'state' && e.agent.phone === 'not-registered'),
    );
    assert.equal((await phones!.handleRegister(register(auth), SOURCE)).status, 200);
    await waitFor('the desk told the phone is registered', () =>
      events.some((e) => e.type === 'state' && e.agent.phone === 'registered'),
    );
    assert.equal((await ex.desk.agent('a01')).phone, 'registered');
    const board = ex.site.snapshot().agentBoard;
    assert.equal(board.find((a) => a.agentId === 'a01')!.phone, 'registered');
    assert.equal(board.find((a) => a.agentId === 'a04')!.phone, undefined);
  } finally {
    stop();
  }
});
