/**
 * examples/chat with REDIS_URL: two chat processes share their rooms through a real redis-server (its
 * own instance on a free port), through Redis restarting, and with Redis absent at start.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Client } from 'wsz/client';
import { chatEvent, joinChat } from '../../test/helpers/chat-member.js';
import { runExample, type RunningExample } from '../../test/helpers/example.js';
import { freePort, redisAvailable, startRedis, type RunningRedis } from '../../test/helpers/redis.js';

if (!redisAvailable && process.env.CI) throw new Error('redis-server is missing: .ci/run installs it with apt-get');

let cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function chatProcess(
  redisUrl: string,
  threads: string,
  env: Record<string, string> = {},
  started?: (p: RunningExample) => void,
): Promise<number> {
  const p: RunningExample = runExample(
    'examples/chat/server.ts',
    { THREADS: threads, REDIS_URL: redisUrl, ...env },
    false,
    true,
  );
  started?.(p);
  cleanup.push(async () => {
    p.interrupt();
    await p.exit;
  });
  return p.ready;
}

async function redis(port?: number, args: string[] = []): Promise<RunningRedis> {
  const r = await startRedis(port, args);
  cleanup.push(() => r.stop());
  return r;
}

/** A member that keeps every chat message it receives (joins and leaves aside). */
async function member(
  port: number,
  room: string,
  user: string,
): Promise<{ c: Client; got: Array<{ user: string; text: string }>; closed: number | null }> {
  const c = await joinChat(port, room, user);
  cleanup.push(() => c.destroy());
  const got: Array<{ user: string; text: string }> = [];
  const self = { c, got, closed: null as number | null };
  void (async () => {
    for (;;) {
      const m = await c.read().catch(() => null);
      if (m?.type === 'close') self.closed = m.code;
      if (m === null || m.type === 'close') return;
      const e = chatEvent(m);
      if (e?.type === 'message') got.push({ user: e.user, text: e.text });
    }
  })();
  return self;
}

