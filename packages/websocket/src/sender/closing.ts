/**
 * The close handshake's rules that do not depend on the side (RFC 6455 5.5.1, 7.1): what a close frame
 * says, and how long the peer gets to answer. Server connections and the client both use them.
 */
import { CloseCode, fitCloseReason } from '../protocol/close-codes.js';
import type { ProtocolError } from '../protocol/errors.js';
import { encodeClosePayload } from '../protocol/frame-writer.js';

const EMPTY = Buffer.alloc(0);

/** The payload that answers a peer's close frame: its code echoed, or nothing when it sent none (1005). */
export function echoClose(code: number): Buffer {
  return code === CloseCode.NoStatus ? EMPTY : encodeClosePayload(code);
}

/** The payload that fails a connection for `error`: its close code, and as much of its message as fits. */
export function failureClose(error: ProtocolError): Buffer {
  return encodeClosePayload(error.closeCode, fitCloseReason(error.message));
}

/**
 * Waits for the peer's side of the close handshake: `drop` runs once the peer has had `timeout` ms since
 * our close frame reached the kernel. While bytes queued before the frame still wait (`buffered`), a peer
 * that reads them, however slowly, keeps the connection: each `timeout` with progress starts the wait anew;
 * one with none cuts off a peer that stopped reading. `arm` receives each timer (to clear it), then null.
 */
export function awaitPeerClose(timeout: number, buffered: () => number, drop: () => void, arm: (timer: NodeJS.Timeout | null) => void): void {
  let left = buffered();
  const check = (): void => {
    const now = buffered();
    if (left > 0 && now < left) {
      left = now;
      arm(setTimeout(check, timeout));
      return;
    }
    arm(null);
    drop();
  };
  arm(setTimeout(check, timeout));
}
