/**
 * examples/chat, run as `pnpm chat` runs it: the page on GET /, rooms over /chat, and the delivery
 * rules with many clients spread over every worker thread.
 */
import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { Client } from 'wsz/client';
import { joinChat, nextChatEvent } from '../../test/helpers/chat-member.js';
import { runExample, type RunningExample } from '../../test/helpers/example.js';
import { RawClient, upgradeRequest } from '../../test/helpers/raw-client.js';
import type { ChatEvent } from './handler.js';
import { IO_THREADS } from '../../test/helpers/io-threads.js';

let running: RunningExample | null = null;
const clients: Client[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  running?.interrupt();
  if (running) expect(await running.exit).toBe(0);
  running = null;
});

async function start(threads: number, workers = 1): Promise<number> {
  running = runExample('examples/chat/server.ts', { THREADS: String(threads), WORKERS: String(workers) });
  return running.ready;
}

/** Hook threads, and (on Node 24) I/O threads with hooks inline: wsz then serves the page itself. */
const MODES = [
  { name: '4 hook threads, attached to node:http', threads: 4, workers: 1 },
  ...(IO_THREADS ? [{ name: '2 I/O threads', threads: 0, workers: 2 }] : []),
];

function get(port: number, path: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) =>
    request({ port, host: '127.0.0.1', path }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, type: String(res.headers['content-type']), body }));
    })
      .on('error', reject)
      .end(),
  );
}

/** Joins `room` as `user`, subscribed to it (the page does the same). */
async function join(port: number, room: string, user: string): Promise<Client> {
  const c = await joinChat(port, room, user);
  clients.push(c);
  return c;
}

async function next(c: Client): Promise<ChatEvent> {
  const e = await nextChatEvent(c);
  if (e === null) throw new Error('expected a chat event, got nothing');
  return e;
}

/** POST `path` with `token` as a bearer token (none: no Authorization header). */
function post(port: number, path: string, token?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) =>
    request(
      { port, host: '127.0.0.1', path, method: 'POST', headers: token ? { Authorization: `Bearer ${token}` } : {} },
      (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      },
    )
      .on('error', reject)
      .end(),
  );
}

describe.each(MODES)('examples/chat admin ($name)', ({ threads, workers }) => {
  it('POST /admin/kick?user=NAME with the bearer token closes every connection of that user with 4001', async () => {
    running = runExample('examples/chat/server.ts', {
      THREADS: String(threads),
      WORKERS: String(workers),
      ADMIN_TOKEN: 's3cret',
    });
    const port = await running.ready;
    await join(port, 'lobby', 'ann');
    const bob1 = await join(port, 'lobby', 'bob');
    const bob2 = await join(port, 'kitchen', 'bob');
    expect((await post(port, '/admin/kick?user=bob', 'wrong')).status).toBe(401);
    expect((await post(port, '/admin/kick?user=bob')).status).toBe(401);
    expect((await get(port, '/admin/kick?user=bob')).status).toBe(405);
    expect(await post(port, '/admin/kick?user=bob', 's3cret')).toEqual({ status: 200, body: '2\n' });
    for (const bob of [bob1, bob2]) {
      let m = await bob.read(5000);
      while (m !== null && m.type !== 'close') m = await bob.read(5000); // chat events, then the close
      expect(m).toMatchObject({ type: 'close', code: 4001, reason: 'kicked by an admin' });
    }
    expect(await post(port, '/admin/kick?user=nobody', 's3cret')).toEqual({ status: 200, body: '0\n' });
  });

  it('has no admin route without ADMIN_TOKEN (404)', async () => {
    const port = await start(threads, workers);
    expect((await post(port, '/admin/kick?user=bob', '')).status).toBe(404);
  });

  it('answers GET /metrics with the Prometheus text format, counting the members who joined', async () => {
    const port = await start(threads, workers);
    await join(port, 'lobby', 'ann');
    const metrics = await get(port, '/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.type).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(metrics.body).toContain('# TYPE wsz_connections_upgraded gauge\nwsz_connections_upgraded 1\n');
    expect(metrics.body).toContain('wsz_handshakes_total{status="101"} 1\n');
  });
});

describe.each(MODES)('examples/chat ($name)', ({ threads, workers }) => {
  it('serves the page on GET / and refuses an upgrade without room or user with 400', async () => {
    const port = await start(threads, workers);
    const page = await get(port, '/');
    expect(page.status).toBe(200);
    expect(page.type).toBe('text/html; charset=utf-8');
    expect(page.body).toContain('new ReconnectingSocket(');
    const module = await get(port, '/wsz-reconnecting.js');
    expect([module.status, module.type]).toEqual([200, 'text/javascript; charset=utf-8']);
    expect(module.body).toContain('export class ReconnectingSocket');
    expect((await get(port, '/nothing-here')).status).toBe(404);
    expect((await get(port, '/health')).body).toBe('ok\n');
    for (const path of ['/chat', '/chat?room=a', '/chat?user=ann', '/chat?room=&user=ann']) {
      const raw = await RawClient.connect(port, upgradeRequest(path));
      const res = await raw.readResponse();
      expect([path, res.status]).toEqual([path, 400]);
      expect(res.body).toContain('room=ROOM&user=USER');
      raw.destroy();
    }
  });

  it('delivers each message to every member of its room, the sender included, in order, across threads; nothing crosses rooms', async () => {
    const port = await start(threads, workers);
    const rooms = ['red', 'green', 'blue'];
    const members: Array<{ c: Client; room: string; user: string }> = [];
    // 24 members, 8 per room, spread over the workers as they connect.
    for (let i = 0; i < 24; i++) {
      const room = rooms[i % 3]!;
      const user = `u${i}`;
      // Subscribed once joined: everyone who joins its room after it is announced to it (each once; joins made
      // on other I/O threads may arrive in another order: order is kept per publisher).
      const c = await join(port, room, user);
      members.push({ c, room, user });
    }
    for (const m of members) {
      const later = members.filter((o) => o.room === m.room && Number(o.user.slice(1)) > Number(m.user.slice(1)));
      const joins: ChatEvent[] = [];
      for (let n = 0; n < later.length; n++) joins.push(await next(m.c));
      const byUser = (a: ChatEvent, b: ChatEvent) => a.user.localeCompare(b.user);
      expect(joins.sort(byUser)).toEqual(
        later.map((o): ChatEvent => ({ type: 'join', room: m.room, user: o.user })).sort(byUser),
      );
    }
    for (const m of members) for (let k = 0; k < 20; k++) m.c.write(`${m.user} says ${k}`);
    await Promise.all(
      members.map(async (m) => {
        const seen = new Map<string, number[]>();
        for (let n = 0; n < 8 * 20; n++) {
          const e = await next(m.c);
          expect(e.type).toBe('message');
          expect(e.room).toBe(m.room);
          const [, , k] = /^(u\d+) says (\d+)$/.exec((e as { text: string }).text)!;
          seen.set(e.user, [...(seen.get(e.user) ?? []), Number(k)]);
        }
        expect(seen.size).toBe(8);
        for (const ks of seen.values()) expect(ks).toEqual(Array.from({ length: 20 }, (_, k) => k));
      }),
    );
    // A leave reaches the rest of the room only.
    const [first, ...others] = members;
    await first!.c.close();
    for (const m of others.filter((o) => o.room === first!.room))
      expect(await next(m.c)).toEqual({ type: 'leave', room: first!.room, user: first!.user });
    for (const m of others.filter((o) => o.room !== first!.room)) expect(await nextChatEvent(m.c, 100)).toBeNull();
  });
});
