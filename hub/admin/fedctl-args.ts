/**
 * fedctl's command line: the commands, their arguments and flags, and the help printed from
 * them. Parsing happens here, before anything connects: help needs no hub or certificate,
 * and a wrong command, flag or argument is named with the usage (exit 2) without a hub
 * being asked.
 */
import { parseArgs } from 'node:util';

/** A usage mistake: exit 2, the message, then `usage` (a command's, or the general one). */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly usage: string = generalUsage(),
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

interface FlagSpec {
  type: 'string' | 'boolean';
  /** What the value looks like in the help (`N`, `1h`); none for a boolean. */
  value?: string;
  help: string;
  /** Applied when the flag is not given (and shown in the help). */
  default?: string | boolean;
}

/** The hub's address and the admin certificate; every command takes them, validate ignores them. */
const CONNECTION = {
  hub: {
    type: 'string',
    value: 'host:port[,host:port]',
    help: "the hubs' admin API, leader and standby in any order (or FEDCTL_HUB)",
  },
  pki: { type: 'string', value: '<dir>', help: 'the directory deploy/pki.sh wrote, with --admin' },
  admin: { type: 'string', value: '<name>', help: "the admin's certificate in it: admin-<name>.crt/.key" },
  ca: { type: 'string', value: '<file>', help: 'or the CA certificate (or FEDCTL_CA)' },
  cert: { type: 'string', value: '<file>', help: 'and the admin certificate (or FEDCTL_CERT)' },
  key: { type: 'string', value: '<file>', help: 'and its key (or FEDCTL_KEY)' },
  'deadline-ms': { type: 'string', value: 'N', help: 'how long one call may take, in ms', default: '10000' },
} satisfies Record<string, FlagSpec>;

const comment = {
  type: 'string',
  value: 'TEXT',
  help: 'why, for the audit trail (a change number)',
  default: '',
} satisfies FlagSpec;
const json = { type: 'boolean', help: "the hub's answer as JSON", default: false } satisfies FlagSpec;

interface CommandSpec {
  /** Its positional argument, if it takes one: `<topology.yaml>`. */
  arg?: string;
  summary: string;
  flags: Record<string, FlagSpec>;
  /** False for the commands that work on a file here, without the hub. */
  hub: boolean;
}

export const COMMANDS = {
  validate: {
    arg: '<topology.yaml>',
    summary: 'check a topology file here, without the hub; every problem listed',
    flags: {},
    hub: false,
  },
  diff: {
    arg: '<topology.yaml>',
    summary: 'what applying it would change against the running version',
    flags: {},
    hub: true,
  },
  apply: {
    arg: '<topology.yaml>',
    summary: 'store it as the next version and push it live',
    flags: { comment },
    hub: true,
  },
  rollback: {
    arg: '<version>',
    summary: 'make an earlier version current again, as a new version',
    flags: { comment },
    hub: true,
  },
  history: {
    summary: 'stored versions: who, when, comment, the diff',
    flags: { limit: { type: 'string', value: 'N', help: 'how many versions, newest first', default: '20' } },
    hub: true,
  },
  status: {
    summary: "each site's link, last heartbeat, topology version and backlog",
    flags: { json },
    hub: true,
  },
  drain: {
    arg: '<site>',
    summary: 'route no overflow or cover to a site (audited, pushed live)',
    flags: { comment },
    hub: true,
  },
  undrain: { arg: '<site>', summary: 'route overflow and cover to it again', flags: { comment }, hub: true },
  stats: {
    summary: 'service level, ASA, abandons, waiting calls and agents, per site and queue',
    flags: {
      // No default here: the hub's own applies (1h and 20s today).
      window: { type: 'string', value: '1h', help: "the period counted, up to now (the hub's default: 1h)" },
      threshold: {
        type: 'string',
        value: '20s',
        help: "answered within it is in service level (the hub's default: 20s)",
      },
      json,
    },
    hub: true,
  },
  'cover start': {
    arg: '<entry-id>',
    summary: 'start an on-demand cover entry of the running topology (audited, pushed live)',
    flags: {
      until: {
        type: 'string',
        value: 'TIME',
        help:
          'stop by itself at TIME: an ISO 8601 instant with its offset (2026-12-02T18:00+08:00, ' +
          "2026-12-02T10:00:00Z) or a duration from now on the hub's clock (+90m, +2h, +1d); default: until stopped",
      },
      comment,
    },
    hub: true,
  },
  'cover stop': {
    arg: '<entry-id>',
    summary: 'stop an active on-demand cover entry (audited, pushed live)',
    flags: { comment },
    hub: true,
  },
  'cover list': {
    summary: 'every cover entry of the running topology: active or not, since, until, by whom',
    flags: { json },
    hub: true,
  },
  reads: {
    summary: 'the customer read audit, newest first',
    flags: {
      customer: { type: 'string', value: 'ID', help: "only this customer's reads" },
      site: { type: 'string', value: 'ID', help: 'only reads made by this site' },
      since: { type: 'string', value: '24h', help: 'only reads this recent (default: all)' },
      limit: { type: 'string', value: 'N', help: 'at most this many', default: '100' },
      json,
    },
    hub: true,
  },
  routes: {
    summary: 'recent overflow and cover routing decisions, newest first, with every verdict',
    flags: {
      site: {
        type: 'string',
        value: 'ID',
        help: 'only decisions where this site was the origin or the target',
      },
      limit: { type: 'string', value: 'N', help: 'at most this many (up to 1000)', default: '20' },
      json,
    },
    hub: true,
  },
} satisfies Record<string, CommandSpec>;

