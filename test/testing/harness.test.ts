import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { AssertionError } from 'node:assert';
import { afterEach, describe, expect, it } from 'vitest';
import { Handler, type MessageType } from 'wsz';
import * as testing from 'wsz/testing';

let t: testing.TestConn | undefined;
afterEach(async () => {
  await t?.deinit();
  t = undefined;
});

describe('testing.init(): a real server-side Conn and expectations on its peer', () => {
  it('sees what the conn writes, text and binary, in order', async () => {
    t = await testing.init();
    t.conn.write('hello');
    t.conn.writeBin(Buffer.from([0xde, 0xad]));
    await t.expectMessage('text', 'hello');
    await t.expectMessage('binary', Buffer.from([0xde, 0xad]));
  });

  it('expectClose checks the code and reason', async () => {
    t = await testing.init();
    t.conn.close({ code: 4002, reason: 'done' });
    await t.expectClose(4002, 'done');
  });

  it('expectNoMessage passes on silence and fails on a message', async () => {
    t = await testing.init();
    await t.expectNoMessage(30);
    t.conn.write('surprise');
    await expect(t.expectNoMessage(200)).rejects.toThrow(/expected no message within 200 ms, received text "surprise"/);
  });

  it('fails with a readable diff: text shown as text, binary as hex', async () => {
    t = await testing.init();
    t.conn.writeBin(Buffer.from([1, 2, 255]));
    const err = (await t.expectMessage('text', 'hello').catch((e: unknown) => e)) as AssertionError;
    expect(err).toBeInstanceOf(AssertionError);
    expect(err.message).toBe('expected text "hello", received binary <01 02 ff>');
    expect(err.expected).toBe('text "hello"');
    expect(err.actual).toBe('binary <01 02 ff>');
  });

  it('times out naming what was awaited', async () => {
    t = await testing.init({ timeout: 50 });
    await expect(t.expectMessage('text', 'never')).rejects.toThrow('timed out after 50 ms waiting for text "never"');
    await expect(t.expectClose(1000)).rejects.toThrow('timed out after 50 ms waiting for close 1000');
  });
});

class Greeter extends Handler<{ greeting: string }> {
  clientMessage(data: Buffer, type: MessageType) {
    this.conn.write(`${this.app.greeting} ${data.toString()} (${type})`);
  }
}

describe('testing.handler(): the user handler through the real hook path', () => {
  it('constructs the handler with the app and delivers messages and pings', async () => {
    const h = await testing.handler(Greeter, { app: { greeting: 'hi' } });
    h.send('ann');
    await h.expectMessage('text', 'hi ann (text)');
    h.sendBin('bob');
    await h.expectMessage('text', 'hi bob (binary)');
    h.ping('p');
    await h.expectControl('pong', 'p');
    expect(h.handler).toBeInstanceOf(Greeter);
    await h.deinit();
  });

  it('reports whether close ran: after the peer closes, or vanishes', async () => {
    const a = await testing.handler(Greeter, { app: { greeting: 'x' } });
    expect(a.closed).toBe(false);
    await a.close(1000);
    await a.waitClosed();
    expect(a.closed).toBe(true);
    await a.deinit();
    const b = await testing.handler(Greeter, { app: { greeting: 'x' } });
    b.disconnect();
    await b.waitClosed();
    await b.deinit();
  });

  it('drives the serverMessage hook as server.signal would; a handler without it cannot be signalled', async () => {
    class Revocable extends Handler {
      clientMessage() {}
      serverMessage(data: unknown) {
        this.conn.close({ code: 4001, reason: (data as { reason: string }).reason });
      }
    }
    const h = await testing.handler(Revocable);
    expect(await h.signal({ reason: 'session revoked' })).toBe(true);
    await h.expectClose(4001, 'session revoked');
    await h.waitClosed();
    expect(await h.signal('too late')).toBe(false);
    await h.deinit();
    const g = await testing.handler(Greeter, { app: { greeting: 'x' } });
    await expect(g.signal('hello')).rejects.toThrow(/no serverMessage/);
    await g.deinit();
  });

  it('describes the handshake: path, query and headers reach init', async () => {
    let seen = '';
    class Inspect extends Handler {
      init(h: import('wsz').Handshake) {
        seen = `${h.path} ${h.query.get('room')} ${h.headers.get('x-user')}`;
      }
      clientMessage() {}
    }
    const h = await testing.handler(Inspect, { path: '/rooms', query: { room: '7' }, headers: { 'X-User': 'ann' } });
    expect(seen).toBe('/rooms 7 ann');
    await h.deinit();
  });
});

describe('testing.handler() with pub/sub', () => {
  it('runs a handler that subscribes and publishes: the harness client is a subscriber like any other', async () => {
    class Room extends Handler {
      init(h: import('wsz').Handshake) {
        this.conn.subscribe(`room:${h.query.get('room')}`);
      }
      clientMessage(data: Buffer) {
        this.conn.publish('room:7', data);
      }
    }
    const h = await testing.handler(Room, { query: { room: '7' } });
    h.send('to the room');
    await h.expectMessage('text', 'to the room');
    expect(h.handler.conn.topics).toEqual(['room:7']);
    await h.deinit();
  });
});

