/**
 * The server's life: listen and stop in any order, inits that outlive a stop, maxConn, handler
 * shapes and config errors a new user meets (issue 10, items 14, 23, 24, 25).
 */
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Handler, Server } from 'wsz';
import { MODES, inMode, openGate, serve, type Cleanup } from '../helpers/modes.js';
import { RawClient } from '../helpers/raw-client.js';
import { eventually } from '../helpers/server.js';
import { ArrowHooks } from '../threads/fixtures/arrow-hooks.js';

let cleanup: Cleanup = [];
afterEach(async () => {
  for (const c of cleanup) await c();
  cleanup = [];
});

class Noop extends Handler {
  clientMessage(): void {}
}

describe('listen and stop', () => {
  for (const threads of [0, 1]) {
    it(`stop() while listen() is starting stops the server: nothing keeps listening (threads ${threads})`, async () => {
      const server = new Server((threads ? ArrowHooks : Noop) as typeof Noop, {
        port: 0,
        logLevel: 'silent',
        threadPool: { count: threads },
      });
      const listening = server.listen();
      const stopped = server.stop();
      await expect(listening).rejects.toThrow(/stop\(\) was called before listening completed/);
      await stopped;
      expect(server.address).toBeNull();
    });
  }

  it('listen() after stop() says the server was stopped', async () => {
    const server = new Server(Noop, { port: 0, logLevel: 'silent', threadPool: { count: 0 } });
    await server.listen();
    await server.stop();
    await expect(server.listen()).rejects.toThrow(/this server was stopped; create a new Server/);
  });
});

describe.each(MODES)('stop() during an async init ($name)', ({ threads, workers }) => {
  inMode(workers);
  it('waits for the init, and its close hook has run when stop() resolves', async () => {
    const s = await serve(threads, { behaviour: 'gatedInitMarksClose' });
    cleanup.push(() => s.stop());
    const c = await RawClient.connect(s.port);
    cleanup.unshift(() => c.destroy());
    await eventually('init', () => s.events.includes('init /'));
    const stopped = s.server.stop();
    setTimeout(() => openGate(s.shared), 100);
    await stopped;
    expect(Atomics.load(new Int32Array(s.shared), 1)).toBe(1);
  });
});

describe.each(MODES)('maxConn ($name)', ({ threads, workers }) => {
  inMode(workers);
  it('counts handshaking sockets: one accepted beyond the limit gets 503 at once', async () => {
    const s = await serve(threads, { config: { maxConn: 2 } });
    cleanup.push(() => s.stop());
    const idle1 = await RawClient.connect(s.port, null); // connected, no request yet
    const idle2 = await RawClient.connect(s.port, null);
    const third = await RawClient.connect(s.port, null);
    cleanup.unshift(
      () => idle1.destroy(),
      () => idle2.destroy(),
      () => third.destroy(),
    );
    const res = await third.readResponse();
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
    expect(s.server.stats().upgraded).toBe(0);
  });
});

describe('handler shapes', () => {
  for (const threads of [0, 1]) {
    it(`hooks written as arrow-function class fields work like methods (threads ${threads})`, async () => {
      const server = new Server(ArrowHooks, { port: 0, logLevel: 'silent', threadPool: { count: threads } });
      cleanup.push(() => server.stop());
      const { port } = (await server.listen()) as AddressInfo;
      await check(port);
    });
  }

  async function check(port: number): Promise<void> {
    const refused = await RawClient.connect(
      port,
      [
        `GET /no HTTP/1.1`,
        'Host: x',
        'Upgrade: websocket',
        'Connection: Upgrade',
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
        'Sec-WebSocket-Version: 13',
        '',
        '',
      ].join('\r\n'),
    );
    cleanup.unshift(() => refused.destroy());
    expect((await refused.readResponse()).status).toBe(403);
    const c = await RawClient.open(port);
    cleanup.unshift(() => c.destroy());
    c.sendFrame(1, 'hi');
    expect((await c.nextFrame()).payload.toString()).toBe('hi');
  }

  it('a class without clientMessage, as method or field, is refused', () => {
    class Nothing {}
    expect(() => new Server(Nothing as never)).toThrow(/clientMessage/);
  });
});

describe('config errors a new user meets', () => {
  it('a port given as text says it got a string and how to convert it', () => {
    expect(() => new Server(Noop, { port: '9001' as never })).toThrow(
      /invalid config port: got string "9001"; expected an integer from 0 to 65535 \(config values are not parsed: convert text such as process.env values with Number\(\)\)/,
    );
  });
});
