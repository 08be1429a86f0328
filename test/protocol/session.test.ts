/**
 * The session (RFC 6455 5.5.1, 7.1), without sockets: what each side may send, what answers a close,
 * who ends TCP. The server's connections and the client both keep one.
 */
import { describe, expect, it } from 'vitest';
import {
  AfterClose,
  encodeClosePayload,
  encodeFrame,
  Opcode,
  ProtocolError,
  Session,
  SessionState,
  type MessageSink,
} from 'wsz/protocol';

const code = (payload: Buffer | null): number | null =>
  payload === null ? null : payload.length === 0 ? 1005 : payload.readUInt16BE(0);

describe('a session', () => {
  it('starts open: frames may be sent, no close either way', () => {
    const s = new Session('server');
    expect(s.state).toBe(SessionState.Open);
    expect(s.canSend).toBe(true);
    expect([s.closeSent, s.closeReceived, s.closedFirstBy]).toEqual([false, false, null]);
  });

  it('we close first: nothing more may be sent, the peer has the close timeout to answer', () => {
    const s = new Session('server');
    expect(code(s.close(1000, 'bye'))).toBe(1000);
    expect(s.state).toBe(SessionState.Closing);
    expect(s.canSend).toBe(false);
    expect(s.closedFirstBy).toBe('us');
    expect(s.afterClose()).toBe(AfterClose.AwaitPeer);
    expect(s.close(1001)).toBeNull(); // one close frame per connection
    expect(s.peerClosed()).toBe(true); // its answer completes the handshake
    expect(s.state).toBe(SessionState.Closed);
  });

  it('the peer closes first: our answer echoes its code, or is empty when it gave none (1005)', () => {
    const s = new Session('server');
    expect(s.peerClosed()).toBe(false);
    expect(s.closedFirstBy).toBe('peer');
    expect(s.canSend).toBe(true); // replies to what came before may still go, then our close
    expect(code(s.answer(4001))).toBe(4001);
    expect(s.state).toBe(SessionState.Closed);
    const t = new Session('client');
    t.peerClosed();
    expect(t.answer(1005)).toEqual(Buffer.alloc(0));
  });

  it('once both close frames are exchanged, the server ends TCP and the client waits for it (RFC 6455 7.1.1)', () => {
    for (const [role, after] of [
      ['server', AfterClose.EndTcp],
      ['client', AfterClose.AwaitTcpEnd],
    ] as const) {
      const s = new Session(role);
      s.peerClosed();
      s.answer(1000);
      expect(s.afterClose()).toBe(after);
    }
  });

  it("fails with the error's close code and as much of its message as fits in 123 bytes", () => {
    const s = new Session('server');
    const payload = s.fail(new ProtocolError(1007, `bad bytes ${'x'.repeat(200)}`, 'WSZ_ERR_INVALID_UTF8'))!;
    expect(payload.readUInt16BE(0)).toBe(1007);
    expect(payload.length).toBeLessThanOrEqual(125);
    expect(s.fail(new ProtocolError(1002, 'again'))).toBeNull();
  });

  it('ends TCP once, and sends nothing once the socket is gone', () => {
    const s = new Session('client');
    expect(s.endingTcp()).toBe(true);
    expect(s.endingTcp()).toBe(false);
    s.socketGone();
    expect(s.canSend).toBe(false);
    expect(s.close()).toBeNull();
    expect(s.state).toBe(SessionState.Closed);
  });
});

/** A sink that records every event the session reads, in order. */
function recorder(): { events: string[]; sink: MessageSink } {
  const events: string[] = [];
  const sink: MessageSink = {
    onMessage: (data, type) => void events.push(`${type}:${data.toString()}`),
    onPing: (data) => void events.push(`ping:${data.toString()}`),
    onPong: (data) => void events.push(`pong:${data.toString()}`),
    onClose: (code, reason) => void events.push(`close:${code}:${reason}`),
  };
  return { events, sink };
}

const masked = (opcode: number, payload: string | Buffer, fin = true): Buffer =>
  encodeFrame(opcode, payload, { fin, mask: 0x12345678 });

