/**
 * The parts of a `sip:` URI the site acts on: user, host, port and the `transport`, `lr` and
 * `ob` parameters (docs/sip.md "Dialogs"). Pure. The site speaks SIP over UDP and TCP only, so
 * a `sips:` URI or a transport other than those is not one it can reach: `undefined`, and the
 * caller decides what that means (a Contact not stored, a Route not followed).
 */

export interface SipUri {
  user: string | undefined;
  /** Lower-case; an IPv6 address keeps its brackets. */
  host: string;
  port: number | undefined;
  transport: 'udp' | 'tcp' | undefined;
  /** Loose routing (RFC 3261 §19.1.1). */
  lr: boolean;
  /** Outbound (RFC 5626): reach it over the flow it came from. */
  ob: boolean;
}

const HOSTPORT = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?$/;

/** A URI as written inside `<>` (no display name); URI headers after `?` are ignored. */
export function parseSipUri(uri: string): SipUri | undefined {
  const m = /^sip:(.*)$/i.exec(uri.trim());
  if (!m) return undefined;
  const rest = m[1]!.split('?')[0]!;
  const at = rest.lastIndexOf('@');
  const user = at >= 0 ? rest.slice(0, at) : undefined;
  if (user === '') return undefined;
  const [hostport = '', ...params] = rest.slice(at + 1).split(';');
  const hp = HOSTPORT.exec(hostport);
  if (!hp) return undefined;
  const port = hp[2] === undefined ? undefined : Number(hp[2]);
  if (port !== undefined && (port < 1 || port > 65535)) return undefined;
  let transport: string | undefined;
  let lr = false;
  let ob = false;
  for (const p of params) {
    const [raw = '', value] = p.split('=');
    const name = raw.toLowerCase();
    if (name === 'transport' && value) transport = value.toLowerCase();
    if (name === 'lr') lr = true;
    if (name === 'ob') ob = true;
  }
  if (transport !== undefined && transport !== 'udp' && transport !== 'tcp') return undefined;
  return { user, host: hp[1]!.toLowerCase(), port, transport: transport as SipUri['transport'], lr, ob };
}
