/**
 * The test corpus of real-world SIP messages (test/sip/corpus/*.sip, see its README): each
 * file is written with LF line ends for reading and review, and read back with every LF as
 * CRLF, which is what goes on the wire.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const CORPUS = fileURLToPath(new URL('../../test/sip/corpus/', import.meta.url));

export const corpusNames = (): string[] =>
  readdirSync(CORPUS)
    .filter((f) => f.endsWith('.sip'))
    .sort();

export function corpusMessage(name: string): Buffer {
  const raw = readFileSync(CORPUS + name);
  const out: number[] = [];
  for (const b of raw) {
    if (b === 0x0a) out.push(0x0d);
    out.push(b);
  }
  return Buffer.from(out);
}

/** Text to wire bytes, LF as CRLF, for messages written inline in tests. */
export const wire = (text: string): Buffer => Buffer.from(text.replace(/\n/g, '\r\n'), 'utf8');