describe('a session reading (bytes in, events out)', () => {
  it('turns masked client frames into events on the server side, however the bytes are cut', () => {
    const bytes = Buffer.concat([
      masked(Opcode.Text, 'hel', false),
      masked(Opcode.Ping, 'p'),
      masked(Opcode.Continuation, 'lo'),
      masked(Opcode.Binary, 'bin'),
      masked(Opcode.Close, encodeClosePayload(1000, 'bye')),
    ]);
    for (const cut of [1, 3, 7, bytes.length]) {
      const s = new Session('server');
      const { events, sink } = recorder();
      s.startReading(sink, { maxMessageSize: 1024, allowRsv1: false });
      for (let at = 0; at < bytes.length; at += cut) {
        expect(s.receive(Buffer.from(bytes.subarray(at, at + cut)))).toBeUndefined();
      }
      expect(events).toEqual(['ping:p', 'text:hello', 'binary:bin', 'close:1000:bye']);
    }
  });

  it('reads unmasked server frames on the client side', () => {
    const s = new Session('client');
    const { events, sink } = recorder();
    s.startReading(sink, { maxMessageSize: 1024, allowRsv1: false });
    expect(s.receive(encodeFrame(Opcode.Text, 'hi'))).toBeUndefined();
    expect(events).toEqual(['text:hi']);
  });

  it('fails at a frame the role forbids: an unmasked frame to a server, a masked one to a client (1002)', () => {
    const server = new Session('server');
    server.startReading(recorder().sink, { maxMessageSize: 1024, allowRsv1: false });
    expect(server.receive(encodeFrame(Opcode.Text, 'x'))?.closeCode).toBe(1002);
    expect(server.reading).toBe(false);
    const client = new Session('client');
    client.startReading(recorder().sink, { maxMessageSize: 1024, allowRsv1: false });
    expect(client.receive(masked(Opcode.Text, 'x'))?.closeCode).toBe(1002);
  });

  it('fails at the first invalid UTF-8 byte (1007) and at a message over maxMessageSize (1009)', () => {
    const s = new Session('server');
    const { events, sink } = recorder();
    s.startReading(sink, { maxMessageSize: 4, allowRsv1: false });
    expect(s.receive(masked(Opcode.Text, Buffer.from([0x61, 0xff])))?.closeCode).toBe(1007);
    expect(events).toEqual([]);
    const t = new Session('server');
    t.startReading(recorder().sink, { maxMessageSize: 4, allowRsv1: false });
    expect(t.receive(masked(Opcode.Binary, 'too long'))?.closeCode).toBe(1009);
  });

  it('reads nothing after the peer closed, nor after stopReading', () => {
    const s = new Session('server');
    const { events, sink } = recorder();
    s.startReading(sink, { maxMessageSize: 1024, allowRsv1: false });
    s.receive(masked(Opcode.Close, encodeClosePayload(1001)));
    expect(s.peerClosed()).toBe(false); // the sink is told; the session records it
    expect(s.reading).toBe(false);
    const t = new Session('server');
    t.startReading(sink, { maxMessageSize: 1024, allowRsv1: false });
    t.stopReading();
    expect(t.reading).toBe(false);
    expect(events).toEqual(['close:1001:']);
  });

  it('lets a wrapper see every frame first (a rate limit), and stop the reading with its own error', () => {
    const s = new Session('server');
    const { events, sink } = recorder();
    let frames = 0;
    s.startReading(sink, {
      maxMessageSize: 1024,
      allowRsv1: false,
      frames: (assembler) => ({
        onFrameHeader: (h) =>
          ++frames > 2 ? new ProtocolError(1008, 'too many', 'WSZ_ERR_RATE_LIMIT') : assembler.onFrameHeader(h),
        onFramePayload: (data, start, end, last) => assembler.onFramePayload(data, start, end, last),
      }),
    });
    const error = s.receive(
      Buffer.concat([masked(Opcode.Text, 'a'), masked(Opcode.Text, 'b'), masked(Opcode.Text, 'c')]),
    );
    expect(error?.code).toBe('WSZ_ERR_RATE_LIMIT');
    expect(events).toEqual(['text:a', 'text:b']);
  });
});
