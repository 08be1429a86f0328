/**
 * permessage-deflate (RFC 7692): negotiation from header text, and receiving compressed messages
 * through the frame reader and assembler.
 */
import { deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  Compressor,
  Decompressor,
  FrameReader,
  MessageAssembler,
  acceptDeflateResponse,
  deflateOfferHeader,
  negotiateDeflate,
  parseExtensions,
  type DeflatePolicy,
  type InflateSource,
  type MessageSink,
  type ProtocolError,
} from 'wsz/protocol';
import { frame } from '../helpers/raw-client.js';

const POLICY: DeflatePolicy = {
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
};
const agree = (header: string, policy: Partial<DeflatePolicy> = {}) =>
  negotiateDeflate(parseExtensions(header)!, { ...POLICY, ...policy })?.header ?? null;

describe('Sec-WebSocket-Extensions grammar', () => {
  it('parses several extensions, parameters with and without values, quoted values and spacing', () => {
    expect(
      parseExtensions(
        'permessage-deflate; client_max_window_bits, permessage-deflate ;server_max_window_bits="10" , x-foo',
      ),
    ).toEqual([
      { name: 'permessage-deflate', params: [['client_max_window_bits', true]] },
      { name: 'permessage-deflate', params: [['server_max_window_bits', '10']] },
      { name: 'x-foo', params: [] },
    ]);
    expect(parseExtensions('')).toEqual([]);
  });

  it('refuses text outside the grammar', () => {
    for (const bad of [
      'permessage-deflate;',
      'a b',
      'a; =1',
      'a; b="unterminated',
      'a; b="not a token"',
      'a;b=',
      '"a"',
    ])
      expect([bad, parseExtensions(bad)]).toEqual([bad, null]);
  });
});

describe('server negotiation (RFC 7692 7.1)', () => {
  it('accepts a plain offer and a browser offer', () => {
    expect(agree('permessage-deflate')).toBe('permessage-deflate');
    expect(agree('permessage-deflate; client_max_window_bits')).toBe('permessage-deflate; client_max_window_bits=15');
  });

  it('states what our policy adds: no context takeover on either side, a smaller client window when the client lets us choose', () => {
    expect(
      agree('permessage-deflate; client_max_window_bits', {
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        clientMaxWindowBits: 10,
      }),
    ).toBe('permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits=10');
    // Without client_max_window_bits in the offer, the server may not limit the client's window.
    expect(agree('permessage-deflate', { clientMaxWindowBits: 10 })).toBe('permessage-deflate');
  });

  it('honours every offered parameter', () => {
    expect(agree('permessage-deflate; server_no_context_takeover')).toBe(
      'permessage-deflate; server_no_context_takeover',
    );
    expect(agree('permessage-deflate; client_no_context_takeover')).toBe(
      'permessage-deflate; client_no_context_takeover',
    );
    expect(agree('permessage-deflate; server_max_window_bits=10')).toBe(
      'permessage-deflate; server_max_window_bits=10',
    );
    expect(agree('permessage-deflate; server_max_window_bits=12', { serverMaxWindowBits: 10 })).toBe(
      'permessage-deflate; server_max_window_bits=10',
    );
    expect(agree('permessage-deflate; client_max_window_bits=9')).toBe('permessage-deflate; client_max_window_bits=9');
    const a = negotiateDeflate(
      parseExtensions('permessage-deflate; server_max_window_bits=11; client_max_window_bits=12')!,
      POLICY,
    )!;
    expect([a.serverWindowBits, a.clientWindowBits]).toEqual([11, 12]);
  });

  it('declines an offer with an unknown, repeated or invalid parameter, and takes the next acceptable one', () => {
    for (const bad of [
      'permessage-deflate; foo',
      'permessage-deflate; server_no_context_takeover; server_no_context_takeover',
      'permessage-deflate; server_no_context_takeover=1',
      'permessage-deflate; server_max_window_bits',
      'permessage-deflate; server_max_window_bits=16',
      'permessage-deflate; server_max_window_bits=7',
      'permessage-deflate; server_max_window_bits=010',
      'permessage-deflate; client_max_window_bits=0',
      'permessage-deflate; client_max_window_bits=abc',
      'x-webkit-deflate-frame',
    ]) {
      expect([bad, agree(bad)]).toEqual([bad, null]);
      expect([bad, agree(`${bad}, permessage-deflate; client_max_window_bits`)]).toEqual([
        bad,
        'permessage-deflate; client_max_window_bits=15',
      ]);
    }
  });

  it('declines an offer that needs an 8-bit server window (zlib cannot compress with one) for the next', () => {
    expect(agree('permessage-deflate; server_max_window_bits=8')).toBeNull();
    expect(agree('permessage-deflate; server_max_window_bits=8, permessage-deflate')).toBe('permessage-deflate');
    // The client's own window of 8 is fine: we inflate with a larger one.
    expect(agree('permessage-deflate; client_max_window_bits=8')).toBe('permessage-deflate; client_max_window_bits=8');
  });
});

