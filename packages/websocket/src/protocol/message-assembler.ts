import { CloseCode, closeCodeIsValid } from './close-codes.js';
import { ProtocolError } from './errors.js';
import { copyInto } from './copy.js';
import type { FrameHeader, FrameSink } from './frame-reader.js';
import { Opcode, type MessageType } from './opcodes.js';
import { Utf8Validator, utf8IsValid } from './utf8.js';
import { InflateFailure, type Decompressor, type InflateSource } from './deflate-codec.js';

/** Messages gathered for good from this size get an allocation of their own. */
const OWN_MEMORY_FROM = 4096;

/** Where the assembler gets message buffers from (a pool on the server, plain allocation in tests). */
export interface MessageBuffers {
  /** A buffer of at least `size` bytes. */
  acquire(size: number): Buffer;
  /** Gives back a buffer from `acquire` once nobody reads it any more. */
  release(buffer: Buffer): void;
}

/** Allocates every buffer and lets the garbage collector have it back. */
export const allocatingBuffers: MessageBuffers = {
  acquire: (size) => Buffer.allocUnsafe(size),
  release: () => {},
};

/** Receives complete messages and control frames from a {@link MessageAssembler}. */
export interface MessageSink {
  /**
   * A complete text or binary message. When `owned` is true, `data` is a view of a buffer from
   * the assembler's {@link MessageBuffers} and the sink must `release(data)` when done with it;
   * otherwise it is a view of the input chunk.
   */
  onMessage(data: Buffer, type: MessageType, owned: boolean): void;
  /** A ping frame and its payload (at most 125 bytes). */
  onPing(data: Buffer): void;
  /** A pong frame and its payload (at most 125 bytes). */
  onPong(data: Buffer): void;
  /** A valid close frame; `code` is 1005 when the frame had no payload. */
  onClose(code: number, reason: string): void;
}

/** Options of a {@link MessageAssembler}. */
export interface MessageAssemblerOptions {
  /** Largest message accepted, counted across fragments; larger ones fail with 1009. */
  maxMessageSize: number;
  /** Where buffers for messages that are not delivered as a view of the input come from. */
  buffers?: MessageBuffers;
  /**
   * Messages are handed over for good (the receiver may keep them): a single-frame message cut
   * across input chunks is gathered in a buffer of its own, of its exact size, and delivered with
   * `owned` false, instead of in a reused buffer from `buffers` that the receiver would have to copy.
   */
  handOver?: boolean;
  /** Most frames one message may come in (default {@link MAX_FRAMES}); more fail with 1008. */
  maxFrames?: number;
  /**
   * permessage-deflate was agreed: messages whose first frame has RSV1 are inflated with this, their
   * size limit applied to the inflated bytes and their UTF-8 checked as the bytes come out.
   */
  inflate?: InflateSource | null;
}

/**
 * Frames one message may arrive in by default. Browsers and common clients send one; a flood of empty
 * fragments would otherwise cost a header each forever (ws capped fragments after GHSA-96hv).
 */
export const MAX_FRAMES = 1024;

/**
 * The most bytes a compressed message may take on the wire: its limit, plus deflate's worst case for
 * data that does not compress (5 bytes per 16 KiB stored block) and a little.
 */
function compressedLimit(maxMessageSize: number): number {
  return maxMessageSize + Math.ceil(maxMessageSize / 16384) * 5 + 1024;
}

/**
 * Turns frames into messages (RFC 6455 5.4 to 5.6): enforces the fragmentation rules, the size
 * limit before any excess is buffered, UTF-8 validity of text as its bytes arrive, and the close
 * frame's shape. A message that arrives as one frame within one input chunk is delivered as a
 * view of that chunk with no copy; anything else is gathered in a buffer from `buffers`.
 */
export class MessageAssembler implements FrameSink {
  private readonly sink: MessageSink;
  private readonly maxMessageSize: number;
  private readonly buffers: MessageBuffers;
  private readonly handOver: boolean;
  /** The message being gathered is in a buffer of its own (see `handOver`). */
  private exact = false;
  private readonly utf8 = new Utf8Validator();

  /** A data message is in progress (its first frame had FIN clear). */
  private fragmented = false;
  /** Frames of the current message so far, and its compressed bytes on the wire so far. */
  private frames = 0;
  private wire = 0;
  private readonly maxFrames: number;
  private messageType: MessageType = 'binary';
  private buffer: Buffer | null = null;
  private length = 0;

  private opcode = 0;
  private fin = false;
  private frameLength = 0;
  private firstPiece = true;
  private control: Buffer | null = null;
  private controlLength = 0;
  private readonly inflate: InflateSource | null;
  private decompressor: Decompressor | null = null;
  /** The current message is compressed (its first frame had RSV1); its inflated pieces so far. */
  private compressed = false;
  private inflated: Buffer[] = [];
  private readonly checkText = (piece: Buffer): boolean => this.utf8.feed(piece, 0, piece.length);

