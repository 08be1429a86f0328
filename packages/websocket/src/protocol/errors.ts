/**
 * What a {@link ProtocolError} is about, stable across releases (match these, not messages):
 * - `WSZ_ERR_UNEXPECTED_RSV`: an RSV bit set without an extension that defines it (1002)
 * - `WSZ_ERR_INVALID_OPCODE`: a reserved opcode (1002)
 * - `WSZ_ERR_MASK`: a client frame without a mask, or a server frame with one (1002)
 * - `WSZ_ERR_FRAGMENTED_CONTROL`: a control frame without FIN (1002)
 * - `WSZ_ERR_CONTROL_TOO_BIG`: a control frame payload over 125 bytes (1002)
 * - `WSZ_ERR_INVALID_LENGTH`: a 64-bit payload length with its top bit set (1002)
 * - `WSZ_ERR_UNEXPECTED_CONTINUATION`: a continuation frame with no message to continue (1002)
 * - `WSZ_ERR_EXPECTED_CONTINUATION`: a new data frame inside a fragmented message (1002)
 * - `WSZ_ERR_INVALID_CLOSE_PAYLOAD`: a close frame with a 1-byte payload (1002)
 * - `WSZ_ERR_INVALID_CLOSE_CODE`: a close code that may not be sent (1002)
 * - `WSZ_ERR_INVALID_UTF8`: a text message or close reason that is not UTF-8 (1007)
 * - `WSZ_ERR_INVALID_DEFLATE`: permessage-deflate data that does not inflate (1007)
 * - `WSZ_ERR_MESSAGE_TOO_BIG`: a frame or message over maxMessageSize (1009)
 * - `WSZ_ERR_TOO_MANY_FRAMES`: a message in more fragments than allowed (1008)
 * - `WSZ_ERR_RATE_LIMIT`: messages or frames faster than `rateLimit` (1008)
 * - `WSZ_ERR_PROTOCOL`: any other violation (a ProtocolError made without a code)
 */
export type ProtocolErrorCode =
  | 'WSZ_ERR_UNEXPECTED_RSV'
  | 'WSZ_ERR_INVALID_OPCODE'
  | 'WSZ_ERR_MASK'
  | 'WSZ_ERR_FRAGMENTED_CONTROL'
  | 'WSZ_ERR_CONTROL_TOO_BIG'
  | 'WSZ_ERR_INVALID_LENGTH'
  | 'WSZ_ERR_UNEXPECTED_CONTINUATION'
  | 'WSZ_ERR_EXPECTED_CONTINUATION'
  | 'WSZ_ERR_INVALID_CLOSE_PAYLOAD'
  | 'WSZ_ERR_INVALID_CLOSE_CODE'
  | 'WSZ_ERR_INVALID_UTF8'
  | 'WSZ_ERR_INVALID_DEFLATE'
  | 'WSZ_ERR_MESSAGE_TOO_BIG'
  | 'WSZ_ERR_TOO_MANY_FRAMES'
  | 'WSZ_ERR_RATE_LIMIT'
  | 'WSZ_ERR_PROTOCOL';

/**
 * A violation of RFC 6455 (or RFC 7692) by the peer. It carries the close code to send, decided
 * where the rule lives; the connection layer only reports it.
 */
export class ProtocolError extends Error {
  /** The close code the connection is failed with (1002, 1007, 1009, ...). */
  readonly closeCode: number;
  /** What the violation is, for programs (see {@link ProtocolErrorCode}). */
  readonly code: ProtocolErrorCode;

  /**
   * @param closeCode the close code to send
   * @param message the reason (sent, cut to 123 bytes)
   * @param code what the violation is (default `WSZ_ERR_PROTOCOL`)
   */
  constructor(closeCode: number, message: string, code: ProtocolErrorCode = 'WSZ_ERR_PROTOCOL') {
    super(message);
    this.name = 'ProtocolError';
    this.closeCode = closeCode;
    this.code = code;
  }
}

