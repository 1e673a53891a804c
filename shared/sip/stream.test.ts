import { describe, expect, test, vi } from 'vitest';
import { SipStreamFramer } from './stream.js';
import type { SipStreamItem } from './stream.js';
import { KEEP_ALIVE, parseSipMessage } from './parse.js';
import { corpusMessage, wire } from './testing.js';
import { serializeSipMessage } from './serialize.js';
import type { SipMessage } from './message.js';

const invite = (() => {
  const m = parseSipMessage(corpusMessage('rfc3261-invite-f1.sip'));
  if (m === KEEP_ALIVE) throw new Error('keep-alive');
  return serializeSipMessage(m);
})();
const bye = corpusMessage('rfc3261-bye-compact.sip');
const messages = (items: SipStreamItem[]): Buffer[] =>
  items.flatMap((i) => (i.kind === 'message' ? [i.bytes] : []));

describe('SipStreamFramer', () => {
  test('a message arriving a byte at a time comes out whole, once', () => {
    const f = new SipStreamFramer();
    const out: SipStreamItem[] = [];
    for (const byte of invite) {
      const r = f.push(Buffer.from([byte]));
      expect(r.close).toBeUndefined();
      out.push(...r.items);
    }
    expect(messages(out)).toEqual([invite]);
    const m = parseSipMessage(messages(out)[0]!, 'stream') as SipMessage;
    expect(m.body.toString()).toMatch(/^v=0\r\n/);
  });

  test('several messages in one chunk, split wherever the chunks fall', () => {
    const stream = Buffer.concat([invite, bye, invite]);
    for (const cut of [1, 17, invite.length - 3, invite.length, invite.length + 5, stream.length - 1]) {
      const f = new SipStreamFramer();
      const out = [...f.push(stream.subarray(0, cut)).items, ...f.push(stream.subarray(cut)).items];
      expect(messages(out), `cut at ${cut}`).toEqual([invite, bye, invite]);
    }
  });

  test('CRLF CRLF between messages is a ping; a lone CRLF is skipped', () => {
    const f = new SipStreamFramer();
    const r = f.push(
      Buffer.concat([Buffer.from('\r\n\r\n'), bye, Buffer.from('\r\n'), bye, Buffer.from('\r\n')]),
    );
    expect(r.items.map((i) => i.kind)).toEqual(['ping', 'message', 'message']);
    // The trailing CRLF may be half a ping: it waits, and the next bytes decide.
    expect(f.push(Buffer.from('\r\n')).items).toEqual([{ kind: 'ping' }]);
    expect(messages(f.push(Buffer.concat([Buffer.from('\r\n'), bye])).items)).toEqual([bye]);
  });

  test('a folded Content-Length and LF-only line ends still frame', () => {
    const text = 'OPTIONS sip:a@b SIP/2.0\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\nContent-Length:\n  3\n\nabc';
    const f = new SipStreamFramer();
    expect(messages(f.push(Buffer.from(text + text)).items).map((b) => b.toString())).toEqual([text, text]);
  });

  const closes: Array<[string, Buffer, string]> = [
    [
      'no Content-Length',
      wire('OPTIONS sip:a@b SIP/2.0\nVia: SIP/2.0/TCP h\n\n'),
      'Content-Length: missing (required over a stream)',
    ],
    ['a negative one', wire('OPTIONS sip:a@b SIP/2.0\nl: -1\n\n'), 'Content-Length: "-1" is not a length'],
    [
      'two different ones',
      wire('OPTIONS sip:a@b SIP/2.0\nl: 1\nContent-Length: 2\n\nab'),
      'Content-Length: different values 1, 2',
    ],
    [
      'a body over the bound',
      wire('OPTIONS sip:a@b SIP/2.0\nl: 2000\n\n'),
      'stream: a message of 2036 bytes is more than the 1024 allowed',
    ],
    [
      'headers without end over the bound',
      Buffer.alloc(1100, 'a'),
      'stream: no end of headers within 1024 bytes',
    ],
  ];
  for (const [what, bytes, message] of closes) {
    test(`closes on ${what}, keeping what was framed before, and stays closed`, () => {
      const f = new SipStreamFramer(1024);
      const r = f.push(Buffer.concat([bye, bytes]));
      expect(messages(r.items)).toEqual([bye]);
      expect(r.close?.message).toBe(message);
      expect(r.close?.disposition).toBe('drop');
      expect(f.push(bye)).toEqual({ items: [], close: r.close });
    });
  }
});

test('a head trickled a byte at a time is scanned once, not again from its start at every byte', () => {
  // A slow peer must cost linear work: 6,000 bytes of short header lines, one byte per push.
  const head = Buffer.from(`OPTIONS sip:a@b SIP/2.0\r\n${'X:a\r\n'.repeat(1200)}`);
  const framer = new SipStreamFramer();
  const searches = vi.spyOn(Buffer.prototype, 'indexOf');
  try {
    for (let i = 0; i < head.length; i++) expect(framer.push(head.subarray(i, i + 1)).items).toEqual([]);
    // One search per push and one per line end; rescanning from the start would be millions.
    expect(searches.mock.calls.length).toBeLessThan(3 * head.length);
  } finally {
    searches.mockRestore();
  }
  const rest = framer.push(Buffer.from('Content-Length: 0\r\n\r\n'));
  expect(rest.items).toHaveLength(1);
  expect(rest.items[0]).toMatchObject({ kind: 'message' });
  expect(framer.partialBytes).toBe(0);
});

test('partialBytes counts a message begun, not the CRLFs between messages', () => {
  const framer = new SipStreamFramer();
  framer.push(Buffer.from('\r\n'));
  expect(framer.partialBytes).toBe(0);
  framer.push(Buffer.from('OPTIONS sip:a@b SIP/2.0\r\n'));
  expect(framer.partialBytes).toBe(25);
});
