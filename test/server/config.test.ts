import { describe, expect, it } from 'vitest';
import { Handler, resolveConfig, Server } from 'wsz';

class Noop extends Handler {
  clientMessage(): void {}
}

describe('configuration', () => {
  it("has websocket.zig's defaults", () => {
    const c = resolveConfig();
    expect(c).toMatchObject({
      port: 9882,
      address: '127.0.0.1',
      unixPath: null,
      maxConn: 16384,
      maxMessageSize: 65536,
      handshake: { timeout: 10_000, maxSize: 16384, maxHeaders: 100, count: 32 },
      buffers: { smallSize: 2048, smallPool: null, largeSize: 4096, largePool: 8 },
      threadPool: { count: 4, backlog: 500, bufferSize: 1_048_576 },
    });
  });

  it('limits backpressure to max(1 MiB, 2 * maxMessageSize) by default', () => {
    expect(resolveConfig().maxBackpressure).toBe(1 << 20);
    expect(resolveConfig({ maxMessageSize: 16 << 20 }).maxBackpressure).toBe(32 << 20);
    expect(resolveConfig({ maxBackpressure: 0 }).maxBackpressure).toBe(0);
  });

  it('derives largeSize as min(2 * smallSize, maxMessageSize)', () => {
    expect(resolveConfig({ maxMessageSize: 3000 }).buffers.largeSize).toBe(3000);
    expect(resolveConfig({ buffers: { smallSize: 4096 } }).buffers.largeSize).toBe(8192);
  });

  it('rejects invalid values with a TypeError naming the field and what it takes', () => {
    expect(() => new Server(Noop, { port: 70000 })).toThrow(
      /invalid config port: 70000; expected an integer from 0 to 65535/,
    );
    expect(() => new Server(Noop, { maxMessageSize: 0 })).toThrow(/maxMessageSize/);
    expect(() => new Server(Noop, { handshake: { timeout: -1 } })).toThrow(/handshake.timeout/);
    expect(() => new Server(Noop, { buffers: { largePool: 1.5 } })).toThrow(/buffers.largePool/);
    expect(() => new Server(Noop, { logLevel: 'loud' as never })).toThrow(/logLevel/);
  });

  it('rejects unknown fields, listing the known ones', () => {
    expect(() => new Server(Noop, { maxMesageSize: 10 } as never)).toThrow(
      /unknown config maxMesageSize; known fields: port, address/,
    );
    expect(() => new Server(Noop, { handshake: { timout: 1 } } as never)).toThrow(/unknown config handshake.timout/);
  });

  it("names wsz's word for what users of ws and uWebSockets.js type", () => {
    expect(() => new Server(Noop, { host: '0.0.0.0' } as never)).toThrow(
      /unknown config host \(wsz calls it 'address'/,
    );
    expect(() => new Server(Noop, { maxPayload: 1 } as never)).toThrow(
      /unknown config maxPayload \(wsz calls it 'maxMessageSize'\)/,
    );
    expect(() => new Server(Noop, { noServer: true } as never)).toThrow(
      /unknown config noServer \(wsz calls it 'server.handleUpgrade/,
    );
  });

  it('says what is wrong with a config that is not an object, and with unixPath beside port', () => {
    expect(() => new Server(Noop, null as never)).toThrow(
      'new Server(HandlerClass, config): config must be an object (or left out), got null',
    );
    expect(() => new Server(Noop, { unixPath: '/tmp/x.sock', port: 8080 })).toThrow(
      /unixPath listens on a Unix socket, so port would be ignored/,
    );
  });

  it('rejects a handler class without clientMessage', () => {
    class Empty {}
    expect(() => new Server(Empty as never)).toThrow(/clientMessage/);
  });

  it('reports the bound address and a clear error when the port is taken', async () => {
    const a = new Server(Noop, { port: 0, logLevel: 'silent', threadPool: { count: 0 } });
    const bound = await a.listen();
    expect(a.address).toEqual(bound);
    const port = (bound as { port: number }).port;
    const b = new Server(Noop, { port, logLevel: 'silent', threadPool: { count: 0 } });
    await expect(b.listen()).rejects.toThrow(new RegExp(`cannot listen on 127.0.0.1:${port}: .*EADDRINUSE`));
    await a.stop();
  });
});
