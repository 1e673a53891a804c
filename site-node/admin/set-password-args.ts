/**
 * The flags of the operator's password tool (./set-password.ts), parsed once with errors
 * that name the flag (docs/architecture.md §3.6).
 */
import { parseArgs } from 'node:util';
import { invalidArgument } from '../../shared/errors.js';

export const SET_PASSWORD_USAGE =
  'usage: set-password --config FILE --user ID [--password-file FILE] [--database URL]\n' +
  "  sets a desk user's password in the site's database (audited as done by the operator);\n" +
  '  the password is the first line of --password-file, or of stdin';

export interface SetPasswordArgs {
  config: string;
  user: string;
  passwordFile: string | undefined;
  database: string | undefined;
}

export function parseSetPasswordArgs(argv: string[]): SetPasswordArgs {
  let values: Record<string, string | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        config: { type: 'string' },
        user: { type: 'string' },
        'password-file': { type: 'string' },
        database: { type: 'string' },
      },
      strict: true,
    }));
  } catch (e) {
    throw invalidArgument('flags', (e as Error).message);
  }
  if (!values.config) throw invalidArgument('--config', 'the site config file is required');
  if (!values.user)
    throw invalidArgument('--user', 'the user id (an agent or supervisor of the site) is required');
  return {
    config: values.config,
    user: values.user,
    passwordFile: values['password-file'],
    database: values.database,
  };
}

/** The first line of a password source, without its line end; empty is refused. */
export function firstLine(text: string, from: string): string {
  const line = text.split(/\r?\n/, 1)[0] ?? '';
  if (line.length === 0) throw invalidArgument(from, 'no password on its first line');
  return line;
}
