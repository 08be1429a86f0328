import type { Logger } from 'wsz';

/** A logger that keeps its lines as `level message details...`, for tests that read what was logged. */
export function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const keep =
    (level: string) =>
    (m: string, ...d: unknown[]) =>
      void lines.push([level, m, ...d.map(String)].join(' '));
  return { lines, debug: keep('debug'), info: keep('info'), warn: keep('warn'), error: keep('error') };
}
