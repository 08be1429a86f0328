import { Compressor, Decompressor, type InflateSource } from '../protocol/deflate-codec.js';
import type { DeflateAgreement } from '../protocol/permessage-deflate.js';

/** The resolved `perMessageDeflate` config. */
export interface DeflateConfig {
  threshold: number;
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number;
  clientMaxWindowBits: number;
  level: number;
  memLevel: number;
}

/**
 * The codecs one server (one thread) shares among its connections: with no context takeover a
 * message is compressed or inflated in one synchronous call, so one zlib stream serves everyone,
 * reset after each message. Connections that agreed on no context takeover hold no zlib state.
 */
export class SharedCodecs {
  /** Compressed messages received and sent, for stats. */
  inflated = 0;
  deflated = 0;
  private readonly config: DeflateConfig;
  private decompressor: Decompressor | null = null;
  private readonly compressors = new Map<number, Compressor>();

  constructor(config: DeflateConfig) {
    this.config = config;
  }

  /** Inflates single-frame messages of any connection (a window of 15 reads every peer's). */
  get sharedDecompressor(): Decompressor {
    return (this.decompressor ??= new Decompressor({ windowBits: 15, takeover: false }));
  }

  /** Compresses whole messages for connections without server context takeover, per window size. */
  sharedCompressor(windowBits: number): Compressor {
    let c = this.compressors.get(windowBits);
    if (!c) {
      c = new Compressor({ windowBits, takeover: false, level: this.config.level, memLevel: this.config.memLevel });
      this.compressors.set(windowBits, c);
    }
    return c;
  }

  close(): void {
    this.decompressor?.close();
    for (const c of this.compressors.values()) c.close();
    this.compressors.clear();
  }
}

/**
 * permessage-deflate for one connection, as agreed in its handshake. zlib state of its own exists only
 * with context takeover, from the first compressed message on, or for the length of a fragmented
 * compressed message.
 */
export class ConnectionDeflate implements InflateSource {
  readonly agreement: DeflateAgreement;
  private readonly shared: SharedCodecs;
  private readonly config: DeflateConfig;
  private ownDecompressor: Decompressor | null = null;
  private ownCompressor: Compressor | null = null;

  constructor(agreement: DeflateAgreement, shared: SharedCodecs, config: DeflateConfig) {
    this.agreement = agreement;
    this.shared = shared;
    this.config = config;
  }

  take(whole: boolean): Decompressor {
    if (whole && this.agreement.clientNoContextTakeover) return this.shared.sharedDecompressor;
    return (this.ownDecompressor ??= new Decompressor({ windowBits: this.agreement.clientWindowBits, takeover: !this.agreement.clientNoContextTakeover }));
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

  /** Whether a message of `length` bytes is compressed (below the threshold it goes as it is, RSV1 clear). */
  worthCompressing(length: number): boolean {
    return length >= this.config.threshold;
  }

  /** The compressed payload of a whole message. */
  compress(data: Uint8Array): Buffer {
    const a = this.agreement;
    if (a.serverNoContextTakeover) return this.shared.sharedCompressor(a.serverWindowBits).compress(data);
    return (this.ownCompressor ??= new Compressor({ windowBits: a.serverWindowBits, takeover: true, level: this.config.level, memLevel: this.config.memLevel })).compress(data);
  }

  /** Frees zlib state (the connection is gone). */
  close(): void {
    this.ownDecompressor?.close();
    this.ownCompressor?.close();
    this.ownDecompressor = null;
    this.ownCompressor = null;
  }
}