/**
 * Why an opening handshake was refused, stable across releases (match these, not messages):
 * - `WSZ_ERR_MALFORMED_REQUEST` (400): a request line or header line that is not HTTP
 * - `WSZ_ERR_HTTP_VERSION` (505): an upgrade over HTTP/1.0
 * - `WSZ_ERR_INVALID_TARGET` (400): a request target that is not a path or http URL
 * - `WSZ_ERR_INVALID_HEADER` (400): a control character in a header value
 * - `WSZ_ERR_METHOD` (405): an upgrade that is not a GET
 * - `WSZ_ERR_HOST` (400): no Host header, two, or an invalid one
 * - `WSZ_ERR_UPGRADE_HEADER` / `WSZ_ERR_CONNECTION_HEADER` (400): Upgrade is not websocket, Connection lacks Upgrade
 * - `WSZ_ERR_VERSION` (426): a Sec-WebSocket-Version other than 13
 * - `WSZ_ERR_KEY` (400): a Sec-WebSocket-Key that is not 16 bytes in base64
 * - `WSZ_ERR_PROTOCOL_HEADER` / `WSZ_ERR_EXTENSIONS_HEADER` (400): a malformed Sec-WebSocket-Protocol / -Extensions
 * - `WSZ_ERR_REQUEST_TOO_LARGE` (431): a request over handshake.maxSize
 * - `WSZ_ERR_ORIGIN` (403): an Origin not in allowedOrigins
 * - `WSZ_ERR_MAX_CONN` (503): the server is at maxConn
 * - `WSZ_ERR_UNAVAILABLE` (503): the server is stopping, or a hook thread restarting
 * - `WSZ_ERR_SUBPROTOCOL` (500): init selected a subprotocol the client did not offer
 * - `WSZ_ERR_REFUSED`: refused by the handler's `init` (the default for a HandshakeError you make)
 */
export type HandshakeErrorCode =
  | 'WSZ_ERR_MALFORMED_REQUEST'
  | 'WSZ_ERR_HTTP_VERSION'
  | 'WSZ_ERR_INVALID_TARGET'
  | 'WSZ_ERR_INVALID_HEADER'
  | 'WSZ_ERR_METHOD'
  | 'WSZ_ERR_HOST'
  | 'WSZ_ERR_UPGRADE_HEADER'
  | 'WSZ_ERR_CONNECTION_HEADER'
  | 'WSZ_ERR_VERSION'
  | 'WSZ_ERR_KEY'
  | 'WSZ_ERR_PROTOCOL_HEADER'
  | 'WSZ_ERR_EXTENSIONS_HEADER'
  | 'WSZ_ERR_REQUEST_TOO_LARGE'
  | 'WSZ_ERR_ORIGIN'
  | 'WSZ_ERR_MAX_CONN'
  | 'WSZ_ERR_UNAVAILABLE'
  | 'WSZ_ERR_SUBPROTOCOL'
  | 'WSZ_ERR_REFUSED';

/**
 * A refused opening handshake: it carries the HTTP status to answer with and any extra response
 * headers. Throw one from a handler's `init` to refuse an upgrade with a status of your choice.
 */
export class HandshakeError extends Error {
  /** HTTP status code of the refusal (400, 401, 403, 405, 426, 431, 503, ...). */
  readonly status: number;
  /** Extra response headers, such as `Sec-WebSocket-Version: 13` on a 426. */
  readonly headers: Readonly<Record<string, string>>;
  /** Why, for programs (see {@link HandshakeErrorCode}). */
  readonly code: HandshakeErrorCode;

  /**
   * @param status HTTP status
   * @param message the reason: the plain-text response body is this message and a newline
   * @param headers extra response headers
   * @param code why (default `WSZ_ERR_REFUSED`: a refusal of the application's)
   */
  constructor(
    status: number,
    message: string,
    headers: Record<string, string> = {},
    code: HandshakeErrorCode = 'WSZ_ERR_REFUSED',
  ) {
    super(message);
    this.name = 'HandshakeError';
    this.status = status;
    this.headers = headers;
    this.code = code;
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
    const extra = typeof headers === 'object' && headers !== null ? (headers as Record<string, string>) : {};
    const code = error instanceof HandshakeError ? error.code : 'WSZ_ERR_REFUSED';
    return { refusal: new HandshakeError(status, message, extra, code), explicit: true };
  }
  return { refusal: new HandshakeError(400, 'upgrade refused by the server', {}, 'WSZ_ERR_REFUSED'), explicit: false };
}
