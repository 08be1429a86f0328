/**
 * examples/from-ws: a ws server and its wsz version, run side by side and driven by the same script;
 * they must answer alike. ws is not a dependency of this project: it is installed at run time into a
 * cache folder (~/.cache/wsz-test), as the benchmarks install their peers.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { Client, HandshakeStatusError } from 'wsz/client';
import { runExample, type RunningExample } from '../../test/helpers/example.js';

const WS_VERSION = '8.18.3';

/** ws-server.mjs in a folder where `ws` resolves (installed there once). */
function wsServerFile(): string {
  const dir = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'wsz-test', `ws-${WS_VERSION}`);
  if (!existsSync(join(dir, 'node_modules', 'ws', 'package.json'))) {
    mkdirSync(dir, { recursive: true });
    execFileSync(
      'npm',
      ['install', '--prefix', dir, '--no-save', '--no-package-lock', '--no-audit', '--no-fund', `ws@${WS_VERSION}`],
      { stdio: 'ignore', timeout: 120_000 },
    );
  }
  const file = join(dir, 'ws-server.mjs');
  copyFileSync(fileURLToPath(new URL('./ws-server.mjs', import.meta.url)), file);
  return file;
}

let running: RunningExample | null = null;
const clients: Client[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  running?.interrupt();
  if (running) await running.exit;
  running = null;
});

/** What a client saw of one exchange, in a form both servers must produce alike. */
async function script(port: number): Promise<unknown[]> {
  const seen: unknown[] = [];
  const join = async (query: string): Promise<Client> => {
    const c = await Client.connect(`ws://127.0.0.1:${port}/?${query}`);
    clients.push(c);
    return c;
  };
  const next = async (c: Client): Promise<unknown> => {
    const m = await c.read(5000);
    if (m === null) return 'nothing';
    if (m.type === 'close') return { close: m.code, reason: m.reason };
    return m.type === 'text' ? JSON.parse(m.data.toString()) : m.type;
  };
  seen.push(
    await join('user=eve').then(
      () => 'joined',
      (e: unknown) => (e instanceof HandshakeStatusError ? { refused: e.status } : String(e)),
    ),
  );
  const ann = await join('token=secret&user=ann');
  seen.push(await next(ann));
  const bob = await join('token=secret&user=bob');
  seen.push(await next(bob));
  ann.write('hello room');
  seen.push(await next(ann), await next(bob));
  bob.writeBin(Buffer.from([1, 2, 3]));
  seen.push(await next(bob), await next(ann));
  ann.write('x'.repeat(70_000));
  seen.push(await next(ann));
  return seen;
}

describe('examples/from-ws: a ws server and its wsz version', () => {
  it('answer the same script alike: refusal, welcome, room messages, a binary refused, a message too large', async () => {
    running = runExample(wsServerFile(), { TOKEN: 'secret' });
    const fromWs = await script(await running.ready);
    running.interrupt();
    await running.exit;
    running = runExample('examples/from-ws/server.ts', { TOKEN: 'secret' });
    const fromWsz = await script(await running.ready);
    expect(fromWs).toEqual([
      { refused: 401 },
      { type: 'welcome', user: 'ann', members: 1 },
      { type: 'welcome', user: 'bob', members: 2 },
      { type: 'message', user: 'ann', text: 'hello room' },
      { type: 'message', user: 'ann', text: 'hello room' },
      { close: 1003, reason: 'text only' },
      { type: 'leave', user: 'bob' },
      { close: 1009, reason: expect.any(String) },
    ]);
    expect(fromWsz).toEqual(fromWs.map((s, i) => (i === 7 ? { close: 1009, reason: expect.any(String) } : s)));
  }, 120_000);
});
