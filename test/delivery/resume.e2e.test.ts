/**
 * Delivery, end to end (docs/delivery.md): with `static delivery = true`, publications arrive in envelopes with
 * their topic and position; a client subscribes with a command, and after a reconnect resumes from the last
 * position it saw, getting exactly the messages it missed, in order, then the live stream; or it is told plainly
 * that it did not recover.
 */
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { Server, type DeliveryEvent, type ServerConfig } from 'wsz';
import { Client } from 'wsz/client';
import { connect, inMode, mode, next, useCleanup } from '../helpers/delivery-suite.js';
import { Delivering } from '../helpers/delivering.js';
import { Topical } from '../helpers/topical.js';
import { MODES } from '../helpers/modes.js';

const cleanup = useCleanup();

const HISTORY: ServerConfig['pubsub'] = { history: [{ topic: 'room:*', messages: 5 }, { topic: 'news' }] };

async function start(threads: number, config: ServerConfig = {}, handler = Delivering): Promise<number> {
  const server = new Server(handler, {
    port: 0,
    logLevel: 'silent',
    closeTimeout: 1000,
    workerCount: mode.workerCount,
    pubsub: HISTORY,
    ...config,
    threadPool: { count: threads },
  });
  const { port } = (await server.listen()) as AddressInfo;
  cleanup.push(() => server.stop());
  return port;
}

function send(c: Client, command: object): void {
  c.writeText(JSON.stringify(command));
}

/** Publishes `texts` to `topic` from `c`, and waits until `c` has them back (it is subscribed). */
async function publish(c: Client, topic: string, texts: string[]): Promise<void> {
  for (const t of texts) c.writeText(`pub ${topic} ${t}`);
  for (let i = 0; i < texts.length; i++) await next(c);
}

