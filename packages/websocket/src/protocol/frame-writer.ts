import { MAX_CLOSE_REASON_BYTES, closeCodeIsValid } from './close-codes.js';
import { applyMask } from './mask.js';
import { Opcode, opcodeIsControl, opcodeIsKnown } from './opcodes.js';

/** Bytes of the header of a frame carrying `payloadLength` bytes (RFC 6455 5.2). */
export function frameHeaderLength(payloadLength: number, masked: boolean): number {
  return (payloadLength < 126 ? 2 : payloadLength < 0x10000 ? 4 : 10) + (masked ? 4 : 0);
}

/** Options of one frame header. */
export interface FrameHeaderOptions {
  /** FIN bit: last frame of its message (default true). */
  fin?: boolean;
  /** RSV1 bit: payload compressed under RFC 7692 (default false). */
  rsv1?: boolean;
  /**
   * Masking key as a 32-bit word in platform byte order (see `maskWord`), for client frames.
   * The caller masks the payload with the same word; undefined writes an unmasked (server) frame.
   */
  mask?: number;
}

/**
 * Writes the header of a frame into `target` at `offset` and returns the offset just past it.
 * Only the header is encoded: the payload is written or sent by the caller, never copied here.
 */
export function writeFrameHeader(
  target: Buffer,
  offset: number,
  opcode: number,
  payloadLength: number,
  options?: FrameHeaderOptions,
): number {
  let b0 = opcode;
  if (options?.fin !== false) b0 |= 0x80;
  if (options?.rsv1) b0 |= 0x40;
  const maskBit = options?.mask !== undefined ? 0x80 : 0;
  let p = offset;
  target[p++] = b0;
  if (payloadLength < 126) {
    target[p++] = maskBit | payloadLength;
  } else if (payloadLength < 0x10000) {
    target[p++] = maskBit | 126;
    target[p++] = payloadLength >>> 8;
    target[p++] = payloadLength & 0xff;
  } else {
    target[p++] = maskBit | 127;
    target.writeUInt32BE(Math.floor(payloadLength / 0x100000000), p);
    target.writeUInt32BE(payloadLength >>> 0, p + 4);
    p += 8;
  }
  if (options?.mask !== undefined) {
    // The key bytes in memory order are the word's bytes in platform order.
    const key = new Uint32Array([options.mask]);
    target.set(new Uint8Array(key.buffer), p);
    p += 4;
  }
  return p;
}

/**
 * Encodes a whole frame into one new buffer: the pre-framed message of `writeFramed`, and
 * convenient in tests. With `mask`, the payload copy is masked (the input is not modified).
 */
export function encodeFrame(opcode: number, payload: Uint8Array | string, options?: FrameHeaderOptions): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  if (opcodeIsControl(opcode) && body.length > 125) {
    throw new RangeError(`control frame payload is ${body.length} bytes; RFC 6455 5.5 allows at most 125`);
  }
  const masked = options?.mask !== undefined;
  const out = Buffer.allocUnsafe(frameHeaderLength(body.length, masked) + body.length);
  const at = writeFrameHeader(out, 0, opcode, body.length, options);
  out.set(body, at);
  if (masked) applyMask(out, at, out.length, options.mask!, 0);
  return out;
}

/**
 * The payload of a close frame: a 2-byte code and a UTF-8 reason of at most 123 bytes. Throws a
 * RangeError for a code that may not be sent or a reason that is too long.
 */
export function encodeClosePayload(code?: number, reason = ''): Buffer {
  if (code === undefined) {
    if (reason !== '') throw new RangeError('a close reason needs a close code');
    return Buffer.alloc(0);
  }
  if (!Number.isInteger(code) || !closeCodeIsValid(code)) {
    throw new RangeError(`close code ${code} may not be sent: use 1000-1003, 1007-1014 or 3000-4999`);
  }
  const length = Buffer.byteLength(reason, 'utf8');
  if (length > MAX_CLOSE_REASON_BYTES) {
    throw new RangeError(
      `close reason is ${length} bytes of UTF-8; RFC 6455 5.5 allows at most ${MAX_CLOSE_REASON_BYTES}`,
    );
  }
  const out = Buffer.allocUnsafe(2 + length);
  out.writeUInt16BE(code, 0);
  out.write(reason, 2, 'utf8');
  return out;
}

