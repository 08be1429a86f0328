import { describe, expect, it } from 'vitest';
import {
  FrameReader,
  MessageAssembler,
  type MessageSink,
  type ProtocolError,
  type ProtocolErrorCode,
} from 'wsz/protocol';
import { closeBody, frame } from '../helpers/raw-client.js';

/** Feeds `bytes` to a server-side reader + assembler in pieces of `step` bytes; records what comes out. */
function receive(
  bytes: Buffer,
  opts: { step?: number; cuts?: number[]; maxMessageSize?: number; role?: 'server' | 'client' } = {},
) {
  const events: string[] = [];
  const sink: MessageSink = {
    onMessage: (data, type) => events.push(`${type}:${type === 'text' ? data.toString() : data.toString('hex')}`),
    onPing: (data) => events.push(`ping:${data.toString()}`),
    onPong: (data) => events.push(`pong:${data.toString()}`),
    onClose: (code, reason) => events.push(`close:${code}:${reason}`),
  };
  const assembler = new MessageAssembler(sink, { maxMessageSize: opts.maxMessageSize ?? 1 << 20 });
  const reader = new FrameReader(assembler, { role: opts.role ?? 'server' });
  const input = Buffer.from(bytes); // the reader unmasks in place
  const cuts = opts.cuts ?? [];
  if (opts.step) for (let i = opts.step; i < input.length; i += opts.step) cuts.push(i);
  const bounds = [0, ...cuts, input.length];
  let error: ProtocolError | undefined;
  let errorPiece = -1;
  for (let i = 0; i + 1 < bounds.length && !error; i++) {
    error = reader.push(input.subarray(bounds[i], bounds[i + 1]));
    if (error) errorPiece = i;
  }
  return { events, error, code: error?.closeCode, errorPiece };
}

const cat = (...b: Buffer[]) => Buffer.concat(b);