describe('the harness outside vitest', () => {
  it('works under node:test', () => {
    const file = fileURLToPath(new URL('./node-test-harness.ts', import.meta.url));
    const root = fileURLToPath(new URL('../../', import.meta.url));
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', '--conditions=wsz-source', '--test', '--test-reporter=tap', file],
      { cwd: root, encoding: 'utf8', env: { ...process.env, VITEST: '' } },
    );
    // TAP, named: node:test's default output differs between Node versions (spec on a terminal since 20, always since
    // 23).
    expect(r.stdout).toMatch(/# pass 2/);
    expect(r.stdout).toMatch(/# fail 0/);
    expect(r.status).toBe(0);
  }, 30_000);
});

describe('the harness keeps its promises (issue 10, item 19)', () => {
  it('expectMessage times out even while pings keep arriving', async () => {
    t = await testing.init({ timeout: 300 });
    const timer = setInterval(() => t!.conn.writePing('keepalive'), 20);
    try {
      await expect(t.expectMessage('text', 'never')).rejects.toThrow(/timed out after 300 ms/);
    } finally {
      clearInterval(timer);
    }
  });

  it('init({ config: { maxMessageSize } }) lets the conn send messages that large to the peer', async () => {
    t = await testing.init({ config: { maxMessageSize: 200_000 } });
    t.conn.writeBin(Buffer.alloc(150_000, 1));
    expect((await t.expectMessage('binary')).length).toBe(150_000);
  });

  it("handler(): the server's incoming limit does not limit what the handler sends", async () => {
    class Big extends Handler {
      clientMessage() {
        this.conn.writeBin(Buffer.alloc(100_000, 2));
      }
    }
    const h = await testing.handler(Big, { config: { maxMessageSize: 1000 } });
    try {
      h.send('go');
      expect((await h.expectMessage('binary')).length).toBe(100_000);
    } finally {
      await h.deinit();
    }
  });

  it('handler() refuses what new Server refuses, and observes a close hook written as a field', async () => {
    await expect(testing.handler(class {} as never)).rejects.toThrow(/clientMessage/);
    class FieldClose extends Handler {
      closed = 0;
      clientMessage(): void {}
      close = (): void => {
        this.closed++;
      };
    }
    const h = await testing.handler(FieldClose);
    await h.close();
    await h.waitClosed();
    expect(h.handler.closed).toBe(1);
    await h.deinit();
  });

  it('handler() keeps a query in path and adds query to it', async () => {
    class Query extends Handler {
      clientMessage(): void {}
    }
    let seen = '';
    class Seen extends Query {
      init(h: { query: URLSearchParams }) {
        seen = JSON.stringify([...h.query]);
      }
    }
    const h = await testing.handler(Seen, { path: '/a?x=1', query: { y: '2' } });
    await h.deinit();
    expect(seen).toBe(
      JSON.stringify([
        ['x', '1'],
        ['y', '2'],
      ]),
    );
  });

  it("handler(): an init that never settles fails after the harness's timeout", async () => {
    class Stuck extends Handler {
      init() {
        return new Promise<void>(() => {});
      }
      clientMessage(): void {}
    }
    await expect(testing.handler(Stuck, { timeout: 300, config: { closeTimeout: 200 } })).rejects.toThrow(
      /within 300 ms/,
    );
  });
});

class Fragile extends Handler<{ limit: number }> {
  clientMessage(data: Buffer): void {
    if (data.length > this.app.limit) throw new RangeError(`message of ${data.length} bytes over ${this.app.limit}`);
    this.conn.write(data);
  }
}

class Refusing extends Handler {
  init(): void {
    throw new TypeError('cannot read the session cookie');
  }
  clientMessage(): void {}
}

describe('the harness shows what the server logged, though logging is silent under test runners', () => {
  it('a hook that throws: the failed expectation names the error and its stack', async () => {
    const h = await testing.handler(Fragile, { app: { limit: 3 } });
    try {
      h.send('ok');
      await h.expectMessage('text', 'ok');
      h.send('too long');
      const err = (await h.expectMessage('text', 'too long').catch((e: unknown) => e)) as AssertionError;
      expect(err).toBeInstanceOf(AssertionError);
      expect(err.message).toMatch(
        /^expected text "too long", received close 1011 "internal error"\nthe server logged:\n {2}\[wsz\] connection \d+: clientMessage hook failed; closing with 1011 RangeError: message of 8 bytes over 3\n +at /,
      );
      expect(h.serverLog).toHaveLength(1);
    } finally {
      await h.deinit();
    }
  });

  it('an init that throws: the handshake error says why', async () => {
    await expect(testing.handler(Refusing)).rejects.toThrow(
      /the server logged:\n {2}\[wsz\] connection \d+: init threw; refusing the upgrade with 400 TypeError: cannot read the session cookie/,
    );
  });

  it("types the app from the handler's", async () => {
    // @ts-expect-error: Fragile takes { limit: number }
    const typed = () => testing.handler(Fragile, { app: { limit: 'three' } });
    expect(typeof typed).toBe('function');
  });
});
