import { CloseCode } from './close-codes.js';
import { ProtocolError } from './errors.js';
import { applyMask, maskWord } from './mask.js';
import { opcodeIsControl, opcodeIsKnown } from './opcodes.js';

/** The fields of a frame header (RFC 6455 5.2) that the layers above need. */
export interface FrameHeader {
  fin: boolean;
  /** RSV1 (the "compressed" bit under RFC 7692). */
  rsv1: boolean;
  opcode: number;
  /** Payload length in bytes. */
  length: number;
}

/**
 * Receives what a {@link FrameReader} reads. Each method may return a {@link ProtocolError} to
 * fail the connection; the reader then stops and returns it from `push`.
 */
export interface FrameSink {
  /** A complete, frame-level valid header. */
  onFrameHeader(header: FrameHeader): ProtocolError | undefined;
  /**
   * The next unmasked payload bytes of the current frame, `data[start..end)`. `last` marks the
   * piece that completes the frame; a zero-length frame gets one empty piece with `last` set.
   */
  onFramePayload(data: Buffer, start: number, end: number, last: boolean): ProtocolError | undefined;
}

/** Options of a {@link FrameReader}. */
export interface FrameReaderOptions {
  /** The side that reads: a server requires masked frames, a client requires unmasked ones. */
  role: 'server' | 'client';
  /** Accept RSV1 on the first frame of a data message (permessage-deflate was negotiated). */
  allowRsv1?: boolean;
}

const enum State {
  Header,
  Payload,
  Failed,
}

// Longest header: 2 bytes + 8 bytes of length + 4 bytes of masking key.
const MAX_HEADER = 14;

/**
 * Incremental RFC 6455 frame parser. Feed it bytes in any chunking, one byte at a time included;
 * it validates each header (section 5.2 to 5.5) as soon as it is complete and hands payload bytes
 * to its sink as they arrive, unmasked in place (the input chunk is modified). It never copies a
 * payload: only a header cut by a chunk boundary is gathered in a 14-byte scratch buffer.
 */
export class FrameReader {
  private state = State.Header;
  private readonly sink: FrameSink;
  private readonly expectMasked: boolean;
  private readonly allowRsv1: boolean;
  private scratch: Buffer | null = null;
  private scratchLength = 0;
  private masked = false;
  private mask = 0;
  private remaining = 0;
  private received = 0;

  constructor(sink: FrameSink, options: FrameReaderOptions) {
    this.sink = sink;
    this.expectMasked = options.role === 'server';
    this.allowRsv1 = options.allowRsv1 ?? false;
  }

  /** Whether the reader stopped at a protocol error. */
  get failed(): boolean {
    return this.state === State.Failed;
  }

  /** Whether the reader is between frames (no partial header or payload pending). */
  get idle(): boolean {
    return this.state === State.Header && this.scratchLength === 0;
  }

  /** Stops reading for good (after a close frame, nothing more is parsed); callable from the sink. */
  stop(): void {
    this.state = State.Failed;
    this.scratch = null;
  }

  /**
   * Consumes `chunk` (modifying masked payload bytes in place). Returns the first protocol
   * error met, after which the reader ignores all further input.
   */
  push(chunk: Buffer): ProtocolError | undefined {
    let offset = 0;
    const length = chunk.length;
    while (offset < length) {
      if (this.state === State.Header) {
        const next = this.readHeader(chunk, offset);
        if (typeof next !== 'number') return this.fail(next);
        if (next < 0) return undefined; // header incomplete; kept in scratch
        offset = next;
        if (this.remaining === 0) {
          this.state = State.Header;
          const err = this.sink.onFramePayload(chunk, offset, offset, true);
          if (err) return this.fail(err);
        }
      } else if (this.state === State.Payload) {
        const end = Math.min(length, offset + this.remaining);
        if (this.masked) applyMask(chunk, offset, end, this.mask, this.received);
        this.remaining -= end - offset;
        this.received += end - offset;
        const last = this.remaining === 0;
        if (last) this.state = State.Header;
        const err = this.sink.onFramePayload(chunk, offset, end, last);
        if (err) return this.fail(err);
        offset = end;
      } else {
        return undefined;
      }
    }
    return undefined;
  }

  private fail(err: ProtocolError): ProtocolError {
    this.stop();
    return err;
  }

