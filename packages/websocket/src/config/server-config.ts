import type { TlsOptions } from 'node:tls';
import type { Logger, LogLevel } from '../logging/log.js';
import type { HistoryRule, ResolvedHistoryRule } from '../delivery/history.js';
import type { Backplane } from '../pubsub/backplane.js';

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
 * Server configuration, in websocket.zig's shape (camelCase) and with its defaults. Every field
 * is optional; {@link resolveConfig} fills in the defaults and rejects invalid values.
 */
export interface ServerConfig {
  /** TCP port to listen on (default 9882; 0 picks a free port, see `server.address`). */
  port?: number;
  /** Address to bind (default '127.0.0.1'). */
  address?: string;
  /** Listen on this Unix socket path instead of TCP (a stale socket file is removed first). */
  unixPath?: string | null;
  /**
   * Serve wss://: node:tls server options (`key`, `cert`, `ca`, `passphrase`, `pfx`, ...). TLS 1.2 is
   * the minimum unless `minVersion` says otherwise; the TLS handshake counts against
   * `handshake.timeout`. Default null: plain ws://.
   */
  tls?: TlsOptions | null;
  /**
   * Origins browsers may connect from: a list (`['https://app.example.com']`, compared exactly, case
   * aside) or a function of the Origin header. A request whose Origin is not allowed gets HTTP 403
   * before `init` runs. Requests without Origin (non-browser clients) are allowed. Default: any origin.
   */
  allowedOrigins?: readonly string[] | ((origin: string) => boolean) | null;
  /**
   * Inbound rate per connection: on average at most `messagesPerSecond` text and binary messages,
   * with bursts of up to `burst` (default: one second's worth), and at most `framesPerSecond` frames
   * of any kind (fragments, pings, pongs; default 4 x messagesPerSecond) with bursts of `frameBurst`
   * (default 4 x burst). A connection over either is closed with 1008. Default null: no limit (as ws
   * and uWebSockets.js).
   */
  rateLimit?: { messagesPerSecond: number; burst?: number; framesPerSecond?: number; frameBurst?: number } | null;
  /**
   * Most connections open at once, handshaking ones included; a socket accepted beyond it is
   * answered HTTP 503 at once and closed (default 16384).
   */
  maxConn?: number;
  /** Largest message accepted, counted across fragments; larger ones are closed with 1009 (default 65536). */
  maxMessageSize?: number;
  handshake?: {
    /** Milliseconds a client has to send its complete upgrade request (default 10000). */
    timeout?: number;
    /**
     * Largest upgrade request in bytes; larger ones get HTTP 431, logged at warn (default 16384, Node's http limit;
     * websocket.zig's is 1024).
     */
    maxSize?: number;
    /**
     * Request headers kept for `handshake.headers`; further ones are dropped, logged at warn (default 100;
     * websocket.zig's is 10).
     */
    maxHeaders?: number;
    /** Handshake buffers kept for reuse (default 32). */
    count?: number;
    /**
     * Largest body of a plain HTTP request answered by `static httpRequest` (a POST to an admin route), read whole
     * before it runs; larger ones get 413 (default 65536).
     */
    maxBodySize?: number;
  };
  buffers?: {
    /** Size of a small buffer (default 2048). */
    smallSize?: number;
    /** Free small buffers kept; null keeps one per connection (default null). */
    smallPool?: number | null;
    /** Size of a large buffer (default max(smallSize, min(2 * smallSize, maxMessageSize))). */
    largeSize?: number;
    /** Free large buffers kept (default 8). */
    largePool?: number;
  };
  /**
   * I/O threads, each owning the sockets it is given for their whole life: handshake, framing,
   * limits and writes run there, several cores at once (websocket.zig's `worker_count`). Default 1:
   * the main thread does all I/O. More needs Node 24 or later (it moves accepted sockets between
   * threads); hooks then run on each I/O thread's share of `threadPool.count` (see docs/scaling.md).
   */
  workerCount?: number;
  /**
   * With I/O threads: bytes of pub/sub traffic (publishes, broadcasts, sends) that may wait for one I/O
   * thread to take them (default 4 MiB). Past it, a connection on another thread that publishes stops
   * being read until that thread catches up, as TCP slows a publisher on one thread: a busy thread
   * never makes the others queue without bound.
   */
  relayLimit?: number;
  threadPool?: {
    /** Worker threads running handlers; 0 runs them on the I/O thread (default 4). */
    count?: number;
    /** Messages waiting for a worker before reading pauses (default 500). */
    backlog?: number;
    /**
     * Bytes of shared memory per worker and direction for payloads crossing threads (default 1048576, 1 MiB;
     * websocket.zig's buffer is 32768). A message that does not fit crosses in memory of its own, which costs
     * more: the default holds a tick's worth of 16 KiB messages.
     */
    bufferSize?: number;
  };
  /**
   * Lend hooks their `data` instead of giving it: when true, the Buffer a hook receives (message,
   * ping, pong) is valid only until the hook returns or its promise settles, and its memory is then
   * reused for other messages, possibly another connection's (websocket.zig's rule). It saves one
   * copy per message with worker threads and per fragmented or read-split message inline. Default
   * false: `data` is the hook's to keep, and never changes.
   */
  borrowData?: boolean;
  /**
   * With hooks inline (`threadPool.count: 0`): a promise rejection that no code handled, from a
   * promise a hook made and did not await, closes only that hook's connection with 1011 (logged at
   * error) instead of Node's default of ending the process. It installs a process-wide
   * 'unhandledRejection' listener while the server runs, so it is yours to turn on (default false).
   * On hook threads and I/O threads, which are wsz's own, this is always so.
   */
  attributeRejections?: boolean;
  /**
   * Milliseconds to wait for the peer's side of a close handshake before dropping the TCP connection (default 5000).
   */
  closeTimeout?: number;
  /**
   * Bytes that may wait unsent for one connection (a client that reads slowly) before
   * `backpressurePolicy` applies to its next data message (default max(1 MiB, 2 * maxMessageSize); 0 = no limit).
   */
  maxBackpressure?: number;
  /**
   * 'close': close the connection with 1008; 'drop': drop data messages and report them to the `dropped` hook (default
   * 'close').
   */
  backpressurePolicy?: 'close' | 'drop';
  heartbeat?: {
    /** Ping a connection after this many ms without a frame from it (default 0: off, as in websocket.zig). */
    interval?: number;
    /** Drop a connection that sends nothing for this many ms after such a ping (default 10000). */
    timeout?: number;
  };
  /** Close (1001) a connection after this many ms with no traffic at all, no frame either way (default 0: off). */
  idleTimeout?: number;
  /**
   * permessage-deflate (RFC 7692): `true` accepts a client's offer with the options below, an object
   * sets them. Default false (as ws, uWebSockets.js and Bun): compression costs CPU on every message.
   */
  perMessageDeflate?:
    | boolean
    | {
        /** Messages shorter than this many bytes go uncompressed (default 1024). */
        threshold?: number;
        /**
         * Compress each message on its own: one compressor shared by all connections, no state per connection (default
         * true).
         */
        serverNoContextTakeover?: boolean;
        /** Ask clients to compress each message on its own: no inflate state per connection (default true). */
        clientNoContextTakeover?: boolean;
        /** Window of our compressor, 9-15 (default 15). */
        serverMaxWindowBits?: number;
        /** Window clients are asked to use when they let us choose, 9-15 (default 15). */
        clientMaxWindowBits?: number;
        /** zlib level 0-9 (default 1: fast; text still shrinks several times). */
        level?: number;
        /** zlib memLevel 1-9 (default 8). */
        memLevel?: number;
      };
  /**
   * Carries publishes and broadcasts to other servers (processes, machines), e.g.
   * `new RedisBackplane('redis://127.0.0.1:6379')`. Default null: pub/sub spans this server only.
   */
  backplane?: Backplane | null;
  /** Limits of pub/sub (`conn.subscribe`, `publish`): a client cannot make its handler hold unbounded topics. */
  pubsub?: {
    /**
     * Topics one connection may be subscribed to at once; `conn.subscribe` throws a RangeError past it (default 256).
     */
    maxTopicsPerConnection?: number;
    /** Longest topic name, in characters (a string's `length`); longer ones throw a RangeError (default 256). */
    maxTopicLength?: number;
    /**
     * Topics that keep their recent messages, so clients can resume after a reconnect (docs/delivery.md): the first
     * rule whose `topic` matches applies. Used with a handler that opts into delivery (`static delivery = true`).
     * Default none.
     */
    history?: HistoryRule[];
    /**
     * Bytes of history kept over all topics; past it, the topic published to least recently loses messages first
     * (default 64 MiB).
     */
    historyMaxBytes?: number;
    /**
     * Topics whose history position is remembered; past it, the one published to least recently is forgotten (its
     * next subscribers see a new epoch). Default 10000.
     */
    historyTopics?: number;
  };
  /** Log level of the 'wsz' logger (default 'info'; 'silent' under a test runner; env WSZ_LOG_LEVEL overrides). */
  logLevel?: LogLevel;
  /** Where log lines go (default: console.error). */
  logger?: Logger;
}

