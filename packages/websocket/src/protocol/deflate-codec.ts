/**
 * permessage-deflate's compression (RFC 7692 7.2), synchronous: a message is deflated or inflated in
 * one call, on the thread that asks, with no queue in zlib's thread pool and no promise between frames.
 * It drives a zlib stream's native handle directly (the same calls Node's `*Sync` functions make,
 * without their closing the stream after one use), so one stream serves many messages: with context
 * takeover it keeps its window from message to message; without, it is reset after each.
 */
import zlib from 'node:zlib';

const { Z_SYNC_FLUSH } = zlib.constants;
/** The four bytes a sync flush ends with, which the sender strips and the receiver puts back (RFC 7692 7.2.1). */
export const DEFLATE_TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

interface ZlibHandle {
  writeSync(
    flush: number,
    input: Uint8Array,
    inOff: number,
    inLen: number,
    out: Uint8Array,
    outOff: number,
    outLen: number,
  ): void;
  reset(): void;
  close(): void;
}
type ZlibStream = zlib.DeflateRaw & { _handle: ZlibHandle | null; _writeState: Uint32Array };

/** Whether this Node exposes what the codec needs (Node 12 to 24 do); checked when compression is configured. */
export function deflateSupported(): boolean {
  const probe = zlib.createInflateRaw() as unknown as ZlibStream;
  const ok = typeof probe._handle?.writeSync === 'function' && probe._writeState instanceof Uint32Array;
  probe.close();
  return ok;
}

function ignore(): void {}

/** A zlib stream used only through its handle; its asynchronous 'error' event is seen synchronously instead. */
function open(stream: zlib.DeflateRaw | zlib.InflateRaw): ZlibStream {
  stream.on('error', ignore);
  return stream as unknown as ZlibStream;
}

/**
 * The stream's own output buffer is never used (output goes to the shared scratch below): zlib's minimum, not 16 KiB
 * per stream.
 */
const STREAM_CHUNK = zlib.constants.Z_MIN_CHUNK;

/** Output space per native call; a result is copied out once, at its exact size. */
const SCRATCH = 64 * 1024;
let scratch: Buffer | null = null;

/**
 * Runs `input` through `stream` with a sync flush; returns the output, or null as soon as it passes
 * `limit` bytes (a decompression bomb is cut there, never inflated in full). `onOutput` sees each
 * piece as it comes out (UTF-8 checks of inflated text).
 */
function run(
  stream: ZlibStream,
  input: Uint8Array,
  limit: number,
  parts: Buffer[],
  onOutput?: (piece: Buffer) => boolean,
): number | null {
  const handle = stream._handle!;
  const state = stream._writeState;
  let inOff = 0;
  let inLen = input.length;
  let total = 0;
  for (;;) {
    const out = (scratch ??= Buffer.allocUnsafeSlow(SCRATCH));
    handle.writeSync(Z_SYNC_FLUSH, input, inOff, inLen, out, 0, SCRATCH);
    // zlib refused the data: Node destroys the stream (its 'error' event follows, and is ignored).
    if (stream._handle === null) throw new Error('invalid compressed data');
    const produced = SCRATCH - state[0]!;
    const left = state[1]!;
    inOff += inLen - left;
    inLen = left;
    if (produced > 0) {
      total += produced;
      if (total > limit) return null;
      const piece = Buffer.from(out.subarray(0, produced));
      if (onOutput && !onOutput(piece)) return -1;
      parts.push(piece);
    }
    // Output space left over: all input is consumed and flushed.
    if (state[0] !== 0) return total;
  }
}

/** Options shared by both directions. */
export interface CodecOptions {
  /** Window size, 9-15 (the negotiated one). */
  windowBits: number;
  /** Keep the window between messages (context takeover); false resets after each message. */
  takeover: boolean;
}

/** Deflates whole messages for one sender (or, without context takeover, for any number: see `shared`). */
export class Compressor {
  private stream: ZlibStream | null = null;
  private readonly options: CodecOptions & { level: number; memLevel: number };

  constructor(options: CodecOptions & { level: number; memLevel: number }) {
    this.options = options;
  }

  /** The compressed payload of one message (tail stripped), ready for a frame with RSV1 set. */
  compress(data: Uint8Array): Buffer {
    const o = this.options;
    const stream = (this.stream ??= open(
      zlib.createDeflateRaw({
        windowBits: o.windowBits,
        level: o.level,
        memLevel: o.memLevel,
        chunkSize: STREAM_CHUNK,
      }),
    ));
    const parts: Buffer[] = [];
    const total = run(stream, data, Infinity, parts) as number;
    if (!o.takeover) stream._handle!.reset();
    const out = parts.length === 1 ? parts[0]! : Buffer.concat(parts, total);
    // A sync flush always ends with the empty stored block 00 00 ff ff: strip it.
    return out.subarray(0, out.length - 4);
  }

