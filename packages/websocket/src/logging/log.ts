/** Log levels, most verbose first; 'silent' logs nothing. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

/** Where log lines go: anything with console's four methods (console itself, pino, ...). */
export interface Logger {
  debug(message: string, ...details: unknown[]): void;
  info(message: string, ...details: unknown[]): void;
  warn(message: string, ...details: unknown[]): void;
  error(message: string, ...details: unknown[]): void;
}

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3, silent: 4 };

function defaultLevel(): LogLevel {
  const env = process.env.WSZ_LOG_LEVEL as LogLevel | undefined;
  if (env && env in RANK) return env;
  // Quiet under a test runner: tests assert on behaviour, not on log lines.
  if (process.env.VITEST || process.env.NODE_ENV === 'test') return 'silent';
  return 'info';
}

const stderr: Logger = {
  debug: (m, ...d) => console.error(m, ...d),
  info: (m, ...d) => console.error(m, ...d),
  warn: (m, ...d) => console.error(m, ...d),
  error: (m, ...d) => console.error(m, ...d),
};

/** A logger scoped to `scope` (lines start with `[scope]`) that drops lines below `level`. */
export function scopedLogger(scope: string, level: LogLevel = defaultLevel(), sink: Logger = stderr): Logger {
  const min =
    RANK[
      process.env.WSZ_LOG_LEVEL && process.env.WSZ_LOG_LEVEL in RANK ? (process.env.WSZ_LOG_LEVEL as LogLevel) : level
    ];
  const prefix = `[${scope}]`;
  const noop = (): void => {};
  return {
    debug: min <= 0 ? (m, ...d) => sink.debug(`${prefix} ${m}`, ...d) : noop,
    info: min <= 1 ? (m, ...d) => sink.info(`${prefix} ${m}`, ...d) : noop,
    warn: min <= 2 ? (m, ...d) => sink.warn(`${prefix} ${m}`, ...d) : noop,
    error: min <= 3 ? (m, ...d) => sink.error(`${prefix} ${m}`, ...d) : noop,
  };
}
