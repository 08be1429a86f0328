import { Compressor, Decompressor, type InflateSource } from '../protocol/deflate-codec.js';
import type { DeflateAgreement, DeflateOffer } from '../protocol/permessage-deflate.js';

/** `Client.connect`'s `perMessageDeflate` option: what to offer, and how to compress. */
export interface ClientDeflateOptions extends DeflateOffer {
  /** Messages shorter than this many bytes go uncompressed (default 1024). */
  threshold?: number;
  /** zlib level 0-9 (default 1). */
  level?: number;
  /** zlib memLevel 1-9 (default 8). */
  memLevel?: number;
}

/** permessage-deflate for one client connection, as the server agreed. */
export class ClientDeflate implements InflateSource {
  readonly agreement: DeflateAgreement;
  private readonly decompressor: Decompressor;
  private compressor: Compressor | null = null;
  private readonly options: ClientDeflateOptions;

  constructor(agreement: DeflateAgreement, options: ClientDeflateOptions) {
    this.agreement = agreement;
    this.options = options;
    this.decompressor = new Decompressor({ windowBits: agreement.serverWindowBits, takeover: !agreement.serverNoContextTakeover });
  }

  take(): Decompressor {
    return this.decompressor;
  }

  done(): void {}

  /**
   * Whether to compress a message of `length` bytes. Never with an agreed window of 8 bits: zlib
   * would compress with 9 (its raw deflate has no 8-bit window), which the server may not read.
   */
  worthCompressing(length: number): boolean {
    return length >= (this.options.threshold ?? 1024) && this.agreement.clientWindowBits >= 9;
  }

  /** (Counted on the server only.) */
  sent(): void {}

  compress(data: Uint8Array): Buffer {
    const a = this.agreement;
    this.compressor ??= new Compressor({ windowBits: a.clientWindowBits, takeover: !a.clientNoContextTakeover, level: this.options.level ?? 1, memLevel: this.options.memLevel ?? 8 });
    return this.compressor.compress(data);
  }

  close(): void {
    this.decompressor.close();
    this.compressor?.close();
  }
}