/**
 * A complete unmasked (server) text frame carrying `data`, built once: send it to any number of
 * connections with `conn.writeFramed(frame)`, which does no encoding work. Build it at module load
 * for fixed messages, or once per broadcast.
 */
export function frameText(data: string | Uint8Array): Buffer {
  return encodeFrame(0x1, data);
}

/** A complete unmasked (server) binary frame carrying `data`; see {@link frameText}. */
export function frameBin(data: string | Uint8Array): Buffer {
  return encodeFrame(0x2, data);
}

/** What {@link checkServerFrames} found in well-formed pre-framed bytes. */
export interface FramedSummary {
  /** How many data frames (text, binary, continuation) the bytes hold. */
  dataFrames: number;
}

/**
 * Checks that `bytes` is what `writeFramed` may send: complete, unmasked frames with no RSV bits,
 * whose data frames form whole messages (a text or binary frame, continuations, the last with FIN),
 * and whose control frames are pings or pongs of at most 125 bytes with FIN set (RFC 6455 5.4,
 * 5.5). Close frames are refused: closing has its own call. Returns what it found, or an error message.
 */
export function checkServerFrames(bytes: Uint8Array): FramedSummary | string {
  let p = 0;
  let inMessage = false;
  let dataFrames = 0;
  if (bytes.length < 2) return 'a pre-framed message needs at least a 2-byte frame header';
  while (p < bytes.length) {
    if (bytes.length - p < 2) return 'pre-framed bytes end inside a frame header';
    const b0 = bytes[p]!;
    const b1 = bytes[p + 1]!;
    const op = b0 & 0x0f;
    const fin = (b0 & 0x80) !== 0;
    if (b0 & 0x70) return 'pre-framed bytes set RSV bits, which no negotiated extension defines';
    if (!opcodeIsKnown(op)) return `pre-framed bytes hold reserved opcode ${op}`;
    if (op === Opcode.Close) return 'pre-framed bytes hold a close frame: close with conn.close()';
    if (b1 & 0x80) return 'pre-framed bytes hold a masked frame: servers send unmasked frames (use frameText/frameBin)';
    let len = b1 & 0x7f;
    let q = p + 2;
    if (len === 126) {
      if (bytes.length - q < 2) return 'pre-framed bytes end inside a frame header';
      len = (bytes[q]! << 8) | bytes[q + 1]!;
      q += 2;
    } else if (len === 127) {
      if (bytes.length - q < 8) return 'pre-framed bytes end inside a frame header';
      const view = new DataView(bytes.buffer, bytes.byteOffset + q, 8);
      len = view.getUint32(0) * 0x100000000 + view.getUint32(4);
      q += 8;
    }
    if (opcodeIsControl(op)) {
      if (len > 125) return `pre-framed control frame of ${len} bytes; RFC 6455 5.5 allows at most 125`;
      if (!fin) return 'pre-framed control frame without FIN: control frames cannot be fragmented (RFC 6455 5.5)';
    } else {
      dataFrames++;
      if (op === Opcode.Continuation && !inMessage)
        return 'pre-framed continuation frame without a message to continue';
      if (op !== Opcode.Continuation && inMessage) return 'pre-framed bytes start a message inside a fragmented one';
      inMessage = !fin;
    }
    if (q + len > bytes.length) return `pre-framed bytes hold ${bytes.length - q} of a frame's ${len} payload bytes`;
    p = q + len;
  }
  if (inMessage) return 'pre-framed bytes end inside a fragmented message: writeFramed sends whole messages';
  return { dataFrames };
}

/**
 * Checks a frame an application asks to write (RFC 6455 5.2, 5.5): a known opcode other than close
 * (closing has its own call), and for control frames at most 125 bytes and no fragmentation.
 * Throws a RangeError that says what is wrong; `closeCall` names the close method to use instead.
 */
export function checkFrameToWrite(opcode: number, length: number, fin: boolean, closeCall: string): void {
  if (typeof opcode !== 'number' || !opcodeIsKnown(opcode) || opcode === Opcode.Close) {
    throw new RangeError(`cannot write opcode ${opcode}: use 0-2, 9 or 10 (close with ${closeCall})`);
  }
  if (opcodeIsControl(opcode)) {
    if (length > 125) throw new RangeError(`control frame payload is ${length} bytes; RFC 6455 5.5 allows at most 125`);
    if (!fin) throw new RangeError('control frames cannot be fragmented (RFC 6455 5.5)');
  }
}
