import { isUtf8 } from 'node:buffer';

/** Data a write accepts: text (UTF-8 encoded on the way out) or bytes. */
export type WriteData = string | Uint8Array;

/** How a data frame meets permessage-deflate (when the handshake agreed on it). */
export const enum Compression {
  /** Compressed when whole and at least `perMessageDeflate.threshold` bytes. */
  Auto = 0,
  /** Sent as it is (RSV1 clear). */
  Off = 1,
  /** The payload is deflated already (a worker compressed it): RSV1 set, nothing more done. */
  Done = 2,
}

/**
 * Throws a TypeError for bytes that are not valid UTF-8 sent as a text message: the peer would fail
 * the connection (RFC 6455 8.1). Native and word-wise (node:buffer's isUtf8).
 */
export function checkText(call: string, data: Uint8Array): void {
  if (!isUtf8(data)) {
    throw new TypeError(
      `${call}: these bytes are not valid UTF-8, so they cannot go as a text message (RFC 6455 8.1); send them as binary (writeBin, or { binary: true })`,
    );
  }
}
