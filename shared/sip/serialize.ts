/**
 * SIP message -> bytes (RFC 3261 §7). Headers go out in the order they are held, as
 * `Name: value` CRLF; Content-Length is always written and always the body's true length
 * (in place of the first Content-Length held, or last when there is none), since over TCP the
 * peer frames by it and a stale one would cut the stream wrong.
 */
import { invalidArgument } from '../errors.js';
import { canonicalHeaderName, SIP_VERSION } from './message.js';
import type { SipMessage } from './message.js';
import { isToken } from './syntax.js';

const CRLF = '\r\n';

export function serializeSipMessage(msg: SipMessage): Buffer {
  const lines: string[] = [
    msg.kind === 'request'
      ? `${checked('method', msg.method)} ${checked('uri', msg.uri)} ${SIP_VERSION}`
      : `${SIP_VERSION} ${status(msg.status)} ${checked('reason', msg.reason)}`,
  ];
  let wroteLength = false;
  for (const h of msg.headers) {
    if (!isToken(h.name))
      throw invalidArgument('headers', `header name ${JSON.stringify(h.name)} is not a token`);
    if (canonicalHeaderName(h.name) === 'Content-Length') {
      if (!wroteLength) lines.push(`Content-Length: ${msg.body.length}`);
      wroteLength = true;
    } else lines.push(`${h.name}: ${checked(h.name, h.value)}`);
  }
  if (!wroteLength) lines.push(`Content-Length: ${msg.body.length}`);
  return Buffer.concat([Buffer.from(lines.join(CRLF) + CRLF + CRLF, 'utf8'), msg.body]);
}

/** A CR or LF inside a value would end the header early and let the text after it forge another. */
function checked(what: string, value: string): string {
  if (/[\r\n]/.test(value)) throw invalidArgument(what, 'contains CR or LF');
  return value;
}

function status(code: number): number {
  if (!Number.isInteger(code) || code < 100 || code > 699)
    throw invalidArgument('status', `${code} is not 100-699`);
  return code;
}