export type CommandName = keyof typeof COMMANDS;

/** The flags given to one command, with its defaults applied; each command reads its own. */
export interface FedctlFlags {
  hub?: string;
  pki?: string;
  admin?: string;
  ca?: string;
  cert?: string;
  key?: string;
  /** Always there: a connection flag with a default. */
  'deadline-ms': string;
  comment?: string;
  limit?: string;
  window?: string;
  threshold?: string;
  customer?: string;
  site?: string;
  since?: string;
  until?: string;
  json?: boolean;
}

export type FedctlArgs =
  { help: string } | { command: CommandName; arg: string | undefined; flags: FedctlFlags };

const isCommand = (c: string | undefined): c is CommandName => c !== undefined && Object.hasOwn(COMMANDS, c);

/** Commands of two words (`cover start`): the group, and its words. */
const GROUPS: Record<string, string[]> = { cover: ['start', 'stop', 'list'] };

/**
 * The positionals with a group's two words joined into one command name (`cover start`). A
 * group without a known second word is an error naming the words it takes.
 */
function joinGroup(positionals: string[], where: 'command' | 'help'): string[] {
  if (where === 'help' && positionals[0] !== 'help') return positionals;
  const at = where === 'help' ? 1 : 0;
  const group = positionals[at];
  if (group === undefined || !Object.hasOwn(GROUPS, group)) return positionals;
  const sub = positionals[at + 1];
  const words = GROUPS[group]!;
  if (sub === undefined || !words.includes(sub)) {
    throw new UsageError(
      `${group}: ${sub === undefined ? 'missing' : `unknown "${sub}"; want`} ${words.join(', ')}`,
      generalUsage(),
    );
  }
  return [...positionals.slice(0, at), `${group} ${sub}`, ...positionals.slice(at + 2)];
}

const flagsOf = (c: CommandName): Record<string, FlagSpec> => COMMANDS[c].flags;

function flagLine(name: string, f: FlagSpec): [string, string] {
  const left = `--${name}${f.value ? ` ${f.value}` : ''}`;
  const dflt =
    f.default === undefined || f.default === '' || f.default === false
      ? ''
      : ` (default ${String(f.default)})`;
  return [left, f.help + dflt];
}

/** Two columns, the second aligned. */
function table(rows: Array<[string, string]>): string {
  const width = Math.max(...rows.map(([l]) => l.length)) + 2;
  return rows.map(([l, r]) => `  ${l.padEnd(width)}${r}`).join('\n');
}

const synopsis = (c: CommandName): string => {
  const spec: CommandSpec = COMMANDS[c];
  const flags = Object.entries(spec.flags).map(([n, f]) => `[--${n}${f.value ? ` ${f.value}` : ''}]`);
  return ['fedctl', c, ...(spec.arg ? [spec.arg] : []), ...flags].join(' ');
};

function generalUsage(): string {
  return [
    'usage: fedctl <command> [argument] [flags]',
    '',
    'commands:',
    table([
      ...Object.entries(COMMANDS).map(([c, s]): [string, string] => [
        `${c}${'arg' in s ? ` ${s.arg}` : ''}`,
        s.summary,
      ]),
      ['help [command]', 'this text, or what a command takes'],
    ]),
    '',
    'connection (every command but validate):',
    table(Object.entries(CONNECTION).map(([n, f]) => flagLine(n, f))),
    '',
    '`fedctl <command> --help` lists its flags. Exit codes: 0 done, 1 refused by the hub or an',
    'invalid file, 2 bad usage.',
  ].join('\n');
}