  constructor(sink: MessageSink, options: MessageAssemblerOptions) {
    this.sink = sink;
    this.maxMessageSize = options.maxMessageSize;
    this.buffers = options.buffers ?? allocatingBuffers;
    this.handOver = options.handOver ?? false;
    this.inflate = options.inflate ?? null;
    this.maxFrames = options.maxFrames ?? MAX_FRAMES;
  }

  onFrameHeader(h: FrameHeader): ProtocolError | undefined {
    this.opcode = h.opcode;
    this.fin = h.fin;
    this.frameLength = h.length;
    this.firstPiece = true;
    if (h.opcode >= Opcode.Close) {
      this.controlLength = 0;
      return undefined;
    }
    if (h.opcode === Opcode.Continuation) {
      if (!this.fragmented)
        return new ProtocolError(
          CloseCode.ProtocolError,
          'continuation frame without a message to continue',
          'WSZ_ERR_UNEXPECTED_CONTINUATION',
        );
      // Empty fragments cost a header each and add nothing: a message's frames are bounded too.
      if (++this.frames > this.maxFrames)
        return new ProtocolError(
          CloseCode.PolicyViolation,
          `message in more than ${this.maxFrames} frames`,
          'WSZ_ERR_TOO_MANY_FRAMES',
        );
    } else {
      if (this.fragmented)
        return new ProtocolError(
          CloseCode.ProtocolError,
          'new message started inside a fragmented message',
          'WSZ_ERR_EXPECTED_CONTINUATION',
        );
      this.messageType = h.opcode === Opcode.Text ? 'text' : 'binary';
      if (this.messageType === 'text') this.utf8.reset();
      this.compressed = h.rsv1 && this.inflate !== null;
      this.frames = 1;
      this.wire = 0;
    }
    if (this.compressed) {
      // Limited by its inflated size as it inflates, and by its bytes on the wire: deflate blocks that
      // inflate to nothing would otherwise stream forever without reaching the limit.
      this.wire += h.length;
      if (this.wire > compressedLimit(this.maxMessageSize))
        return new ProtocolError(
          CloseCode.MessageTooBig,
          `compressed message over the ${this.maxMessageSize}-byte limit on the wire`,
          'WSZ_ERR_MESSAGE_TOO_BIG',
        );
    } else if (this.length + h.length > this.maxMessageSize) {
      return new ProtocolError(
        CloseCode.MessageTooBig,
        `message over the ${this.maxMessageSize}-byte limit`,
        'WSZ_ERR_MESSAGE_TOO_BIG',
      );
    }
    this.fragmented = !h.fin;
    return undefined;
  }

  onFramePayload(data: Buffer, start: number, end: number, last: boolean): ProtocolError | undefined {
    if (this.opcode >= Opcode.Close) return this.controlPayload(data, start, end, last);
    if (this.compressed) return this.compressedPayload(data, start, end, last);

    if (this.messageType === 'text') {
      if (!this.utf8.feed(data, start, end))
        return new ProtocolError(CloseCode.InvalidPayload, 'invalid UTF-8 in a text message', 'WSZ_ERR_INVALID_UTF8');
      if (last && this.fin && !this.utf8.complete) {
        return new ProtocolError(
          CloseCode.InvalidPayload,
          'text message ends inside a UTF-8 sequence',
          'WSZ_ERR_INVALID_UTF8',
        );
      }
    }

    if (last && this.firstPiece && this.fin && this.length === 0) {
      // The whole message is one frame in one chunk: hand out a view, copy nothing.
      this.sink.onMessage(data.subarray(start, end), this.messageType, false);
      return undefined;
    }
    if (this.firstPiece && this.fin && this.length === 0 && this.handOver) {
      // One frame cut across chunks, its size known from the header: gather it where it can stay.
      // From 4 KiB, memory of its own rather than a slice of Node's shared pool (64 KiB on Node 24), which a
      // kept message would pin whole.
      this.buffer =
        this.frameLength >= OWN_MEMORY_FROM
          ? Buffer.allocUnsafeSlow(this.frameLength)
          : Buffer.allocUnsafe(this.frameLength);
      this.exact = true;
    }
    this.firstPiece = false;
    this.append(data, start, end);
    if (last && this.fin) {
      const message = this.buffer!.subarray(0, this.length);
      const owned = !this.exact;
      this.buffer = null;
      this.length = 0;
      this.exact = false;
      this.sink.onMessage(message, this.messageType, owned);
    }
    return undefined;
  }

