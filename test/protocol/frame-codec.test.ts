import { describe, expect, it } from 'vitest';
import {
  checkFrameToWrite,
  checkServerFrames,
  encodeClosePayload,
  encodeFrame,
  frameHeaderLength,
  maskWord,
  Opcode,
} from 'wsz/protocol';

describe('frame writer', () => {
  it('writes the RFC 6455 5.7 unmasked "Hello" text frame', () => {
    expect(encodeFrame(Opcode.Text, 'Hello')).toEqual(Buffer.from([0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]));
  });

  it('writes the RFC 6455 5.7 masked "Hello" frame', () => {
    const mask = maskWord(Buffer.from([0x37, 0xfa, 0x21, 0x3d]), 0);
    expect(encodeFrame(Opcode.Text, 'Hello', { mask })).toEqual(
      Buffer.from([0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]),
    );
  });

  it('uses the 7-bit, 16-bit and 64-bit length encodings at their boundaries', () => {
    expect(encodeFrame(Opcode.Binary, Buffer.alloc(125)).subarray(0, 2)).toEqual(Buffer.from([0x82, 125]));
    expect(encodeFrame(Opcode.Binary, Buffer.alloc(126)).subarray(0, 4)).toEqual(Buffer.from([0x82, 126, 0, 126]));
    expect(encodeFrame(Opcode.Binary, Buffer.alloc(65535)).subarray(0, 4)).toEqual(
      Buffer.from([0x82, 126, 0xff, 0xff]),
    );
    expect(encodeFrame(Opcode.Binary, Buffer.alloc(65536)).subarray(0, 10)).toEqual(
      Buffer.from([0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0]),
    );
    expect([0, 125, 126, 65535, 65536].map((n) => frameHeaderLength(n, false))).toEqual([2, 2, 4, 4, 10]);
    expect(frameHeaderLength(0, true)).toBe(6);
  });

  it('clears FIN for a non-final fragment and sets RSV1 when asked', () => {
    expect(encodeFrame(Opcode.Text, 'a', { fin: false })[0]).toBe(0x01);
    expect(encodeFrame(Opcode.Binary, 'a', { rsv1: true })[0]).toBe(0xc2);
  });

  it('refuses a control frame over 125 bytes', () => {
    expect(() => encodeFrame(Opcode.Ping, Buffer.alloc(126))).toThrow(/at most 125/);
  });

  it('encodes a close payload as code then UTF-8 reason', () => {
    expect(encodeClosePayload(1000, 'bye')).toEqual(Buffer.from([0x03, 0xe8, 0x62, 0x79, 0x65]));
    expect(encodeClosePayload()).toEqual(Buffer.alloc(0));
  });

  it('refuses close codes that may not be sent and reasons over 123 bytes', () => {
    for (const code of [999, 1004, 1005, 1006, 1015, 1016, 2999, 5000])
      expect(() => encodeClosePayload(code)).toThrow(RangeError);
    expect(() => encodeClosePayload(1000, 'x'.repeat(124))).toThrow(/123/);
    expect(encodeClosePayload(1000, 'x'.repeat(123)).length).toBe(125);
  });
});

describe('what an application may write', () => {
  it('refuses negative, fractional, reserved and close opcodes', () => {
    for (const op of [-1, -248, 1.5, 3, 7, 11, 15, 16, 8, NaN])
      expect(() => checkFrameToWrite(op, 0, true, 'conn.close()'), String(op)).toThrow(RangeError);
    for (const op of [0, 1, 2, 9, 10]) expect(() => checkFrameToWrite(op, 0, true, 'conn.close()')).not.toThrow();
  });

  it('takes pre-framed bytes only as whole messages of valid unmasked frames, never a close', () => {
    const f = (b0: number, payload = 0) => Buffer.concat([Buffer.from([b0, payload]), Buffer.alloc(payload)]);
    const bad: Array<[string, Buffer]> = [
      ['close', f(0x88, 2)],
      ['200-byte ping', Buffer.concat([Buffer.from([0x89, 126, 0, 200]), Buffer.alloc(200)])],
      ['fragmented ping', f(0x09)],
      ['RSV1', f(0xc1, 1)],
      ['RSV3', f(0x91, 1)],
      ['lone continuation', f(0x80, 1)],
      ['message left open', f(0x01, 1)],
      ['message inside a message', Buffer.concat([f(0x01, 1), f(0x82, 1)])],
    ];
    for (const [what, bytes] of bad) expect(typeof checkServerFrames(bytes), what).toBe('string');
    expect(checkServerFrames(Buffer.concat([f(0x01, 3), f(0x89, 1), f(0x80, 3), f(0x8a)]))).toEqual({ dataFrames: 2 });
    expect(checkServerFrames(f(0x89, 4))).toEqual({ dataFrames: 0 });
  });
});
