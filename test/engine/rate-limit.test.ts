/**
 * rateLimit, before the assembler: every frame counts against the frame allowance, every message
 * (at its last frame's header) against the message allowance; either spent fails with 1008.
 */
import { describe, expect, it } from 'vitest';
import { RateLimitedFrames } from '../../packages/websocket/src/engine/rate-limit.js';
import { Opcode, ProtocolError, type FrameHeader, type FrameSink } from 'wsz/protocol';

const passing: FrameSink = { onFrameHeader: () => undefined, onFramePayload: () => undefined };
const header = (opcode: number, fin = true): FrameHeader => ({ fin, rsv1: false, opcode, length: 0 });

describe('the rate limit on frames and messages', () => {
  it('counts a message once, at its last frame, and not control frames as messages', () => {
    const limited = new RateLimitedFrames(passing, {
      messagesPerSecond: 1,
      burst: 2,
      framesPerSecond: 1000,
      frameBurst: 1000,
    });
    expect(limited.onFrameHeader(header(Opcode.Text, false))).toBeUndefined();
    expect(limited.onFrameHeader(header(Opcode.Ping))).toBeUndefined();
    expect(limited.onFrameHeader(header(Opcode.Continuation, true))).toBeUndefined(); // message 1
    expect(limited.onFrameHeader(header(Opcode.Binary))).toBeUndefined(); // message 2
    const error = limited.onFrameHeader(header(Opcode.Binary));
    expect([error?.closeCode, error?.code, error?.message]).toEqual([
      1008,
      'WSZ_ERR_RATE_LIMIT',
      'rate limit: more than 1 messages per second',
    ]);
  });

  it('counts every frame, empty fragments and pings included', () => {
    const limited = new RateLimitedFrames(passing, {
      messagesPerSecond: 1000,
      burst: 1000,
      framesPerSecond: 2,
      frameBurst: 2,
    });
    limited.onFrameHeader(header(Opcode.Ping));
    limited.onFrameHeader(header(Opcode.Text, false));
    expect(limited.onFrameHeader(header(Opcode.Continuation, false))?.message).toBe(
      'rate limit: more than 2 frames per second',
    );
  });

  it("lets the assembler's own error through first", () => {
    const failing: FrameSink = {
      onFrameHeader: () => new ProtocolError(1002, 'continuation without a message'),
      onFramePayload: () => undefined,
    };
    const limited = new RateLimitedFrames(failing, {
      messagesPerSecond: 1,
      burst: 1,
      framesPerSecond: 10,
      frameBurst: 10,
    });
    expect(limited.onFrameHeader(header(Opcode.Text))?.closeCode).toBe(1002);
  });
});