  /** Inflates a compressed message's bytes as they arrive; delivers the message after its last frame. */
  private compressedPayload(data: Buffer, start: number, end: number, last: boolean): ProtocolError | undefined {
    const end_ = last && this.fin;
    // A message whole in this piece may use a decompressor shared with other connections (it is
    // inflated in this one call); one that spans pieces or frames needs state of its own meanwhile.
    const decompressor = (this.decompressor ??= this.inflate!.take(end_));
    let n: number;
    try {
      n = decompressor.inflate(
        data.subarray(start, end),
        end_,
        this.maxMessageSize - this.length,
        this.inflated,
        this.messageType === 'text' ? this.checkText : undefined,
      );
    } catch {
      return new ProtocolError(
        CloseCode.InvalidPayload,
        'invalid compressed data (permessage-deflate)',
        'WSZ_ERR_INVALID_DEFLATE',
      );
    }
    if (n < 0) {
      return n === InflateFailure.TooBig
        ? new ProtocolError(
            CloseCode.MessageTooBig,
            `message over the ${this.maxMessageSize}-byte limit once inflated`,
            'WSZ_ERR_MESSAGE_TOO_BIG',
          )
        : new ProtocolError(CloseCode.InvalidPayload, 'invalid UTF-8 in a text message', 'WSZ_ERR_INVALID_UTF8');
    }
    this.length += n;
    if (!end_) return undefined;
    if (this.messageType === 'text' && !this.utf8.complete)
      return new ProtocolError(
        CloseCode.InvalidPayload,
        'text message ends inside a UTF-8 sequence',
        'WSZ_ERR_INVALID_UTF8',
      );
    const parts = this.inflated;
    const message = parts.length === 1 ? parts[0]! : Buffer.concat(parts, this.length);
    this.inflated = [];
    this.length = 0;
    this.compressed = false;
    this.inflate!.done(this.decompressor!);
    this.decompressor = null;
    // Memory of its own: the receiver may keep it.
    this.sink.onMessage(message, this.messageType, false);
    return undefined;
  }

  /** Releases any partly assembled message (the connection is going away). */
  reset(): void {
    this.inflated = [];
    this.compressed = false;
    if (this.decompressor !== null) this.inflate!.done(this.decompressor);
    this.decompressor = null;
    if (this.buffer && !this.exact) this.buffers.release(this.buffer);
    this.exact = false;
    this.buffer = null;
    this.length = 0;
    this.fragmented = false;
  }

  private append(data: Buffer, start: number, end: number): void {
    const needed = this.length + (end - start);
    if (this.buffer === null || this.buffer.length < needed) {
      // Size for the whole current frame at once, so a frame split over many chunks grows once.
      const want = Math.max(
        this.length + this.frameLength,
        this.buffer ? Math.min(this.buffer.length * 2, this.maxMessageSize) : 0,
      );
      const grown = this.buffers.acquire(Math.max(want, needed));
      if (this.buffer) {
        this.buffer.copy(grown, 0, 0, this.length);
        this.buffers.release(this.buffer);
      }
      this.buffer = grown;
    }
    copyInto(this.buffer, this.length, data.subarray(start, end));
    this.length = needed;
  }

  private controlPayload(data: Buffer, start: number, end: number, last: boolean): ProtocolError | undefined {
    let payload: Buffer;
    if (last && this.firstPiece) {
      payload = data.subarray(start, end);
    } else {
      this.firstPiece = false;
      const control = (this.control ??= Buffer.allocUnsafe(125));
      data.copy(control, this.controlLength, start, end);
      this.controlLength += end - start;
      if (!last) return undefined;
      payload = control.subarray(0, this.controlLength);
    }
    switch (this.opcode) {
      case Opcode.Ping:
        this.sink.onPing(payload);
        return undefined;
      case Opcode.Pong:
        this.sink.onPong(payload);
        return undefined;
      default:
        return this.closeFrame(payload);
    }
  }

  private closeFrame(payload: Buffer): ProtocolError | undefined {
    if (payload.length === 0) {
      this.sink.onClose(CloseCode.NoStatus, '');
      return undefined;
    }
    // RFC 6455 5.5.1: a body starts with a 2-byte code.
    if (payload.length === 1)
      return new ProtocolError(
        CloseCode.ProtocolError,
        'close frame with a 1-byte payload',
        'WSZ_ERR_INVALID_CLOSE_PAYLOAD',
      );
    const code = payload.readUInt16BE(0);
    if (!closeCodeIsValid(code))
      return new ProtocolError(CloseCode.ProtocolError, `invalid close code ${code}`, 'WSZ_ERR_INVALID_CLOSE_CODE');
    const reason = payload.subarray(2);
    if (!utf8IsValid(reason))
      return new ProtocolError(CloseCode.InvalidPayload, 'close reason is not valid UTF-8', 'WSZ_ERR_INVALID_UTF8');
    this.sink.onClose(code, reason.toString('utf8'));
    return undefined;
  }
}
