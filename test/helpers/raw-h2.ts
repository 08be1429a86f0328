/**
 * A bare HTTP/2 client for the tests that must send what node:http2's client refuses to (a CONNECT without
 * `:authority` or `:path`, DATA on a stream the server has refused): frames written by hand over TCP (h2c with prior
 * knowledge, RFC 9113 3.3), header blocks as HPACK literals without Huffman coding (RFC 7541 6.2.2). It reads frames
 * back by type and stream; it decodes no header blocks (a response's status is read from its first byte when the
 * server sends an indexed `:status`).
 */
import { connect, type Socket } from 'node:net';

export const FrameType = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7 } as const;
/** RFC 9113 7: error codes. */
export const H2Error = { NO_ERROR: 0, PROTOCOL_ERROR: 1, STREAM_CLOSED: 5, REFUSED_STREAM: 7, CANCEL: 8 } as const;

/** One frame from the server. */
export interface RawFrame {
  type: number;
  flags: number;
  stream: number;
  payload: Buffer;
}

/** RFC 7541 5.1: an integer with an N-bit prefix. */
function integer(value: number, prefixBits: number, first: number): number[] {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [first | value];
  const out = [first | max];
  for (value -= max; value >= 128; value >>= 7) out.push((value & 127) | 128);
  out.push(value);
  return out;
}

/** A header block of literal fields without indexing, with new names, in the order given. */
export function headerBlock(fields: Array<[string, string]>): Buffer {
  const bytes: number[] = [];
  for (const [name, value] of fields) {
    bytes.push(0x00, ...integer(name.length, 7, 0), ...Buffer.from(name, 'latin1'));
    bytes.push(...integer(value.length, 7, 0), ...Buffer.from(value, 'latin1'));
  }
  return Buffer.from(bytes);
}

/** One frame. */
export function frame(type: number, flags: number, stream: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream & 0x7fffffff, 5);
  return Buffer.concat([head, payload]);
}

/** RFC 7541 appendix A: the static table's `:status` entries, by index. */
const STATUS_BY_INDEX: Record<number, number> = { 8: 200, 9: 204, 10: 206, 11: 304, 12: 400, 13: 404, 14: 500 };

/** A connection that speaks HTTP/2 frames by hand. */
export class RawH2 {
  readonly frames: RawFrame[] = [];
  closed = false;
  private buffer = Buffer.alloc(0);
  private waiters: Array<() => void> = [];

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      while (this.buffer.length >= 9) {
        const length = this.buffer.readUIntBE(0, 3);
        if (this.buffer.length < 9 + length) break;
        const f = {
          type: this.buffer[3]!,
          flags: this.buffer[4]!,
          stream: this.buffer.readUInt32BE(5) & 0x7fffffff,
          payload: this.buffer.subarray(9, 9 + length),
        };
        this.buffer = this.buffer.subarray(9 + length);
        // The server's SETTINGS are acknowledged as they come (RFC 9113 6.5.3).
        if (f.type === FrameType.SETTINGS && (f.flags & 1) === 0) socket.write(frame(FrameType.SETTINGS, 1, 0));
        this.frames.push(f);
      }
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Connects to 127.0.0.1:`port` and sends the preface with empty SETTINGS. */
  static async open(port: number): Promise<RawH2> {
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    socket.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), frame(FrameType.SETTINGS, 0, 0)]));
    return new RawH2(socket);
  }

  /** A HEADERS frame (END_HEADERS; END_STREAM when `end`). */
  headers(stream: number, fields: Array<[string, string]>, end = false): void {
    this.socket.write(frame(FrameType.HEADERS, 0x4 | (end ? 0x1 : 0), stream, headerBlock(fields)));
  }

  /** A DATA frame. */
  data(stream: number, payload: Buffer, end = false): void {
    this.socket.write(frame(FrameType.DATA, end ? 1 : 0, stream, payload));
  }

  /** The first frame (from now on or already read) that `match` accepts; null after `ms` or when TCP closed. */
  async waitFor(match: (f: RawFrame) => boolean, ms = 3000): Promise<RawFrame | null> {
    const end = Date.now() + ms;
    for (;;) {
      const found = this.frames.find(match);
      if (found) return found;
      if (this.closed || Date.now() >= end) return null;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, end - Date.now());
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** A response's status, where its HEADERS start with an indexed `:status` of the static table. */
  static status(headers: RawFrame): number | undefined {
    const first = headers.payload[(headers.flags & 0x8) !== 0 ? 1 : 0]!;
    return (first & 0x80) !== 0 ? STATUS_BY_INDEX[first & 0x7f] : undefined;
  }

  /** The error code of a RST_STREAM or GOAWAY frame. */
  static errorCode(f: RawFrame): number {
    return f.payload.readUInt32BE(f.type === FrameType.GOAWAY ? 4 : 0);
  }

  close(): void {
    this.socket.destroy();
  }
}
