/** A structured log line sink: one JSON object per line on stderr, so CloudWatch and kubectl logs can parse it. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type Logger = (level: LogLevel, message: string, fields?: Record<string, unknown>) => void;

/** Writes JSON lines to stderr; `quiet` keeps everything below `warn` out (tests, benchmarks). */
export function jsonLogger(options: { quiet?: boolean } = {}): Logger {
  return (level, message, fields) => {
    if (options.quiet && (level === 'debug' || level === 'info')) return;
    process.stderr.write(
      `${JSON.stringify({ time: new Date().toISOString(), level, msg: message, ...fields })}\n`,
    );
  };
}

/** A logger that keeps lines in memory, for tests that assert what was logged. */
export function memoryLogger(): Logger & {
  lines: { level: LogLevel; message: string; fields?: Record<string, unknown> }[];
} {
  const lines: { level: LogLevel; message: string; fields?: Record<string, unknown> }[] = [];
  const log = ((level, message, fields) => {
    lines.push({ level, message, fields });
  }) as Logger & { lines: typeof lines };
  log.lines = lines;
  return log;
}
