// The servers pnpm bench measures, and how to start and stop one: ws and uWebSockets.js (peers.mjs), wsz
// inline, with its default 4 hook threads, and (Node 24) with 2 I/O threads. Each scenario picks the
// server's mode: echo, fanout (every message to every connection) or deflate.
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { peers } from './peers.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const FANOUT = new Set(['fanout', 'fanout-latency']);

/** The servers by name; env UWS_NODE runs uWebSockets.js on another node binary (no native code for Node 24). */
export function benchServers() {
  const p = peers();
  const ioThreads = Number(process.versions.node.split('.')[0]) >= 24;
  const echo = [process.execPath, '--import', 'tsx', '--conditions=wsz-source', 'examples/echo/server.ts'];
  const peerMode = (s) => ({ MODE: FANOUT.has(s) ? 'fanout' : s === 'deflate' ? 'deflate' : 'echo' });
  const wszMode = (s) => (FANOUT.has(s) ? { BROADCAST: '1' } : s === 'deflate' ? { DEFLATE: '1' } : {});
  return {
    ws: { command: p.ws.command, env: peerMode },
    uws:
      p.uws || process.env.UWS_NODE
        ? {
            command: process.env.UWS_NODE
              ? [process.env.UWS_NODE, p.ws.command[1].replace('ws-server.mjs', 'uws-server.cjs')]
              : p.uws.command,
            env: peerMode,
          }
        : null,
    'wsz inline': { command: echo, env: (s) => ({ THREADS: '0', ...wszMode(s) }) },
    'wsz 4 hook threads': { command: echo, env: (s) => ({ ...wszMode(s) }) },
    ...(ioThreads
      ? { 'wsz 2 I/O threads': { command: echo, env: (s) => ({ THREADS: '0', WORKERS: '2', ...wszMode(s) }) } }
      : {}),
  };
}

function listening(port, ms = 20_000) {
  const deadline = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const s = connect({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve();
      });
      s.on('error', () =>
        Date.now() > deadline ? reject(new Error(`nothing listens on ${port}`)) : setTimeout(attempt, 100),
      );
    };
    attempt();
  });
}

/**
 * Starts `server` for `scenario` on `port` in its own process group (stopping it ends whatever it started,
 * and only that), and resolves once it listens. `stop()` ends it.
 */
export async function startServer(server, scenario, port) {
  const child = spawn(server.command[0], server.command.slice(1), {
    cwd: root,
    detached: true,
    stdio: 'ignore',
    env: { ...process.env, PORT: String(port), WSZ_LOG_LEVEL: 'silent', ...server.env(scenario) },
  });
  const stop = async () => {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {}
    await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
  };
  try {
    await listening(port);
  } catch (error) {
    await stop();
    throw error;
  }
  await new Promise((r) => setTimeout(r, 300));
  return { pid: child.pid, stop };
}
