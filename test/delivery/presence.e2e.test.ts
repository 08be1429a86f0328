/**
 * Presence (docs/delivery.md): `conn.track(topic, info)` makes a connection present in a topic until it untracks or
 * ends; with delivery the topic's subscribers hear each join and leave, and `members` lists who is there, from a
 * hook, from the server, and from a client's command.
 */
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { Server, type DeliveryEvent } from 'wsz';
import { Client } from 'wsz/client';
import { connect, inMode, mode, next, useCleanup } from '../helpers/delivery-suite.js';
import { Delivering } from '../helpers/delivering.js';
import { MODES } from '../helpers/modes.js';

const cleanup = useCleanup();

async function start(threads: number): Promise<{ server: Server<Delivering>; port: number }> {
  const server = new Server(Delivering, {
    port: 0,
    logLevel: 'silent',
    closeTimeout: 1000,
    workerCount: mode.workerCount,
    threadPool: { count: threads },
  });
  const { port } = (await server.listen()) as AddressInfo;
  cleanup.push(() => server.stop());
  return { server, port };
}

/** Subscribed to `topic`, and its id (from `members` of a topic it tracks alone). */
async function member(port: number, topic: string): Promise<{ c: Client; id: number }> {
  const c = await connect(port, cleanup);
  c.writeText(JSON.stringify({ wsz: 'subscribe', topic }));
  expect(await next(c)).toMatchObject({ wsz: 'subscribed', topic });
  c.writeText('track me:only {}');
  c.writeText('members me:only');
  const [self] = JSON.parse(((await next(c)) as string).slice('members '.length)) as Array<{ id: number }>;
  c.writeText('untrack me:only');
  return { c, id: self!.id };
}

describe.each(MODES)('presence ($name)', ({ threads, workers }) => {
  inMode(workers);

  it('announces joins and leaves to the subscribers, and lists the members from hooks, the server and clients', async () => {
    const { server, port } = await start(threads);
    const ann = await member(port, 'room:1');
    const bob = await member(port, 'room:1');
    ann.c.writeText('track room:1 {"user":"ann"}');
    for (const c of [ann.c, bob.c])
      expect(await next(c)).toEqual({ wsz: 'join', topic: 'room:1', id: ann.id, info: { user: 'ann' } });
    bob.c.writeText('track room:1 {"user":"bob"}');
    for (const c of [ann.c, bob.c])
      expect(await next(c)).toEqual({ wsz: 'join', topic: 'room:1', id: bob.id, info: { user: 'bob' } });
    const both = [
      { id: ann.id, info: { user: 'ann' } },
      { id: bob.id, info: { user: 'bob' } },
    ];
    ann.c.writeText('members room:1');
    expect(JSON.parse(((await next(ann.c)) as string).slice(8))).toEqual(both);
    expect(await server.members('room:1')).toEqual(both);
    bob.c.writeText(JSON.stringify({ wsz: 'members', topic: 'room:1' }));
    expect(await next(bob.c)).toEqual({ wsz: 'members', topic: 'room:1', members: both });
    // Tracking again changes the info: a leave, then a join.
    bob.c.writeText('track room:1 {"user":"bob","away":true}');
    expect(await next(ann.c)).toEqual({ wsz: 'leave', topic: 'room:1', id: bob.id, info: { user: 'bob' } });
    expect(await next(ann.c)).toEqual({ wsz: 'join', topic: 'room:1', id: bob.id, info: { user: 'bob', away: true } });
    // Untrack, and the end of a connection, are leaves.
    ann.c.writeText('untrack room:1');
    expect(await next(ann.c)).toMatchObject({ wsz: 'leave', id: ann.id });
    ann.c.writeText('track room:1 {"user":"ann"}');
    expect(await next(ann.c)).toMatchObject({ wsz: 'join', id: ann.id });
    await bob.c.read(); // bob's own leave and join
    await bob.c.read();
    expect(await next(bob.c)).toMatchObject({ wsz: 'leave', id: ann.id });
    expect(await next(bob.c)).toMatchObject({ wsz: 'join', id: ann.id });
    ann.c.destroy();
    expect(await next(bob.c)).toEqual({ wsz: 'leave', topic: 'room:1', id: ann.id, info: { user: 'ann' } });
    expect(await server.members('room:1')).toEqual([{ id: bob.id, info: { user: 'bob', away: true } }]);
  });

  it('answers members only to a subscriber of the topic, and checks what a handler tracks', async () => {
    const { port } = await start(threads);
    const c = await connect(port, cleanup);
    c.writeText(JSON.stringify({ wsz: 'members', topic: 'room:1' }));
    expect(await next(c)).toEqual({ wsz: 'refused', topic: 'room:1', reason: 'subscribe to the topic first' });
    // Info over 1 KiB of JSON is refused (the hook fails: 1011).
    c.writeText(`track room:1 ${JSON.stringify({ big: 'x'.repeat(2000) })}`);
    const closed = await c.read();
    expect(closed).toMatchObject({ type: 'close', code: 1011 });
  });
});