describe('frame reader and message assembler', () => {
  describe('well-formed input', () => {
    it('delivers a masked text message', () => {
      expect(receive(frame(1, 'Hello')).events).toEqual(['text:Hello']);
    });

    it('delivers binary messages of every length encoding: 0, 125, 126, 65535, 65536', () => {
      for (const n of [0, 125, 126, 65535, 65536]) {
        const payload = Buffer.alloc(n, 0xab);
        const { events, error } = receive(frame(2, payload));
        expect(error).toBeUndefined();
        expect(events).toEqual([`binary:${payload.toString('hex')}`]);
      }
    });

    it('gives the same result whatever the chunking, one byte at a time included', () => {
      const input = cat(
        frame(1, 'héllo'),
        frame(9, 'p'),
        frame(2, Buffer.alloc(300, 7)),
        frame(1, 'frag', { fin: false }),
        frame(10, 'q'),
        frame(0, 'ment'),
        frame(8, closeBody(1000, 'bye')),
      );
      const expected = [
        'text:héllo',
        'ping:p',
        `binary:${'07'.repeat(300)}`,
        'pong:q',
        'text:fragment',
        'close:1000:bye',
      ];
      for (let step = 1; step <= 16; step++) expect(receive(input, { step }).events).toEqual(expected);
      for (let cut = 1; cut < input.length; cut++) expect(receive(input, { cuts: [cut] }).events).toEqual(expected);
    });

    it('assembles a fragmented message with control frames interleaved (RFC 6455 5.4)', () => {
      const input = cat(
        frame(1, 'a', { fin: false }),
        frame(9, 'x'),
        frame(0, 'b', { fin: false }),
        frame(10, 'y'),
        frame(0, 'c'),
      );
      expect(receive(input).events).toEqual(['ping:x', 'pong:y', 'text:abc']);
    });

    it('accepts empty fragments and an empty final fragment', () => {
      expect(receive(cat(frame(2, '', { fin: false }), frame(0, 'z', { fin: false }), frame(0, ''))).events).toEqual([
        'binary:7a',
      ]);
    });

    it('reports a close frame without payload as 1005 and with a reason as given', () => {
      expect(receive(frame(8)).events).toEqual(['close:1005:']);
      expect(receive(frame(8, closeBody(4000, 'κ'))).events).toEqual(['close:4000:κ']);
    });

    it('accepts unmasked frames when reading as a client', () => {
      expect(receive(frame(1, 'hi', { mask: false }), { role: 'client' }).events).toEqual(['text:hi']);
    });
  });

  describe('RFC 6455 section 5 violations: the close code and the error code each gets', () => {
    const cases: Array<[string, Buffer, number, ProtocolErrorCode]> = [
      ['an unmasked client frame', frame(1, 'hi', { mask: false }), 1002, 'WSZ_ERR_MASK'],
      ['RSV1 without an extension', frame(1, 'hi', { rsv: 4 }), 1002, 'WSZ_ERR_UNEXPECTED_RSV'],
      ['RSV2', frame(1, 'hi', { rsv: 2 }), 1002, 'WSZ_ERR_UNEXPECTED_RSV'],
      ['RSV3', frame(1, 'hi', { rsv: 1 }), 1002, 'WSZ_ERR_UNEXPECTED_RSV'],
      ['reserved data opcode 3', frame(3), 1002, 'WSZ_ERR_INVALID_OPCODE'],
      ['reserved data opcode 7', frame(7), 1002, 'WSZ_ERR_INVALID_OPCODE'],
      ['reserved control opcode 11', frame(11), 1002, 'WSZ_ERR_INVALID_OPCODE'],
      ['reserved control opcode 15', frame(15), 1002, 'WSZ_ERR_INVALID_OPCODE'],
      ['a fragmented ping', frame(9, 'x', { fin: false }), 1002, 'WSZ_ERR_FRAGMENTED_CONTROL'],
      ['a 126-byte ping', frame(9, Buffer.alloc(126)), 1002, 'WSZ_ERR_CONTROL_TOO_BIG'],
      ['a continuation without a message', frame(0, 'x'), 1002, 'WSZ_ERR_UNEXPECTED_CONTINUATION'],
      [
        'a new message inside a fragmented one',
        cat(frame(1, 'a', { fin: false }), frame(1, 'b')),
        1002,
        'WSZ_ERR_EXPECTED_CONTINUATION',
      ],
      ['a 1-byte close payload', frame(8, Buffer.from([3])), 1002, 'WSZ_ERR_INVALID_CLOSE_PAYLOAD'],
      ['close code 999', frame(8, closeBody(999)), 1002, 'WSZ_ERR_INVALID_CLOSE_CODE'],
      ['close code 1004', frame(8, closeBody(1004)), 1002, 'WSZ_ERR_INVALID_CLOSE_CODE'],
      ['close code 1005', frame(8, closeBody(1005)), 1002, 'WSZ_ERR_INVALID_CLOSE_CODE'],
      ['close code 1006', frame(8, closeBody(1006)), 1002, 'WSZ_ERR_INVALID_CLOSE_CODE'],
      ['close code 1015', frame(8, closeBody(1015)), 1002, 'WSZ_ERR_INVALID_CLOSE_CODE'],
      ['close code 1016', frame(8, closeBody(1016)), 1002, 'WSZ_ERR_INVALID_CLOSE_CODE'],
      ['close code 2999', frame(8, closeBody(2999)), 1002, 'WSZ_ERR_INVALID_CLOSE_CODE'],
      ['close code 5000', frame(8, closeBody(5000)), 1002, 'WSZ_ERR_INVALID_CLOSE_CODE'],
      ['invalid UTF-8 in a text message', frame(1, Buffer.from([0xce, 0xba, 0xff])), 1007, 'WSZ_ERR_INVALID_UTF8'],
      ['a text message ending inside a code point', frame(1, Buffer.from([0xe2, 0x82])), 1007, 'WSZ_ERR_INVALID_UTF8'],
      [
        'invalid UTF-8 in a close reason',
        frame(8, cat(closeBody(1000), Buffer.from([0xff]))),
        1007,
        'WSZ_ERR_INVALID_UTF8',
      ],
      [
        'a 64-bit length with the top bit set',
        Buffer.from([0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4]),
        1002,
        'WSZ_ERR_INVALID_LENGTH',
      ],
    ];
    for (const [what, bytes, code, errorCode] of cases) {
      it(`${what} -> ${code} ${errorCode}`, () => {
        const r = receive(bytes);
        expect(r.code).toBe(code);
        expect(r.error?.code).toBe(errorCode);
      });
    }

    it('valid close codes pass: 1000-1003, 1007-1014, 3000, 4999', () => {
      for (const c of [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999]) {
        expect(receive(frame(8, closeBody(c))).events).toEqual([`close:${c}:`]);
      }
    });

    it('a masked frame from a server is a protocol error for a client', () => {
      expect(receive(frame(1, 'x'), { role: 'client' }).code).toBe(1002);
    });

    it('detects a bad header from its first two bytes, before the rest arrives', () => {
      const r = receive(frame(9, Buffer.alloc(126)), { step: 1 });
      expect(r.code).toBe(1002);
      expect(r.errorPiece).toBe(1);
    });
  });

  describe('message size limit (1009)', () => {
    it('refuses a frame above maxMessageSize from its header, before buffering its payload', () => {
      const bytes = frame(2, Buffer.alloc(1001));
      const r = receive(bytes.subarray(0, 8), { maxMessageSize: 1000 }); // header + 2 payload bytes only
      expect(r.code).toBe(1009);
    });

    it('counts the limit across fragments', () => {
      const input = cat(frame(2, Buffer.alloc(600), { fin: false }), frame(0, Buffer.alloc(401)));
      expect(receive(input, { maxMessageSize: 1000 }).code).toBe(1009);
      expect(
        receive(cat(frame(2, Buffer.alloc(600), { fin: false }), frame(0, Buffer.alloc(400))), { maxMessageSize: 1000 })
          .error,
      ).toBeUndefined();
    });

    it('refuses a 64-bit length beyond 2^53 as too big', () => {
      expect(receive(Buffer.from([0x82, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4])).code).toBe(
        1009,
      );
    });
  });

  describe('UTF-8 fails fast at the first bad byte', () => {
    it('inside one frame delivered in pieces: fails in the piece with the bad byte', () => {
      const payload = cat(Buffer.from('valid text '), Buffer.from([0xf4, 0x90]), Buffer.from(' and more text after'));
      const bytes = frame(1, payload);
      const r = receive(bytes, { cuts: [6 + 12, 6 + 14] });
      expect(r.code).toBe(1007);
      expect(r.errorPiece).toBe(1);
    });

    it('in a fragment before the final one: fails on that fragment', () => {
      const input = cat(
        frame(1, 'ok', { fin: false }),
        frame(0, Buffer.from([0xc0, 0x80]), { fin: false }),
        frame(0, 'end'),
      );
      const first = frame(1, 'ok', { fin: false }).length;
      const r = receive(input, { cuts: [first, first + 8] });
      expect(r.code).toBe(1007);
      expect(r.errorPiece).toBe(1);
    });

    it('accepts a code point split across fragments', () => {
      const euro = Buffer.from('€');
      const input = cat(
        frame(1, euro.subarray(0, 1), { fin: false }),
        frame(0, euro.subarray(1, 2), { fin: false }),
        frame(0, euro.subarray(2)),
      );
      expect(receive(input).events).toEqual(['text:€']);
    });
  });

  it('ignores everything after a protocol error', () => {
    const events: string[] = [];
    const sink: MessageSink = {
      onMessage: () => events.push('m'),
      onPing: () => {},
      onPong: () => {},
      onClose: () => {},
    };
    const reader = new FrameReader(new MessageAssembler(sink, { maxMessageSize: 100 }), { role: 'server' });
    expect(reader.push(frame(3))?.closeCode).toBe(1002);
    expect(reader.push(frame(1, 'later'))).toBeUndefined();
    expect(events).toEqual([]);
  });
});

describe('any input', () => {
  it('never throws: 3000 random byte streams in random chunks give messages or a protocol error', () => {
    let seed = 7;
    const rand = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296;
    const outcomes = new Set<string>();
    for (let n = 0; n < 3000; n++) {
      const base =
        n % 2 === 0
          ? Buffer.concat([frame(1, 'abc'), frame(2, Buffer.alloc(Math.floor(rand() * 300))), frame(9, 'x')])
          : Buffer.alloc(0);
      const bytes = Buffer.concat([
        base,
        Buffer.from(Array.from({ length: Math.floor(rand() * 64) }, () => Math.floor(rand() * 256))),
      ]);
      for (let k = 0; k < 3 && bytes.length > 0; k++) bytes[Math.floor(rand() * bytes.length)] ^= 0xff;
      const cuts: number[] = [];
      for (let i = 1; i < bytes.length; i++) if (rand() < 0.1) cuts.push(i);
      for (const role of ['server', 'client'] as const) {
        const r = receive(bytes, { cuts: [...cuts], maxMessageSize: 256, role });
        outcomes.add(r.code === undefined ? 'ok' : String(r.code));
      }
    }
    expect([...outcomes].sort()).toEqual(expect.arrayContaining(['1002', 'ok']));
  });
});
