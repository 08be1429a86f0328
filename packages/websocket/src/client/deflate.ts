import { Decompressor, MessageDeflater, type InflateSource } from '../protocol/deflate-codec.js';
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
  private readonly deflater: MessageDeflater;

  constructor(agreement: DeflateAgreement, options: ClientDeflateOptions) {
    this.agreement = agreement;
    this.decompressor = new Decompressor({
      windowBits: agreement.serverWindowBits,
      takeover: !agreement.serverNoContextTakeover,
    });
    this.deflater = new MessageDeflater({
      takeover: !agreement.clientNoContextTakeover,
      windowBits: agreement.clientWindowBits,
      threshold: options.threshold ?? 1024,
      level: options.level ?? 1,
      memLevel: options.memLevel ?? 8,
    });
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
    return this.deflater.worthCompressing(length) && this.agreement.clientWindowBits >= 9;
  }

  /** (Counted on the server only.) */
  sent(): void {}

  compress(data: Uint8Array): Buffer {
    return this.deflater.compress(data);
  }

  close(): void {
    this.decompressor.close();
    this.deflater.close();
  }
}
