/**
 * The flags and the output of the operator's phone-credential tool (./sip-ha1.ts), pure so
 * they are tested without a terminal: flags parsed once with errors that name the flag
 * (docs/architecture.md §3.6), and the HA1 lines to paste into the site config.
 */
import { parseArgs } from 'node:util';
import { invalidArgument } from '../../shared/errors.js';
import {
  DIGEST_ALGORITHMS,
  DIGEST_REALM_RE,
  ha1,
  type DigestAlgorithm,
} from '../../shared/sip/digest-hash.js';

export const SIP_HA1_USAGE =
  'usage: sip-ha1 --extension EXT --realm REALM [--algorithm MD5|SHA-256] [--password-file FILE]\n' +
  "  prints the HA1 = H(EXT:REALM:password) of an agent phone's SIP account, for the site config;\n" +
  '  the password is the first line of --password-file or of stdin (asked for, unechoed, on a terminal)';

/** Phones keep the password in their own config, nobody types it daily: it can be long. */
export const SIP_PASSWORD_MIN = 12;
export const SIP_PASSWORD_MAX = 128;

export interface SipHa1Args {
  extension: string;
  realm: string;
  algorithms: readonly DigestAlgorithm[];
  passwordFile: string | undefined;
}

// A ':' in the extension or realm would make `EXT:REALM:password` mean two different accounts.
export const SIP_EXTENSION_RE = /^[A-Za-z0-9._+-]{1,64}$/;

export function parseSipHa1Args(argv: string[]): SipHa1Args {
  let values: Record<string, string | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        extension: { type: 'string' },
        realm: { type: 'string' },
        algorithm: { type: 'string' },
        'password-file': { type: 'string' },
      },
      strict: true,
    }));
  } catch (e) {
    throw invalidArgument('flags', (e as Error).message);
  }
  if (!values.extension)
    throw invalidArgument('--extension', "the phone's extension (its SIP user) is required");
  if (!SIP_EXTENSION_RE.test(values.extension))
    throw invalidArgument('--extension', 'letters, digits and . _ + - only, at most 64');
  if (!values.realm) throw invalidArgument('--realm', "the site's SIP realm is required");
  if (!DIGEST_REALM_RE.test(values.realm))
    throw invalidArgument('--realm', 'letters, digits and . - _ @ only, at most 255');
  let algorithms = DIGEST_ALGORITHMS;
  if (values.algorithm !== undefined) {
    const a = DIGEST_ALGORITHMS.find((x) => x === values.algorithm!.toUpperCase());
    if (!a) throw invalidArgument('--algorithm', `${JSON.stringify(values.algorithm)} is not MD5 or SHA-256`);
    algorithms = [a];
  }
  return {
    extension: values.extension,
    realm: values.realm,
    algorithms,
    passwordFile: values['password-file'],
  };
}

/** Refuses a password the phone's account should not have; never puts it in the message. */
export function checkSipPassword(password: string, from: string): void {
  if (password.length < SIP_PASSWORD_MIN || password.length > SIP_PASSWORD_MAX)
    throw invalidArgument(from, `the password must be ${SIP_PASSWORD_MIN} to ${SIP_PASSWORD_MAX} characters`);
}

/** The lines to print: a comment naming the account, then `<algorithm>: <hex>` per algorithm. */
export const sipHa1Lines = (a: SipHa1Args, password: string): string =>
  [
    `# HA1 of phone ${a.extension} in realm ${a.realm}`,
    ...a.algorithms.map((alg) => `${alg}: ${ha1(alg, a.extension, a.realm, password)}`),
  ].join('\n') + '\n';
