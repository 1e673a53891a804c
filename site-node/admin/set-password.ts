/**
 * The operator's bootstrap of desk passwords (docs/operations.md §3.2 "Desk users"): set a
 * user's password in the site's database, audited as done by `operator:<OS user>`. The first
 * supervisor's password comes from here; after that supervisors reset their teams' over the
 * desk (SetPassword), but never another supervisor's: that is this CLI's, or the supervisor's
 * own. A running site ends the sessions signed in with the old password within seconds: it
 * compares each session's password version with this table (site-node/cti/desk-auth.ts).
 *
 *   npm run -s site-admin -- --config site.yaml --user s01 < password.txt
 *   npx tsx site-node/admin/set-password.ts --config site.yaml --user s01 --password-file pw.txt
 *
 * Exit status: 0 set, 1 refused (unknown user, a password out of the rule, no database), 2 bad
 * usage. The password never appears in the output or the log.
 */
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { systemClock } from '../../shared/clock.js';
import { createLogger } from '../../shared/log.js';
import { createPool } from '../../shared/pg/pool.js';
import { loadSiteConfig } from '../config.js';
import { DeskRoster } from '../cti/desk-access.js';
import { DeskCredentials } from '../cti/desk-credentials.js';
import { migrateSiteStore } from '../store/context.js';
import { PgDeskCredentialStore } from '../store/desk-auth-repo.js';
import { firstLine, parseSetPasswordArgs, SET_PASSWORD_USAGE } from './set-password-args.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function main(): Promise<number> {
  let args;
  try {
    args = parseSetPasswordArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`set-password: ${(e as Error).message}\n${SET_PASSWORD_USAGE}\n`);
    return 2;
  }
  const config = loadSiteConfig(args.config);
  const databaseUrl = args.database ?? config.databaseUrl ?? process.env.SITE_DATABASE_URL;
  if (!databaseUrl)
    throw new Error('no database: give --database, database.url in the config, or SITE_DATABASE_URL');
  const password = args.passwordFile
    ? firstLine(readFileSync(args.passwordFile, 'utf8'), '--password-file')
    : firstLine(await readStdin(), 'stdin');
  const roster = new DeskRoster({
    agents: config.agents,
    supervisors: config.supervisors,
    teams: config.teams,
  });
  const by = `operator:${userInfo().username}`;
  const pool = createPool(databaseUrl, { applicationName: `site-${config.siteId}/set-password` });
  try {
    await migrateSiteStore(pool);
    await new DeskCredentials(new PgDeskCredentialStore(pool), roster, systemClock).setPassword(
      args.user,
      password,
      by,
    );
  } finally {
    await pool.end();
  }
  createLogger({ site: config.siteId }).info('desk password set', { by, userId: args.user, as: 'operator' });
  process.stdout.write(
    `set-password: the password of ${args.user} at site ${config.siteId} is set (by ${by})\n`,
  );
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`set-password: ${(e as Error).message}\n`);
    process.exit(1);
  },
);
