import {
  Decompressor,
  MessageDeflater,
  sharedCompressor,
  type Compressor,
  type InflateSource,
} from '../protocol/deflate-codec.js';
import type { DeflateAgreement } from '../protocol/permessage-deflate.js';
import type { DeflateConfig } from '../config/config.js';
import type { PreparedMessage } from '../sender/prepared.js';

/**
 * The decompressor one server shares among its connections, and its counters: without client context
 * takeover a message that arrives whole is inflated in one synchronous call, so one zlib stream serves
 * everyone, reset after each message. (Compressors without context takeover are shared per thread:
 * `sharedCompressor`.) Connections that agreed on no context takeover hold no zlib state.
 */
export class SharedCodecs {
  /** Compressed messages received and sent, for stats. */
  inflated = 0;
  deflated = 0;
  private decompressor: Decompressor | null = null;

  /** Inflates single-frame messages of any connection (a window of 15 reads every peer's). */
  get sharedDecompressor(): Decompressor {
    return (this.decompressor ??= new Decompressor({ windowBits: 15, takeover: false }));
  }

  close(): void {
    this.decompressor?.close();
    this.decompressor = null;
  }
}

/**
 * permessage-deflate for one connection, as agreed in its handshake. zlib state of its own exists only
 * with context takeover, from the first compressed message on, or for the length of a fragmented
 * compressed message.
 */
export class ConnectionDeflate implements InflateSource {
  readonly agreement: DeflateAgreement;
  /** How this connection's own messages are compressed (inline; with workers, the worker has the same settings). */
  readonly deflater: MessageDeflater;
  private readonly shared: SharedCodecs;
  private ownDecompressor: Decompressor | null = null;

  constructor(agreement: DeflateAgreement, shared: SharedCodecs, config: DeflateConfig) {
    this.agreement = agreement;
    this.shared = shared;
    this.deflater = new MessageDeflater({
      takeover: !agreement.serverNoContextTakeover,
      windowBits: agreement.serverWindowBits,
      threshold: config.threshold,
      level: config.level,
      memLevel: config.memLevel,
    });
  }

  take(whole: boolean): Decompressor {
    if (whole && this.agreement.clientNoContextTakeover) return this.shared.sharedDecompressor;
    return (this.ownDecompressor ??= new Decompressor({
      windowBits: this.agreement.clientWindowBits,
      takeover: !this.agreement.clientNoContextTakeover,
    }));
  }

  done(decompressor: Decompressor): void {
    this.shared.inflated++;
    // A fragmented message's own decompressor is not kept without context takeover.
    if (decompressor === this.ownDecompressor && this.agreement.clientNoContextTakeover) {
      this.ownDecompressor.close();
      this.ownDecompressor = null;
    }
  }

  /** A compressed message went out (compressed here, by a worker, or once for a publish). */
  sent(): void {
    this.shared.deflated++;
  }

  worthCompressing(length: number): boolean {
    return this.deflater.worthCompressing(length);
  }

  compress(data: Uint8Array): Buffer {
    return this.deflater.compress(data);
  }

  /**
   * The frame of a prepared message (a publish) for this connection: compressed, once for all
   * connections with the same settings, without server context takeover; as it is with takeover
   * (compressing it here would cost a compression per recipient): then null. Count a compressed
   * frame with {@link sent} once it is queued.
   */
  compressedFrame(message: PreparedMessage): Buffer | null {
    const a = this.agreement;
    if (!a.serverNoContextTakeover || !this.worthCompressing(message.payloadLength)) return null;
    return message.compressed(a.serverWindowBits, this.sharedCompressor());
  }

  /** The thread's compressor for messages shared among connections (publishes), with this connection's settings. */
  sharedCompressor(): Compressor {
    const s = this.deflater.settings;
    return sharedCompressor(s.windowBits, s.level, s.memLevel);
  }

  /** Frees zlib state (the connection is gone). */
  close(): void {
    this.ownDecompressor?.close();
    this.ownDecompressor = null;
    this.deflater.close();
  }
}