describe('client offer and the check of the answer', () => {
  it('offers what it was asked to', () => {
    expect(deflateOfferHeader({})).toBe('permessage-deflate; client_max_window_bits');
    expect(
      deflateOfferHeader({
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        serverMaxWindowBits: 10,
        clientMaxWindowBits: 12,
      }),
    ).toBe(
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12',
    );
  });

  it('accepts valid answers and no answer', () => {
    expect(acceptDeflateResponse(undefined, {})).toBeNull();
    expect(
      acceptDeflateResponse('permessage-deflate; server_no_context_takeover; client_max_window_bits=10', {}),
    ).toMatchObject({
      serverNoContextTakeover: true,
      clientWindowBits: 10,
      serverWindowBits: 15,
    });
  });

  it('refuses answers with what was not offered or allowed', () => {
    for (const [answer, offer] of [
      ['x-other', {}],
      ['permessage-deflate, permessage-deflate', {}],
      ['permessage-deflate; foo', {}],
      ['permessage-deflate; client_max_window_bits', {}],
      ['permessage-deflate; client_max_window_bits=10', { clientMaxWindowBits: false }],
      ['permessage-deflate; client_max_window_bits=12', { clientMaxWindowBits: 10 }],
      ['permessage-deflate; server_max_window_bits=12', { serverMaxWindowBits: 10 }],
      ['permessage-deflate', { serverNoContextTakeover: true }],
      ['permessage-deflate; server_no_context_takeover=x', {}],
    ] as const) {
      expect([answer, typeof acceptDeflateResponse(answer, offer)]).toEqual([answer, 'string']);
    }
  });
});

/** A server-side reader with permessage-deflate agreed (a decompressor of its own, with or without takeover). */
function receiver(maxMessageSize = 1 << 20, takeover = true) {
  const events: string[] = [];
  const sink: MessageSink = {
    onMessage: (data, type) => events.push(`${type}:${type === 'text' ? data.toString() : `${data.length} bytes`}`),
    onPing: (data) => events.push(`ping:${data.toString()}`),
    onPong: () => {},
    onClose: (code) => events.push(`close:${code}`),
  };
  const d = new Decompressor({ windowBits: 15, takeover });
  const inflate: InflateSource = { take: () => d, done: () => {} };
  const reader = new FrameReader(new MessageAssembler(sink, { maxMessageSize, inflate }), {
    role: 'server',
    allowRsv1: true,
  });
  return { events, push: (b: Buffer): ProtocolError | undefined => reader.push(Buffer.from(b)) };
}

const compress = (text: string | Buffer) =>
  new Compressor({ windowBits: 15, takeover: false, level: 6, memLevel: 8 }).compress(
    typeof text === 'string' ? Buffer.from(text) : text,
  );

