/**
 * The one structured logger of textops: one JSON object per line, `{"time","level","message",...fields}`, which
 * CloudWatch Logs Insights and `kubectl logs | jq` read as fields (the k8s runbooks grep `"level":"error"`).
 *
 * The message key is `message`, not pino's `msg`: it is what Lambda's own JSON log format and Powertools for AWS
 * Lambda write, so a handler's lines and the platform's lines query alike in CloudWatch (`fields message`), and
 * it is the name the in-memory lines used already. `time`, `level` and `message` always win over a field of the
 * same name (the type refuses them), so a line's message is never replaced by a field.
 *
 * An `Error` anywhere in the fields is written as `{name, message}` (plus a `TextopsError`'s `details` and the
 * `cause`, the same way); its stack only when TEXTOPS_DEBUG is set. TEXTOPS_LOG=silent writes nothing (the local
 * runtime and tests); `quiet` keeps warn and error only; debug lines need TEXTOPS_DEBUG. Both are read at each
 * line, so a test or `textops start` can set them after the logger is built.
 */
import { describeError, TextopsError } from './errors.ts';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Anything JSON-serializable (Errors included), except the three keys the line itself owns. */
export type LogFields = Record<string, unknown> & { time?: never; level?: never; message?: never };

type LogMethod = (message: string, fields?: LogFields) => void;

export interface Logger {
  debug: LogMethod;
  info: LogMethod;
  warn: LogMethod;
  error: LogMethod;
}

export interface LoggerOptions {
  /**
   * Where lines go. Pipeline handlers and the worker: stdout (with the EMF documents, one CloudWatch stream);
   * `textops serve`: stderr, so its stdout keeps only the "listening on" line a wrapper may read.
   */
  stream?: 'stdout' | 'stderr';
  /** Warn and error only (`textops serve --quiet`, benchmarks). */
  quiet?: boolean;
}

/**
 * A logging switch, read from the environment at each line; empty counts as unset, as in config/env.ts. Read
 * here rather than through config/env.ts because every layer logs, config included: the logger depends on
 * nothing above the root files.
 */
const logSwitch = (name: 'TEXTOPS_DEBUG' | 'TEXTOPS_LOG'): string | undefined =>
  process.env[name] || undefined;

const debugOn = () => logSwitch('TEXTOPS_DEBUG') !== undefined;

/** An Error as a plain object JSON can hold; JSON.stringify alone would write `{}`. */
function errorObject(error: Error): Record<string, unknown> {
  const out: Record<string, unknown> = { name: error.name, message: error.message };
  if (error instanceof TextopsError && Object.keys(error.details).length > 0) out.details = error.details;
  if (error.cause !== undefined) out.cause = error.cause;
  if (debugOn() && error.stack) out.stack = error.stack;
  return out;
}

/** The JSON text of one line, without its newline. */
export function formatLogLine(
  level: LogLevel,
  message: string,
  fields: LogFields = {},
  time = new Date(),
): string {
  // The line's own keys are spread last, so a stray field cannot replace them; listed first, they print first.
  const core = { time: time.toISOString(), level, message };
  try {
    return JSON.stringify({ ...core, ...fields, ...core }, (_key, value: unknown) =>
      value instanceof Error ? errorObject(value) : value,
    );
  } catch (error) {
    // A BigInt or a cycle in the fields must not turn a log call into a crash; the line still says what happened.
    return JSON.stringify({ ...core, logError: `fields not written: ${describeError(error).message}` });
  }
}

function shouldWrite(level: LogLevel, quiet: boolean | undefined): boolean {
  if (logSwitch('TEXTOPS_LOG') === 'silent') return false;
  if (level === 'debug') return !quiet && debugOn();
  return !(quiet && level === 'info');
}

function loggerFrom(write: (level: LogLevel, message: string, fields?: LogFields) => void): Logger {
  return {
    debug: (message, fields) => write('debug', message, fields),
    info: (message, fields) => write('info', message, fields),
    warn: (message, fields) => write('warn', message, fields),
    error: (message, fields) => write('error', message, fields),
  };
}

/** JSON lines on stdout (the default) or stderr. */
export function jsonLogger(options: LoggerOptions = {}): Logger {
  const stream = options.stream ?? 'stdout';
  return loggerFrom((level, message, fields) => {
    if (!shouldWrite(level, options.quiet)) return;
    // The stream is looked up at each line: tests capture it by replacing process.stdout.write.
    process[stream].write(`${formatLogLine(level, message, fields)}\n`);
  });
}

/** A logged line as a test sees it: the fields as they would be written (Errors serialized). */
export interface LogLine {
  level: LogLevel;
  message: string;
  fields?: Record<string, unknown>;
}

/** A logger that keeps every line in memory (regardless of TEXTOPS_LOG), for tests that assert what was logged. */
export function memoryLogger(): Logger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = loggerFrom((level, message, fields) => {
    if (fields === undefined) {
      lines.push({ level, message });
      return;
    }
    const {
      time: _t,
      level: _l,
      message: _m,
      ...written
    } = JSON.parse(formatLogLine(level, message, fields)) as Record<string, unknown>;
    lines.push({ level, message, fields: written });
  });
  return Object.assign(logger, { lines });
}