async function until(what: string, check: () => boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Sends probes from `from` until `to` (on the other process) receives one: the backplane carries the room. */
async function linked(from: { c: Client }, to: { got: Array<{ text: string }> }, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (let i = 0; !to.got.some((m) => m.text.startsWith('probe')); i++) {
    if (Date.now() > deadline) throw new Error('the processes never linked through Redis');
    from.c.write(`probe ${i}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.skipIf(!redisAvailable)('examples/chat across processes through Redis', () => {
  it('delivers each message to every member of its room on both processes, exactly once and in order; nothing crosses rooms', async () => {
    const r = await redis();
    const [pa, pb] = [await chatProcess(r.url, '2'), await chatProcess(r.url, '0')];
    const red = [
      await member(pa, 'red', 'a1'),
      await member(pa, 'red', 'a2'),
      await member(pb, 'red', 'b1'),
      await member(pb, 'red', 'b2'),
    ];
    const blue = [await member(pa, 'blue', 'a3'), await member(pb, 'blue', 'b3')];
    await linked(red[0]!, red[2]!);
    await linked(red[2]!, red[0]!);
    await linked(blue[0]!, blue[1]!);
    await linked(blue[1]!, blue[0]!);
    for (const m of [...red, ...blue]) m.got.length = 0;
    for (const [i, m] of [...red, ...blue].entries()) for (let k = 0; k < 25; k++) m.c.write(`m${i}-${k}`);
    const check = (room: typeof red, total: number) =>
      until(`the ${total} messages of a room`, () =>
        room.every((m) => m.got.filter((g) => !g.text.startsWith('probe')).length >= total),
      );
    await check(red, 4 * 25);
    await check(blue, 2 * 25);
    await new Promise((res) => setTimeout(res, 200)); // nothing more (no duplicates) arrives
    for (const [room, members] of [
      ['red', red],
      ['blue', blue],
    ] as const) {
      for (const m of members) {
        const real = m.got.filter((g) => !g.text.startsWith('probe'));
        expect(real.length).toBe(members.length * 25);
        const byUser = new Map<string, string[]>();
        for (const g of real) byUser.set(g.user, [...(byUser.get(g.user) ?? []), g.text]);
        expect([room, byUser.size]).toEqual([room, members.length]);
        for (const texts of byUser.values()) {
          const prefix = texts[0]!.split('-')[0];
          expect(texts).toEqual(Array.from({ length: 25 }, (_, k) => `${prefix}-${k}`));
        }
      }
    }
  });

  it('holds what is said while Redis restarts without its data and delivers it once Redis is back, then links up', async () => {
    const r = await redis();
    const [pa, pb] = [await chatProcess(r.url, '0'), await chatProcess(r.url, '0')];
    const [a1, a2, b1] = [
      await member(pa, 'room', 'a1'),
      await member(pa, 'room', 'a2'),
      await member(pb, 'room', 'b1'),
    ];
    await linked(a1, b1);
    await r.stop();
    // The room keeps history in Redis, which gives each message its place: it waits (bounded) for Redis.
    a1.c.write('while redis is down');
    await new Promise((res) => setTimeout(res, 300));
    expect(a2.got.some((g) => g.text === 'while redis is down')).toBe(false);
    await redis(r.port); // the same port, a fresh (empty) Redis: subscriptions must be made again
    // On the publisher's process for sure (its own subscriber is back before its queue goes). The other process
    // hears it only if its subscriber was back first: a Redis restarted without its data starts a new history, so a
    // miss cannot be filled from it (docs/delivery.md: with persistence it is; see the test below).
    await until(
      'delivery once Redis is back',
      () => a2.got.filter((g) => g.text === 'while redis is down').length === 1,
    );
    await linked(a1, b1);
    await linked(b1, a1);
    expect(b1.got.filter((g) => g.text === 'while redis is down').length).toBeLessThanOrEqual(1);
  }, 60_000);

  it('starts without Redis, and serves once Redis appears', async () => {
    const port = await freePort();
    const url = `redis://127.0.0.1:${port}`;
    const [pa, pb] = [await chatProcess(url, '0'), await chatProcess(url, '0')];
    const [a1, a2, b1] = [
      await member(pa, 'room', 'a1'),
      await member(pa, 'room', 'a2'),
      await member(pb, 'room', 'b1'),
    ];
    a1.c.write('no redis yet');
    await redis(port);
    await until('delivery once Redis appears', () => a2.got.some((g) => g.text === 'no redis yet'));
    await linked(a1, b1);
  }, 60_000);

  it('kicks a user from either process: POST /admin/kick on one closes that user on both with 4001', async () => {
    const r = await redis();
    const admin = { ADMIN_TOKEN: 's3cret' };
    const [pa, pb] = [await chatProcess(r.url, '2', admin), await chatProcess(r.url, '0', admin)];
    const ann = await member(pa, 'lobby', 'ann');
    const bobA = await member(pa, 'lobby', 'bob');
    const bobB = await member(pb, 'lobby', 'bob');
    await linked(ann, bobB);
    const kick = await fetch(`http://127.0.0.1:${pa}/admin/kick?user=bob`, {
      method: 'POST',
      headers: { Authorization: 'Bearer s3cret' },
    });
    expect([kick.status, await kick.text()]).toEqual([200, '2\n']);
    for (const bob of [bobA, bobB]) await until('bob closed with 4001', () => bob.closed === 4001);
    // Ann, on the process that was asked, stays.
    expect(ann.closed).toBe(null);
  }, 60_000);

  it('shows who is in a room across both processes, and drops the members of a process killed with SIGKILL', async () => {
    const r = await redis();
    let killed: RunningExample | null = null;
    const pa = await chatProcess(r.url, '2');
    const pb = await chatProcess(r.url, '0', {}, (p) => (killed = p));
    const ann = await joinChat(pa, 'hall', 'ann');
    cleanup.push(() => ann.destroy());
    const events: Array<{ wsz: string; id?: number; info?: { user: string }; members?: unknown[] }> = [];
    void (async () => {
      for (;;) {
        const m = await ann.read().catch(() => null);
        if (m === null || m.type === 'close') return;
        if (m.type === 'text' && /^\{"wsz":"(join|leave|members)"/.test(m.data.toString()))
          events.push(JSON.parse(m.data.toString()) as (typeof events)[number]);
      }
    })();
    const bob = await joinChat(pb, 'hall', 'bob');
    const cy = await joinChat(pb, 'hall', 'cy');
    cleanup.push(
      () => bob.destroy(),
      () => cy.destroy(),
    );
    const present = (): string[] => {
      const who = new Map<number, string>();
      for (const e of events) {
        if (e.wsz === 'members') {
          who.clear();
          for (const m of e.members as Array<{ id: number; info: { user: string } }>) who.set(m.id, m.info.user);
        } else if (e.wsz === 'join') who.set(e.id!, e.info!.user);
        else if (e.wsz === 'leave') who.delete(e.id!);
      }
      return [...who.values()].sort();
    };
    await until("bob and cy joining, on ann's process", () => present().join() === 'bob,cy');
    ann.writeText(JSON.stringify({ wsz: 'members', topic: 'room:hall' }));
    await until('the members of both processes', () => present().join() === 'ann,bob,cy');
    // Process B dies without a word: its members leave within the alive key's life (6 s) and a sweep (2 s).
    const started = Date.now();
    killed!.kill('SIGKILL');
    await until('bob and cy leaving', () => present().join() === 'ann', 15_000);
    const took = Date.now() - started;
    expect(took).toBeLessThan(12_000);
    ann.writeText(JSON.stringify({ wsz: 'members', topic: 'room:hall' }));
    await until('the members answer', () => events.filter((e) => e.wsz === 'members').length === 2);
    expect(present()).toEqual(['ann']);
  }, 60_000);

  it('loses and repeats nothing for any member of either process when Redis restarts with persistence mid-chat', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wsz-chat-redis-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const persist = ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir];
    let r = await redis(undefined, persist);
    const [pa, pb] = [await chatProcess(r.url, '2'), await chatProcess(r.url, '0')];
    const members = [
      await member(pa, 'deck', 'a1'),
      await member(pa, 'deck', 'a2'),
      await member(pb, 'deck', 'b1'),
      await member(pb, 'deck', 'b2'),
    ];
    await linked(members[0]!, members[2]!);
    await linked(members[2]!, members[0]!);
    for (const m of members) m.got.length = 0;
    const [a1, , b1] = members;
    const say = (from: typeof a1, texts: string[]) => texts.forEach((t) => from!.c.write(t));
    say(a1, ['a-1', 'a-2']);
    say(b1, ['b-1', 'b-2']);
    await until('the first four', () => members.every((m) => m.got.length === 4));
    await r.stop();
    say(a1, ['a-3']);
    say(b1, ['b-3']);
    await new Promise((res) => setTimeout(res, 300));
    r = await redis(r.port, persist);
    // Both processes back on Redis (what either missed meanwhile is filled from the stream at the next message).
    for (const port of [pa, pb]) {
      const connected = async (): Promise<boolean> =>
        /wsz_backplane_connected 1/.test(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
      for (const end = Date.now() + 15_000; !(await connected()) && Date.now() < end;)
        await new Promise((res) => setTimeout(res, 50));
    }
    say(a1, ['a-4']);
    say(b1, ['b-4']);
    await until('all eight, on every member', () => members.every((m) => m.got.length >= 8), 20_000);
    await new Promise((res) => setTimeout(res, 300)); // nothing more (no repeats) arrives
    const order = members[0]!.got.map((g) => g.text);
    for (const m of members) {
      // Every message once, in the one order Redis gave them, each sender's in the order it sent them.
      expect(m.got.map((g) => g.text)).toEqual(order);
      expect(order.filter((t) => t.startsWith('a-'))).toEqual(['a-1', 'a-2', 'a-3', 'a-4']);
      expect(order.filter((t) => t.startsWith('b-'))).toEqual(['b-1', 'b-2', 'b-3', 'b-4']);
    }
    // Each process counted the reconnection to Redis.
    for (const port of [pa, pb]) {
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(Number(/wsz_backplane_reconnects_total (\d+)/.exec(metrics)?.[1])).toBeGreaterThan(0);
    }
  }, 60_000);
});
