/**
 * A violation of RFC 6455 (or RFC 7692) by the peer. It carries the close code to send, decided
 * where the rule lives; the connection layer only reports it.
 */
export class ProtocolError extends Error {
  /** The close code the connection is failed with (1002, 1007, 1009, ...). */
  readonly closeCode: number;

  /** @param closeCode the close code to send @param message the reason (sent, cut to 123 bytes) */
  constructor(closeCode: number, message: string) {
    super(message);
    this.name = 'ProtocolError';
    this.closeCode = closeCode;
  }
}

/**
 * A refused opening handshake: it carries the HTTP status to answer with and any extra response
 * headers. Throw one from a handler's `init` to refuse an upgrade with a status of your choice.
 */
export class HandshakeError extends Error {
  /** HTTP status code of the refusal (400, 401, 403, 405, 426, 431, 503, ...). */
  readonly status: number;
  /** Extra response headers, such as `Sec-WebSocket-Version: 13` on a 426. */
  readonly headers: Readonly<Record<string, string>>;

  /**
   * @param status HTTP status
   * @param message the reason: the plain-text response body is this message and a newline
   * @param headers extra response headers
   */
  constructor(status: number, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.name = 'HandshakeError';
    this.status = status;
    this.headers = headers;
  }
}

/**
 * The HTTP refusal for an error thrown by `init`: its own status (400-599), message and headers
 * when it carries a `status`; otherwise a plain 400 that reveals nothing of the error. `explicit`
 * says which, so the caller logs an unexpected error loudly and a deliberate refusal quietly.
 */
export function refusalFor(error: unknown): { refusal: HandshakeError; explicit: boolean } {
  const status = (error as { status?: unknown } | null)?.status;
  if (typeof status === 'number' && Number.isInteger(status) && status >= 400 && status <= 599) {
    const headers = (error as { headers?: unknown }).headers;
    const message = (error as Error).message || 'upgrade refused';
    return { refusal: new HandshakeError(status, message, typeof headers === 'object' && headers !== null ? (headers as Record<string, string>) : {}), explicit: true };
  }
  return { refusal: new HandshakeError(400, 'upgrade refused by the server'), explicit: false };
}
