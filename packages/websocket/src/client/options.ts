import type { ProtocolError } from '../protocol/errors.js';
import type { MessageType } from '../protocol/opcodes.js';
import type { ClientDeflateOptions } from './deflate.js';

/** Options of {@link Client.connect}. */
export interface ClientOptions {
  /** Extra request headers. */
  headers?: Record<string, string>;
  /** Subprotocols to offer, in order of preference. */
  protocols?: string[];
  /** Milliseconds for the whole opening handshake, TCP and TLS included (default 10000). */
  handshakeTimeout?: number;
  /** Default timeout of {@link Client.read} in ms; it then resolves null (default: wait forever). */
  readTimeout?: number;
  /** Largest message accepted; larger ones fail the connection with 1009 (default 65536). */
  maxMessageSize?: number;
  /** Milliseconds to wait for the server to end TCP after the close handshake (default 5000). */
  closeTimeout?: number;
  /**
   * Bytes that may wait unsent (a server that reads slowly) before `backpressurePolicy` applies to
   * the next data message (default max(1 MiB, 2 * maxMessageSize); 0 = no limit). See {@link Client.bufferedAmount} and
   * {@link Client.drained}.
   */
  maxBackpressure?: number;
  /** 'close': fail the connection with 1008; 'drop': drop the message, the write returns false (default 'close'). */
  backpressurePolicy?: 'close' | 'drop';
  /**
   * Connect to this Unix socket instead of the URL's host and port (the URL still gives path and Host); wss:// speaks
   * TLS over it.
   */
  socketPath?: string;
  /**
   * Offer permessage-deflate (RFC 7692): `true` offers it as browsers do (`client_max_window_bits`),
   * an object says what to offer and how to compress. An answer with parameters not offered or not
   * allowed fails the handshake with a `HandshakeExtensionError`. Default false.
   */
  perMessageDeflate?: boolean | ClientDeflateOptions;
  /**
   * Open the WebSocket as a stream of an HTTP/2 connection to the URL's origin (RFC 8441), shared by every WebSocket
   * to that origin while one is open; the server must announce the extended CONNECT protocol. `'auto'` does what
   * browsers do for wss:// URLs: reuse an open session to the origin, else offer h2 and http/1.1 by ALPN and use h2
   * where the server picks it and announces the extended CONNECT protocol, HTTP/1.1 otherwise (ws:// URLs: HTTP/1.1).
   * Default false: HTTP/1.1, as the `ws` package does.
   */
  http2?: boolean | 'auto';
  /** TLS settings for wss:// URLs. */
  tls?: {
    /** Trusted CA certificates (PEM), for servers whose certificate is not from a public CA. */
    ca?: string | Buffer | Array<string | Buffer>;
    /** Server name for SNI and certificate checks (default: the URL's host). */
    servername?: string;
    /** Refuse servers whose certificate does not verify (default true). */
    rejectUnauthorized?: boolean;
  };
}

/** A message or control frame from the server, as {@link Client.read} returns it. */
export type ClientMessage =
  | { type: 'text' | 'binary'; data: Buffer }
  | { type: 'ping' | 'pong'; data: Buffer }
  | {
      type: 'close';
      /**
       * The server's code (1005 when its close frame had none, 1006 when TCP ended without one), or ours when we failed
       * the connection.
       */
      code: number;
      reason: string;
      /** Set when the client failed the connection because the server broke the protocol. */
      error?: ProtocolError;
    };

/** websocket.zig's client hooks, for {@link Client.readLoop}. */
export interface ClientHandler {
  /** A text or binary message. */
  serverMessage(data: Buffer, type: MessageType): void | Promise<void>;
  /** A ping (the client has already answered it with a pong when this is absent). */
  serverPing?(data: Buffer): void | Promise<void>;
  /** A pong. */
  serverPong?(data: Buffer): void | Promise<void>;
  /** The server's close frame (answered automatically when this is absent). */
  serverClose?(code: number, reason: string): void | Promise<void>;
  /** Runs exactly once when the loop ends. */
  close?(): void | Promise<void>;
}
