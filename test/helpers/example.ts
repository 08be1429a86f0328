import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** A running example: the port its "listening on 127.0.0.1:PORT" line names, its exit code, and Ctrl-C. */
export interface RunningExample {
  ready: Promise<number>;
  exit: Promise<number | null>;
  interrupt(): void;
  /** Sends the example's own process `signal` (SIGKILL: it dies without a word); see `oneProcess`. */
  kill(signal: NodeJS.Signals): void;
}

/**
 * Runs `examples/<file>` with tsx as `pnpm <name>` would, on PORT 0 unless `env` says otherwise. `plainNode`: as
 * `node examples/<file>` instead, no tsx and no flags (Node strips the types itself; wsz is its built dist/).
 * `oneProcess`: as `node --import tsx examples/<file>`, one process (tsx's command runs the app in a child, which a
 * SIGKILL to tsx would leave running).
 */
export function runExample(
  file: string,
  env: Record<string, string> = {},
  plainNode = false,
  oneProcess = false,
): RunningExample {
  const base: NodeJS.ProcessEnv = { ...process.env, PORT: '0', WSZ_LOG_LEVEL: 'silent', ...env };
  if (plainNode) delete base.NODE_OPTIONS;
  const child = plainNode
    ? spawn(process.execPath, [file], { cwd: root, env: base })
    : oneProcess
      ? spawn(process.execPath, ['--import', 'tsx', '--conditions=wsz-source', file], { cwd: root, env: base })
      : spawn(`${root}node_modules/.bin/tsx`, ['--conditions=wsz-source', file], { cwd: root, env: base });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const ready = new Promise<number>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no 'listening' line; got: ${out}`)), 15_000);
    child.stdout.on('data', () => {
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(out);
      if (m) {
        clearTimeout(t);
        resolve(Number(m[1]));
      }
    });
  });
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { ready, exit, interrupt: () => child.kill('SIGINT'), kill: (signal) => child.kill(signal) };
}