describe.each(MODES)('delivery ($name)', ({ threads, workers }) => {
  inMode(workers);

  it('answers a subscribe with the position it starts after, then delivers publications in envelopes', async () => {
    const port = await start(threads);
    const a = await connect(port, cleanup);
    send(a, { wsz: 'subscribe', topic: 'room:1' });
    const answer = (await next(a)) as Extract<DeliveryEvent, { wsz: 'subscribed' }>;
    expect(answer).toMatchObject({ wsz: 'subscribed', topic: 'room:1', offset: 0 });
    expect(typeof answer.epoch).toBe('string');
    expect(answer.recovered).toBeUndefined();
    a.writeText('pub room:1 hello');
    a.writeText('pubbin room:1 bytes');
    expect(await next(a)).toEqual({ wsz: 'pub', topic: 'room:1', offset: 1, epoch: answer.epoch, data: 'hello' });
    expect(await next(a)).toEqual({
      wsz: 'pub',
      topic: 'room:1',
      offset: 2,
      epoch: answer.epoch,
      binary: true,
      data: Buffer.from('bytes').toString('base64'),
    });
    // The application's own messages are untouched.
    a.writeText('say plain');
    expect(await next(a)).toBe('plain');
  });

  it('resumes after a reconnect: exactly the messages missed, in order, then the live stream', async () => {
    const port = await start(threads);
    const a = await connect(port, cleanup);
    const b = await connect(port, cleanup);
    send(a, { wsz: 'subscribe', topic: 'room:1' });
    send(b, { wsz: 'subscribe', topic: 'room:1' });
    const { epoch } = (await next(a)) as { epoch: string };
    await next(b);
    await publish(b, 'room:1', ['m1', 'm2']);
    expect(await next(a)).toMatchObject({ offset: 1, data: 'm1' });
    expect(await next(a)).toMatchObject({ offset: 2, data: 'm2' });
    // a's connection drops; three messages are published meanwhile.
    a.destroy();
    await publish(b, 'room:1', ['m3', 'm4', 'm5']);
    const again = await connect(port, cleanup);
    send(again, { wsz: 'subscribe', topic: 'room:1', since: { offset: 2, epoch } });
    expect(await next(again)).toEqual({
      wsz: 'subscribed',
      topic: 'room:1',
      offset: 5,
      epoch,
      recovered: true,
    });
    for (const [offset, data] of [
      [3, 'm3'],
      [4, 'm4'],
      [5, 'm5'],
    ] as const)
      expect(await next(again)).toEqual({ wsz: 'pub', topic: 'room:1', offset, epoch, data });
    b.writeText('pub room:1 m6');
    expect(await next(again)).toMatchObject({ offset: 6, data: 'm6' });
    // Resuming at the newest position recovers with nothing to replay.
    const third = await connect(port, cleanup);
    send(third, { wsz: 'subscribe', topic: 'room:1', since: { offset: 6, epoch } });
    expect(await next(third)).toMatchObject({ wsz: 'subscribed', offset: 6, recovered: true });
    b.writeText('pub room:1 m7');
    expect(await next(third)).toMatchObject({ offset: 7, data: 'm7' });
  });

  it('says plainly when it cannot recover: position too old, epoch changed, position ahead, no history', async () => {
    const port = await start(threads);
    const a = await connect(port, cleanup);
    send(a, { wsz: 'subscribe', topic: 'room:1' });
    const { epoch } = (await next(a)) as { epoch: string };
    // room:* keeps 5 messages: after 7, offset 1 is too old (2 is the oldest it could resume after).
    await publish(a, 'room:1', ['1', '2', '3', '4', '5', '6', '7']);
    const cases: Array<[object, object]> = [
      [
        { offset: 1, epoch },
        { recovered: false, reason: 'position too old', offset: 7, epoch },
      ],
      [
        { offset: 2, epoch },
        { recovered: true, offset: 7 },
      ],
      [
        { offset: 3, epoch: 'other' },
        { recovered: false, reason: 'epoch changed', offset: 7, epoch },
      ],
      [
        { offset: 9, epoch },
        { recovered: false, reason: 'position ahead' },
      ],
    ];
    for (const [since, expected] of cases) {
      const c = await connect(port, cleanup);
      send(c, { wsz: 'subscribe', topic: 'room:1', since });
      expect(await next(c)).toMatchObject({ wsz: 'subscribed', topic: 'room:1', ...expected });
    }
    // A topic without history: publications carry no position, a resume does not recover.
    const c = await connect(port, cleanup);
    send(c, { wsz: 'subscribe', topic: 'room-less' });
    expect(await next(c)).toMatchObject({ wsz: 'refused', reason: 'not allowed' });
    send(c, { wsz: 'subscribe', topic: 'later:x', since: { offset: 0, epoch: '' } });
    expect(await next(c)).toEqual({ wsz: 'subscribed', topic: 'later:x', recovered: false, reason: 'no history' });
    c.writeText('pub later:x hi');
    expect(await next(c)).toEqual({ wsz: 'pub', topic: 'later:x', data: 'hi' });
  });

  it('keeps history while nobody is subscribed, from every publisher, in one order', async () => {
    const port = await start(threads);
    const pubs = await Promise.all([connect(port, cleanup), connect(port, cleanup), connect(port, cleanup)]);
    // A first subscriber learns the epoch, and leaves.
    const first = await connect(port, cleanup);
    send(first, { wsz: 'subscribe', topic: 'news' });
    const { epoch, offset } = (await next(first)) as { epoch: string; offset: number };
    expect(offset).toBe(0);
    send(first, { wsz: 'unsubscribe', topic: 'news' });
    expect(await next(first)).toEqual({ wsz: 'unsubscribed', topic: 'news' });
    for (let i = 0; i < 10; i++) for (const [j, p] of pubs.entries()) p.writeText(`pub news ${j}-${i}`);
    // A direct write after its publishes reaches each publisher once they were all carried out.
    for (const p of pubs) p.writeText('say done');
    for (const p of pubs) expect(await next(p)).toBe('done');
    const reader = await connect(port, cleanup);
    send(reader, { wsz: 'subscribe', topic: 'news', since: { offset: 0, epoch } });
    expect(await next(reader)).toEqual({ wsz: 'subscribed', topic: 'news', offset: 30, epoch, recovered: true });
    const seen: string[] = [];
    for (let i = 1; i <= 30; i++) {
      const e = (await next(reader)) as { offset: number; data: string };
      expect(e.offset).toBe(i);
      seen.push(e.data);
    }
    // Each publisher's messages in the order it sent them.
    for (let j = 0; j < 3; j++) {
      expect(seen.filter((s) => s.startsWith(`${j}-`))).toEqual(Array.from({ length: 10 }, (_, i) => `${j}-${i}`));
    }
  });

  it('works the same with permessage-deflate: publications and a resume arrive whole', async () => {
    const port = await start(threads, { perMessageDeflate: { threshold: 0 } });
    const open = async (): Promise<Client> => {
      const c = await Client.connect(`ws://127.0.0.1:${port}/`, { readTimeout: 3000, perMessageDeflate: true });
      cleanup.push(() => c.destroy());
      return c;
    };
    const a = await open();
    send(a, { wsz: 'subscribe', topic: 'room:z' });
    const { epoch } = (await next(a)) as { epoch: string };
    const long = 'compressible '.repeat(200);
    await publish(a, 'room:z', [`1 ${long}`, `2 ${long}`]);
    a.destroy();
    const b = await open();
    send(b, { wsz: 'subscribe', topic: 'room:z', since: { offset: 1, epoch } });
    expect(await next(b)).toMatchObject({ wsz: 'subscribed', recovered: true, offset: 2 });
    expect(await next(b)).toMatchObject({ offset: 2, data: `2 ${long}` });
  });

  it('gives one order per topic: 4 publishers, 8 subscribers, the same sequence with consecutive offsets', async () => {
    const port = await start(threads);
    const subscribers = await Promise.all(Array.from({ length: 8 }, () => connect(port, cleanup)));
    for (const c of subscribers) send(c, { wsz: 'subscribe', topic: 'room:order' });
    const starts = await Promise.all(subscribers.map((c) => next(c) as Promise<{ offset: number }>));
    expect(starts.map((s) => s.offset)).toEqual(Array(8).fill(0));
    const publishers = await Promise.all(Array.from({ length: 4 }, () => connect(port, cleanup)));
    publishers.forEach((p, j) => {
      for (let i = 0; i < 25; i++) p.writeText(`pub room:order p${j}-${i}`);
    });
    const sequences = await Promise.all(
      subscribers.map(async (c) => {
        const seen: string[] = [];
        for (let i = 1; i <= 100; i++) {
          const e = (await next(c)) as { offset: number; data: string };
          expect(e.offset).toBe(i);
          seen.push(e.data);
        }
        return seen;
      }),
    );
    for (const seen of sequences) expect(seen).toEqual(sequences[0]);
    for (let j = 0; j < 4; j++) {
      const mine = sequences[0]!.filter((d) => d.startsWith(`p${j}-`));
      expect(mine).toEqual(Array.from({ length: 25 }, (_, i) => `p${j}-${i}`));
    }
  });

  it('leaves subscribing to the handler: canSubscribe (sync or async) decides, and bad commands are refused', async () => {
    const port = await start(threads);
    const c = await connect(port, cleanup);
    send(c, { wsz: 'subscribe', topic: 'secret' });
    expect(await next(c)).toEqual({ wsz: 'refused', topic: 'secret', reason: 'not allowed' });
    send(c, { wsz: 'subscribe', topic: 'live:1', since: { offset: 0, epoch: 'x' } });
    expect(await next(c)).toEqual({ wsz: 'refused', topic: 'live:1', reason: 'not allowed' });
    send(c, { wsz: 'subscribe', topic: 'later:1' });
    expect(await next(c)).toMatchObject({ wsz: 'subscribed', topic: 'later:1' });
    send(c, { wsz: 'subscribe', topic: 'later:1' });
    expect(await next(c)).toEqual({ wsz: 'refused', topic: 'later:1', reason: 'already subscribed' });
    c.writeText('{"wsz":"subscribe"');
    expect(await next(c)).toEqual({ wsz: 'refused', reason: 'not JSON' });
    send(c, { wsz: 'dance', topic: 'x' });
    expect(await next(c)).toEqual({ wsz: 'refused', reason: 'unknown command "dance"' });
    send(c, { wsz: 'subscribe', topic: 'room:1', since: { offset: -1, epoch: 'x' } });
    expect(await next(c)).toMatchObject({ wsz: 'refused', reason: expect.stringContaining('since is') });
    send(c, { wsz: 'subscribe', topic: '' });
    expect(await next(c)).toMatchObject({ wsz: 'refused', reason: expect.stringContaining('may not be empty') });
    send(c, { wsz: 'subscribe', topic: `room:${'x'.repeat(300)}` });
    expect(await next(c)).toMatchObject({ wsz: 'refused', reason: expect.stringContaining('pubsub.maxTopicLength') });
    // The connection is fine after all of it.
    c.writeText('say still here');
    expect(await next(c)).toBe('still here');
  });
});

describe('without delivery', () => {
  it('a handler that does not opt in sees the same messages as before (commands are its own)', async () => {
    const port = await start(0, {}, Topical as unknown as typeof Delivering);
    const c = await connect(port, cleanup);
    expect(await next(c)).toMatch(/^id \d+$/);
    c.writeText('sub room:1');
    expect(await next(c)).toBe('sub room:1 true');
    c.writeText('pub room:1 raw');
    expect(await next(c)).toBe('raw');
  });
});