  /**
   * Parses a header starting at `chunk[offset]`, using the scratch buffer when it is split.
   * Returns the offset just past the header, -1 when more bytes are needed, or an error.
   */
  private readHeader(chunk: Buffer, offset: number): number | ProtocolError {
    let src = chunk;
    let at = offset;
    const available = chunk.length - offset;
    if (this.scratchLength > 0 || available < 2 || available < headerSize(chunk[offset + 1]!)) {
      // Gather the header in scratch until complete.
      const scratch = (this.scratch ??= Buffer.allocUnsafe(MAX_HEADER));
      let need = this.scratchLength < 2 ? 2 : headerSize(scratch[1]!);
      let taken = 0;
      while (this.scratchLength < need && offset + taken < chunk.length) {
        scratch[this.scratchLength++] = chunk[offset + taken++]!;
        if (this.scratchLength === 2) need = headerSize(scratch[1]!);
      }
      if (this.scratchLength >= 2) {
        const err = this.checkFirstBytes(scratch[0]!, scratch[1]!);
        if (err) return err;
      }
      if (this.scratchLength < need) return -1;
      src = scratch;
      at = 0;
      this.scratchLength = 0;
      const err = this.decode(src, at);
      if (err) return err;
      this.scratch = null; // headers rarely split; do not keep 14 bytes per idle connection
      return offset + taken;
    }
    const err = this.checkFirstBytes(chunk[offset]!, chunk[offset + 1]!) ?? this.decode(src, at);
    if (err) return err;
    return offset + headerSize(chunk[offset + 1]!);
  }

  /** Rules decidable from the first two bytes: RSV, opcode, control frame shape, masking. */
  private checkFirstBytes(b0: number, b1: number): ProtocolError | undefined {
    const opcode = b0 & 0x0f;
    if ((b0 & 0x30) !== 0 || ((b0 & 0x40) !== 0 && !this.allowRsv1)) {
      return new ProtocolError(
        CloseCode.ProtocolError,
        'RSV bits set without a negotiated extension',
        'WSZ_ERR_UNEXPECTED_RSV',
      );
    }
    if (!opcodeIsKnown(opcode)) {
      return new ProtocolError(CloseCode.ProtocolError, `reserved opcode ${opcode}`, 'WSZ_ERR_INVALID_OPCODE');
    }
    // RFC 7692 6.1: RSV1 marks a compressed message on its first frame only.
    if ((b0 & 0x40) !== 0 && opcode === 0)
      return new ProtocolError(CloseCode.ProtocolError, 'RSV1 set on a continuation frame', 'WSZ_ERR_UNEXPECTED_RSV');
    if (opcodeIsControl(opcode)) {
      // RFC 6455 5.5: control frames are never fragmented and carry at most 125 bytes.
      if ((b0 & 0x80) === 0)
        return new ProtocolError(CloseCode.ProtocolError, 'fragmented control frame', 'WSZ_ERR_FRAGMENTED_CONTROL');
      if ((b1 & 0x7f) > 125)
        return new ProtocolError(
          CloseCode.ProtocolError,
          'control frame payload over 125 bytes',
          'WSZ_ERR_CONTROL_TOO_BIG',
        );
      if ((b0 & 0x40) !== 0)
        return new ProtocolError(CloseCode.ProtocolError, 'RSV1 set on a control frame', 'WSZ_ERR_UNEXPECTED_RSV');
    }
    const masked = (b1 & 0x80) !== 0;
    if (masked !== this.expectMasked) {
      // RFC 6455 5.1: clients mask every frame, servers none.
      return new ProtocolError(
        CloseCode.ProtocolError,
        this.expectMasked ? 'client frames must be masked' : 'server frames must not be masked',
        'WSZ_ERR_MASK',
      );
    }
    return undefined;
  }

  /** Decodes a complete header at `src[at]` (first bytes already checked). */
  private decode(src: Buffer, at: number): ProtocolError | undefined {
    const b0 = src[at]!;
    const b1 = src[at + 1]!;
    let length = b1 & 0x7f;
    let p = at + 2;
    if (length === 126) {
      length = (src[p]! << 8) | src[p + 1]!;
      p += 2;
    } else if (length === 127) {
      const high = src.readUInt32BE(p);
      const low = src.readUInt32BE(p + 4);
      p += 8;
      // RFC 6455 5.2: the most significant bit must be 0.
      if (high & 0x80000000)
        return new ProtocolError(
          CloseCode.ProtocolError,
          '64-bit payload length has its top bit set',
          'WSZ_ERR_INVALID_LENGTH',
        );
      // Past 2^53 a JavaScript number loses precision; no limit allows such a frame anyway.
      if (high > 0x1fffff)
        return new ProtocolError(CloseCode.MessageTooBig, 'frame payload too large', 'WSZ_ERR_MESSAGE_TOO_BIG');
      length = high * 0x100000000 + low;
    }
    this.masked = (b1 & 0x80) !== 0;
    if (this.masked) this.mask = maskWord(src, p);
    this.remaining = length;
    this.received = 0;
    this.state = State.Payload;
    return this.sink.onFrameHeader({ fin: (b0 & 0x80) !== 0, rsv1: (b0 & 0x40) !== 0, opcode: b0 & 0x0f, length });
  }
}

/** Header size implied by the second header byte (length code and mask bit). */
function headerSize(b1: number): number {
  const code = b1 & 0x7f;
  return 2 + (code === 126 ? 2 : code === 127 ? 8 : 0) + ((b1 & 0x80) !== 0 ? 4 : 0);
}