  /** Frees zlib's memory (the connection is gone). */
  close(): void {
    this.stream?.close();
    this.stream = null;
  }
}

/** How one side compresses its outgoing messages, as agreed in the handshake. */
export interface DeflaterSettings {
  /** Context takeover on this side: a compressor of the connection's own; otherwise the thread's shared one. */
  takeover: boolean;
  /** Window, 9-15. */
  windowBits: number;
  /** Messages shorter than this many bytes go uncompressed. */
  threshold: number;
  level: number;
  memLevel: number;
}

/** This thread's compressors without context takeover, by window, level and memLevel. */
const sharedCompressors = new Map<string, Compressor>();

/**
 * This thread's compressor without context takeover for these settings: one zlib stream for every
 * connection (and every publish) that uses them, since a message is compressed in one call and the
 * stream reset after it. It lives as long as the thread.
 */
export function sharedCompressor(windowBits: number, level: number, memLevel: number): Compressor {
  const key = `${windowBits}/${level}/${memLevel}`;
  let c = sharedCompressors.get(key);
  if (c === undefined)
    sharedCompressors.set(key, (c = new Compressor({ windowBits, takeover: false, level, memLevel })));
  return c;
}

/**
 * Compresses one sender's whole messages (a server connection, on its I/O thread or its worker, or a
 * client): with context takeover in a compressor of its own, made on its first compressed message;
 * without, in the thread's shared one, so the sender holds no zlib state.
 */
export class MessageDeflater {
  readonly settings: DeflaterSettings;
  private own: Compressor | null = null;

  constructor(settings: DeflaterSettings) {
    this.settings = settings;
  }

  /** Whether a whole message of `length` bytes is compressed (below the threshold it goes as it is, RSV1 clear). */
  worthCompressing(length: number): boolean {
    return length >= this.settings.threshold;
  }

  /** The deflated payload of a whole message. */
  compress(data: Uint8Array): Buffer {
    const s = this.settings;
    if (!s.takeover) return sharedCompressor(s.windowBits, s.level, s.memLevel).compress(data);
    return (this.own ??= new Compressor({
      windowBits: s.windowBits,
      takeover: true,
      level: s.level,
      memLevel: s.memLevel,
    })).compress(data);
  }

  /** Frees the compressor of its own (the connection is gone). */
  close(): void {
    this.own?.close();
    this.own = null;
  }
}

/** Why an inflate stopped: the message is over the limit, or its text is not UTF-8. */
export const enum InflateFailure {
  TooBig = -1,
  BadText = -2,
}

/** Inflates the frames of compressed messages for one receiver (or, without context takeover, any number). */
export class Decompressor {
  private stream: ZlibStream | null = null;
  private readonly options: CodecOptions;

  constructor(options: CodecOptions) {
    this.options = options;
  }

  /**
   * Inflates one frame's compressed bytes (with `last`, the message's final frame: the tail is added).
   * Pushes what comes out to `parts`; returns the byte count, or a failure (negative) once the
   * message's inflated size would pass `limit` or `check` refuses a piece.
   */
  inflate(
    data: Uint8Array,
    last: boolean,
    limit: number,
    parts: Buffer[],
    check?: (piece: Buffer) => boolean,
  ): number | InflateFailure {
    // Our window always holds the peer's: 15 unless agreed lower (a peer asked for 8 uses 9 in zlib).
    const stream = (this.stream ??= open(
      zlib.createInflateRaw({ windowBits: Math.max(9, this.options.windowBits), chunkSize: STREAM_CHUNK }),
    ));
    try {
      let n = data.length > 0 ? run(stream, data, limit, parts, check) : 0;
      if (n === null || n < 0) return this.failed(n === null ? InflateFailure.TooBig : InflateFailure.BadText);
      if (last) {
        const t = run(stream, DEFLATE_TAIL, limit - n, parts, check);
        if (t === null || t < 0) return this.failed(t === null ? InflateFailure.TooBig : InflateFailure.BadText);
        n += t;
        if (!this.options.takeover) stream._handle!.reset();
      }
      return n;
    } catch {
      // zlib found the data invalid: its state is lost; the connection fails.
      this.close();
      throw new Error('invalid compressed data');
    }
  }

  /** A message failed midway: the next one (a shared decompressor's, another connection's) starts clean. */
  private failed(why: InflateFailure): InflateFailure {
    this.stream?._handle?.reset();
    return why;
  }

  close(): void {
    this.stream?.close();
    this.stream = null;
  }
}

/** Where an assembler gets the decompressor for a compressed message. */
export interface InflateSource {
  /** The decompressor for a message starting now; `whole` when all of it is at hand (inflated in one call). */
  take(whole: boolean): Decompressor;
  /** That message ended (or the connection is going away). */
  done(decompressor: Decompressor): void;
}
