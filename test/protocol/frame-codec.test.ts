import { describe, expect, it } from 'vitest';
import { encodeClosePayload, encodeFrame, frameHeaderLength, maskWord, Opcode } from 'wsz/protocol';

describe('frame writer', () => {
  it('writes the RFC 6455 5.7 unmasked "Hello" text frame', () => {
    expect(encodeFrame(Opcode.Text, 'Hello')).toEqual(Buffer.from([0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]));
  });

  it('writes the RFC 6455 5.7 masked "Hello" frame', () => {
    const mask = maskWord(Buffer.from([0x37, 0xfa, 0x21, 0x3d]), 0);
    expect(encodeFrame(Opcode.Text, 'Hello', { mask })).toEqual(Buffer.from([0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]));
  });

  it('uses the 7-bit, 16-bit and 64-bit length encodings at their boundaries', () => {
    expect(encodeFrame(Opcode.Binary, Buffer.alloc(125)).subarray(0, 2)).toEqual(Buffer.from([0x82, 125]));
    expect(encodeFrame(Opcode.Binary, Buffer.alloc(126)).subarray(0, 4)).toEqual(Buffer.from([0x82, 126, 0, 126]));
    expect(encodeFrame(Opcode.Binary, Buffer.alloc(65535)).subarray(0, 4)).toEqual(Buffer.from([0x82, 126, 0xff, 0xff]));
    expect(encodeFrame(Opcode.Binary, Buffer.alloc(65536)).subarray(0, 10)).toEqual(Buffer.from([0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0]));
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
    for (const code of [999, 1004, 1005, 1006, 1015, 1016, 2999, 5000]) expect(() => encodeClosePayload(code)).toThrow(RangeError);
    expect(() => encodeClosePayload(1000, 'x'.repeat(124))).toThrow(/123/);
    expect(encodeClosePayload(1000, 'x'.repeat(123)).length).toBe(125);
  });
});