export function commandUsage(c: CommandName): string {
  const spec: CommandSpec = COMMANDS[c];
  const flags = Object.entries(spec.flags);
  return [
    `usage: ${synopsis(c)}`,
    '',
    spec.summary,
    ...(flags.length ? ['', 'flags:', table(flags.map(([n, f]) => flagLine(n, f)))] : []),
    '',
    spec.hub
      ? 'connection: --hub host:port[,host:port] and --pki <dir> --admin <name> (or --ca --cert --key); see fedctl --help'
      : 'works on the file here: no hub or certificate needed',
  ].join('\n');
}

/** Every flag of every command, for node:util's parseArgs (which command takes which is checked after). */
function parseOptions() {
  const all: Record<string, FlagSpec> = { ...CONNECTION };
  for (const c of Object.keys(COMMANDS) as CommandName[]) Object.assign(all, flagsOf(c));
  return Object.fromEntries([
    ['help', { type: 'boolean', short: 'h' }],
    ...Object.entries(all).map(([n, f]) => [n, { type: f.type }]),
  ]) as Record<string, { type: 'string' | 'boolean'; short?: string }>;
}

/** Parses fedctl's argv; throws UsageError naming what is wrong. */
export function parseFedctlArgs(argv: string[]): FedctlArgs {
  const options = parseOptions();
  // The command first, to name it and show its usage whatever else is wrong.
  const loose = parseArgs({ args: argv, options, allowPositionals: true, strict: false });
  let first = loose.positionals[0];
  if (first !== undefined && Object.hasOwn(GROUPS, first)) {
    try {
      first = joinGroup(
        loose.positionals.filter((p): p is string => typeof p === 'string'),
        'command',
      )[0];
    } catch {
      // Named below, once the strict parse has run.
    }
  }
  const usageFor = isCommand(first) ? commandUsage(first) : generalUsage();
  const where = isCommand(first) ? `${first}: ` : '';

  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true, tokens: true });
  } catch (e) {
    // node's messages are long and tell how to pass a positional starting with '-': name the flag.
    const err = e as Error & { code?: string };
    const flag = /'(-[^' ]+)/.exec(err.message)?.[1];
    if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && flag)
      throw new UsageError(`${where}unknown flag ${flag}`, usageFor);
    if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && flag)
      throw new UsageError(
        `${where}${flag} ${/does not take/.test(err.message) ? 'takes no value' : 'needs a value'}`,
        usageFor,
      );
    throw new UsageError(`${where}${err.message}`, usageFor);
  }
  const { values, tokens } = parsed;
  const positionals = joinGroup(joinGroup(parsed.positionals, 'command'), 'help');
  const [command, arg, ...extra] = positionals;
  const help = values.help === true;

  if (command === undefined) {
    if (help) return { help: generalUsage() };
    throw new UsageError('no command');
  }
  if (command === 'help') {
    if (arg === undefined) return { help: generalUsage() };
    if (!isCommand(arg)) throw new UsageError(`unknown command "${arg}"`);
    if (extra.length) throw new UsageError(`help: unexpected argument "${extra[0]!}"`);
    return { help: commandUsage(arg) };
  }
  if (!isCommand(command)) throw new UsageError(`unknown command "${command}"`);
  if (help) return { help: commandUsage(command) };

  const known = new Set(['help', ...Object.keys(CONNECTION), ...Object.keys(flagsOf(command))]);
  for (const t of tokens) {
    if (t.kind === 'option' && !known.has(t.name)) {
      const own = Object.keys(flagsOf(command)).map((n) => `--${n}`);
      throw new UsageError(
        `${command}: --${t.name} is not a flag of ${command} (${own.length ? `its flags: ${own.join(', ')}` : 'it has none but the connection'})`,
        commandUsage(command),
      );
    }
  }
  const spec: CommandSpec = COMMANDS[command];
  // Every command that takes an argument needs it: say so before asking for a hub.
  if (spec.arg && arg === undefined)
    throw new UsageError(`${command}: missing ${spec.arg}`, commandUsage(command));
  const takes = spec.arg ? 1 : 0;
  const unexpected = positionals.slice(1 + takes)[0];
  if (unexpected !== undefined)
    throw new UsageError(`${command}: unexpected argument "${unexpected}"`, commandUsage(command));

  const flags: Record<string, unknown> = {};
  const specs: Record<string, FlagSpec> = { ...CONNECTION, ...flagsOf(command) };
  for (const [n, f] of Object.entries(specs)) flags[n] = values[n] ?? f.default;
  return { command, arg, flags: flags as unknown as FedctlFlags };
}
