/**
 * The session (RFC 6455 5.5.1, 7.1), without sockets: what each side may send, what answers a close,
 * who ends TCP. The server's connections and the client both keep one.
 */
import { describe, expect, it } from 'vitest';
import { AfterClose, ProtocolError, Session, SessionState } from 'wsz/protocol';

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
