/**
 * Structured logging over pino: one JSON object per line on stderr,
 *   {"level":"warn","time":"2025-01-01T00:00:00.000Z", ...component and call fields, "msg":"..."}
 * Secrets never reach a log: PINs and passwords are `[redacted]` and card numbers masked, by
 * exact key name (shared/log-redaction.ts). An error goes under `err`, one way everywhere:
 * `log.warn('snapshot failed', { err: e })`, written with its kind, field and cause chain
 * (shared/log-error.ts).
 */
import { pino, type Logger as PinoLogger } from 'pino';
import { invalidArgument } from './errors.js';
import { serializeError } from './log-error.js';
import { censor, REDACT_PATHS } from './log-redaction.js';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * A line's fields. An error is passed as `err` (the thrown value as it is, not its message),
 * so that it is serialized with its kind, field and cause; `error` is refused by the compiler
 * so that the tree keeps to that one way.
 */
export type LogFields = Record<string, unknown> & { error?: never };

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

export interface LoggerOptions {
  /** The threshold; when absent it comes from LOG_LEVEL in `env`, else `info`. */
  level?: LogLevel;
  /** Where LOG_LEVEL is read (default process.env). */
  env?: Record<string, string | undefined>;
  /** Receives each line without its newline, instead of stderr (tests capture lines with it). */
  write?: (line: string) => void;
}

/**
 * The keys of the line itself. pino writes a caller's field of the same name as a second key,
 * which most parsers read as the line's own: a ticket's `level: 1` became the severity. Such
 * a field is renamed `fields.<key>` (logrus does the same), and the caller's value is kept.
 */
const LINE_KEYS = ['level', 'time', 'msg'] as const;

function ownKeys(fields: LogFields | undefined): Record<string, unknown> {
  if (fields === undefined) return {};
  if (!LINE_KEYS.some((k) => k in fields)) return fields;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields))
    out[(LINE_KEYS as readonly string[]).includes(k) ? `fields.${k}` : k] = v;
  return out;
}

/** Reads LOG_LEVEL; an unset or empty variable means the default. */
function logLevelFrom(env: Record<string, string | undefined>): LogLevel | undefined {
  const raw = env.LOG_LEVEL;
  if (raw === undefined || raw === '') return undefined;
  return checkLevel('LOG_LEVEL', raw);
}

function checkLevel(field: string, value: string): LogLevel {
  if ((LOG_LEVELS as readonly string[]).includes(value)) return value as LogLevel;
  throw invalidArgument(field, `must be one of ${LOG_LEVELS.join(', ')} (got ${JSON.stringify(value)})`);
}

// One synchronous stderr stream for every logger of the process: a line written just before
// process.exit() is not lost in a buffer.
let stderr: pino.DestinationStream | undefined;
const stderrStream = (): pino.DestinationStream => (stderr ??= pino.destination({ dest: 2, sync: true }));

function lineStream(write: (line: string) => void): pino.DestinationStream {
  // pino hands a plain stream one whole line per call, newline included.
  return { write: (s: string) => write(s.endsWith('\n') ? s.slice(0, -1) : s) };
}

function build(level: LogLevel | 'silent', stream: pino.DestinationStream): PinoLogger {
  return pino(
    {
      level,
      base: undefined, // no pid/hostname: the process is named by its component fields
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: serializeError },
      redact: { paths: [...REDACT_PATHS], censor },
    },
    stream,
  );
}

function wrap(p: PinoLogger): Logger {
  return {
    debug: (msg, fields) => p.debug(ownKeys(fields), msg),
    info: (msg, fields) => p.info(ownKeys(fields), msg),
    warn: (msg, fields) => p.warn(ownKeys(fields), msg),
    error: (msg, fields) => p.error(ownKeys(fields), msg),
    child: (fields) => wrap(p.child(ownKeys(fields))),
  };
}

/**
 * A logger whose lines carry `base`. Throws invalid-argument naming LOG_LEVEL when that
 * variable holds anything but one of LOG_LEVELS, so a process fails at start, not quietly.
 */
export function createLogger(base: LogFields = {}, opts: LoggerOptions = {}): Logger {
  const level =
    opts.level !== undefined ? checkLevel('level', opts.level) : logLevelFrom(opts.env ?? process.env);
  const stream = opts.write ? lineStream(opts.write) : stderrStream();
  const root = wrap(build(level ?? 'info', stream));
  return Object.keys(base).length > 0 ? root.child(base) : root;
}

/** A logger that drops everything; for tests and benchmarks. It reads no environment. */
export const silentLogger: Logger = wrap(build('silent', { write: () => {} }));
