import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';

/** Debian's redis-server (installed by .ci/run). */
export const REDIS_SERVER = '/usr/bin/redis-server';
export const redisAvailable = spawnSync(REDIS_SERVER, ['--version']).status === 0;

/** A free TCP port on 127.0.0.1 (free when asked). */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** A redis-server of the test's own on `port`, no persistence; stop() ends exactly that process. */
export interface RunningRedis {
  port: number;
  url: string;
  /** Sends the process a signal (SIGSTOP: a Redis that stops reading; SIGCONT: back). */
  signal(signal: NodeJS.Signals): void;
  stop(): Promise<void>;
}

/**
 * Starts one; `args` adds redis-server options (['--requirepass', 'x'], TLS ports; `port` then is the plain one, 0 for
 * none).
 */
export async function startRedis(port?: number, args: string[] = []): Promise<RunningRedis> {
  const p = port ?? (await freePort());
  const child: ChildProcess = spawn(
    REDIS_SERVER,
    ['--port', String(p), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 10_000);
    child.stdout!.on('data', (d) => {
      out += d;
      if (/Ready to accept connections/.test(out)) {
        clearTimeout(t);
        resolve();
      }
    });
  });
  return {
    port: p,
    url: `redis://127.0.0.1:${p}`,
    signal(signal) {
      child.kill(signal);
    },
    async stop() {
      child.kill('SIGCONT');
      child.kill('SIGKILL');
      await exited;
    },
  };
}