/** A {@link ServerConfig} with every default filled in. */
export interface ResolvedConfig {
  port: number;
  address: string;
  unixPath: string | null;
  allowedOrigins: ((origin: string) => boolean) | null;
  tls: TlsOptions | null;
  rateLimit: { messagesPerSecond: number; burst: number; framesPerSecond: number; frameBurst: number } | null;
  maxConn: number;
  maxMessageSize: number;
  handshake: { timeout: number; maxSize: number; maxHeaders: number; count: number; maxBodySize: number };
  buffers: { smallSize: number; smallPool: number | null; largeSize: number; largePool: number };
  workerCount: number;
  relayLimit: number;
  threadPool: { count: number; backlog: number; bufferSize: number };
  borrowData: boolean;
  attributeRejections: boolean;
  closeTimeout: number;
  maxBackpressure: number;
  backpressurePolicy: 'close' | 'drop';
  heartbeat: { interval: number; timeout: number };
  idleTimeout: number;
  pubsub: {
    maxTopicsPerConnection: number;
    maxTopicLength: number;
    history: ResolvedHistoryRule[];
    historyMaxBytes: number;
    historyTopics: number;
  };
  perMessageDeflate: DeflateConfig | null;
  backplane: Backplane | null;
  logLevel: LogLevel | undefined;
  logger: Logger | undefined;
}