describe('receiving compressed messages', () => {
  it('inflates single-frame and fragmented messages, RFC 7692 7.2.3.1 and 7.2.3.2 examples included', () => {
    const r = receiver();
    expect(r.push(frame(1, Buffer.from([0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]), { rsv: 4 }))).toBeUndefined();
    // "Hello" in two fragments: the RSV1 bit on the first only.
    expect(
      r.push(
        Buffer.concat([
          frame(1, Buffer.from([0xf2, 0x48, 0xcd]), { rsv: 4, fin: false }),
          frame(0, Buffer.from([0xc9, 0xc9, 0x07, 0x00])),
        ]),
      ),
    ).toBeUndefined();
    const big = 'compressible '.repeat(2000);
    const z = compress(big);
    expect(
      r.push(
        Buffer.concat([
          frame(1, z.subarray(0, 10), { rsv: 4, fin: false }),
          frame(9, 'between'),
          frame(0, z.subarray(10)),
        ]),
      ),
    ).toBeUndefined();
    // Uncompressed messages still pass (RSV1 clear).
    expect(r.push(frame(1, 'plain'))).toBeUndefined();
    expect(r.events).toEqual(['text:Hello', 'text:Hello', 'ping:between', `text:${big}`, 'text:plain']);
  });

  it('keeps the window between messages with context takeover (RFC 7692 7.2.3.2 second message)', () => {
    const r = receiver();
    r.push(frame(1, Buffer.from([0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]), { rsv: 4 }));
    expect(r.push(frame(1, Buffer.from([0xf2, 0x00, 0x11, 0x00, 0x00]), { rsv: 4 }))).toBeUndefined();
    expect(r.events).toEqual(['text:Hello', 'text:Hello']);
  });

  it('cuts a decompression bomb at maxMessageSize with 1009, without inflating it in full', () => {
    const r = receiver(64 * 1024);
    const bomb = deflateRawSync(Buffer.alloc(50 * 1024 * 1024), { level: 9 }); // 50 MiB in about 50 KB
    const started = process.memoryUsage().arrayBuffers;
    expect(r.push(frame(2, bomb, { rsv: 4 }))?.closeCode).toBe(1009);
    expect(process.memoryUsage().arrayBuffers - started).toBeLessThan(8 * 1024 * 1024);
    expect(r.events).toEqual([]);
    // Exactly at the limit is fine.
    const at = receiver(1000);
    expect(at.push(frame(2, compress(Buffer.alloc(1000)), { rsv: 4 }))).toBeUndefined();
    expect(at.events).toEqual(['binary:1000 bytes']);
    expect(receiver(999).push(frame(2, compress(Buffer.alloc(1000)), { rsv: 4 }))?.closeCode).toBe(1009);
  });

  it('checks the UTF-8 of inflated text and fails with 1007 at the first bad byte', () => {
    const r = receiver();
    const bad = Buffer.concat([Buffer.from('ok so far '), Buffer.from([0xff]), Buffer.alloc(100_000, 0x61)]);
    expect(r.push(frame(1, compress(bad), { rsv: 4 }))?.closeCode).toBe(1007);
    const cut = receiver();
    expect(cut.push(frame(1, compress(Buffer.from([0x61, 0xe2, 0x82])), { rsv: 4 }))?.closeCode).toBe(1007);
  });

  it('fails RSV1 on a continuation or a control frame with 1002, and corrupt data with 1007', () => {
    expect(
      receiver().push(
        Buffer.concat([frame(1, compress('ab'), { rsv: 4, fin: false }), frame(0, Buffer.alloc(0), { rsv: 4 })]),
      )?.closeCode,
    ).toBe(1002);
    expect(receiver().push(frame(9, '', { rsv: 4 }))?.closeCode).toBe(1002);
    expect(receiver().push(frame(1, Buffer.from([0xff, 0xff, 0xff, 0xff]), { rsv: 4 }))?.closeCode).toBe(1007);
  });

  it('refuses RSV1 when nothing was negotiated', () => {
    const sink: MessageSink = { onMessage() {}, onPing() {}, onPong() {}, onClose() {} };
    const reader = new FrameReader(new MessageAssembler(sink, { maxMessageSize: 1000 }), { role: 'server' });
    expect(reader.push(frame(1, compress('x'), { rsv: 4 }))?.closeCode).toBe(1002);
  });
});

describe('a prepared message (publish)', () => {
  it('is compressed at most once per window size, then shared', async () => {
    const { PreparedMessage, prepareFrame } = await import('../../packages/websocket/src/sender/prepared.js');
    const m = new PreparedMessage(prepareFrame(1, 'shared by every subscriber '.repeat(100)));
    const { Compressor: SourceCompressor } = await import('../../packages/websocket/src/protocol/deflate-codec.js');
    const c = new SourceCompressor({ windowBits: 15, takeover: false, level: 1, memLevel: 8 });
    const first = m.compressed(15, c);
    expect(m.compressed(15, c)).toBe(first);
    expect(first[0]).toBe(0xc1); // FIN, RSV1, text
    expect(m.payloadLength).toBe(2700);
  });
});
