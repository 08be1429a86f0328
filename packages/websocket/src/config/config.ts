import type { TlsOptions } from 'node:tls';
import type { Logger, LogLevel } from '../logging/log.js';
import type { Backplane } from '../pubsub/backplane.js';
import { deflateSupported } from '../protocol/deflate-codec.js';
import { ConfigError } from './config-error.js';

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
    /** Largest upgrade request in bytes; larger ones get HTTP 431, logged at warn (default 16384, Node's http limit; websocket.zig's is 1024). */
    maxSize?: number;
    /** Request headers kept for `handshake.headers`; further ones are dropped, logged at warn (default 100; websocket.zig's is 10). */
    maxHeaders?: number;
    /** Handshake buffers kept for reuse (default 32). */
    count?: number;
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
    /** Bytes of shared memory per worker and direction for payloads crossing threads (default 32768). */
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
  /** Milliseconds to wait for the peer's side of a close handshake before dropping the TCP connection (default 5000). */
  closeTimeout?: number;
  /**
   * Bytes that may wait unsent for one connection (a client that reads slowly) before
   * `backpressurePolicy` applies to its next data message (default max(1 MiB, 2 * maxMessageSize); 0 = no limit).
   */
  maxBackpressure?: number;
  /** 'close': close the connection with 1008; 'drop': drop data messages and report them to the `dropped` hook (default 'close'). */
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
        /** Compress each message on its own: one compressor shared by all connections, no state per connection (default true). */
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
    /** Topics one connection may be subscribed to at once; `conn.subscribe` throws a RangeError past it (default 256). */
    maxTopicsPerConnection?: number;
    /** Longest topic name, in characters (a string's `length`); longer ones throw a RangeError (default 256). */
    maxTopicLength?: number;
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
  handshake: { timeout: number; maxSize: number; maxHeaders: number; count: number };
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
  pubsub: { maxTopicsPerConnection: number; maxTopicLength: number };
  perMessageDeflate: DeflateConfig | null;
  backplane: Backplane | null;
  logLevel: LogLevel | undefined;
  logger: Logger | undefined;
}

const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'];

function integer(path: string, value: unknown, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number') {
    const hint = typeof value === 'string' ? ' (config values are not parsed: convert text such as process.env values with Number())' : '';
    throw new ConfigError(`invalid config ${path}: got ${typeof value} ${JSON.stringify(value)}; expected an integer from ${min} to ${max}${hint}`);
  }
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`invalid config ${path}: ${String(value)}; expected an integer from ${min} to ${max}`);
  }
  return value;
}

function origins(value: unknown): ((origin: string) => boolean) | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'function') return value as (origin: string) => boolean;
  if (Array.isArray(value) && value.every((o) => typeof o === 'string')) {
    const allowed = new Set(value.map((o: string) => o.toLowerCase()));
    return (origin) => allowed.has(origin.toLowerCase());
  }
  throw new ConfigError("invalid config allowedOrigins: expected a list of origins (e.g. ['https://app.example.com']) or a function (origin) => boolean");
}

function rateLimit(value: unknown): ResolvedConfig['rateLimit'] {
  if (value === undefined || value === null) return null;
  const r = object('rateLimit', value);
  rejectUnknown('rateLimit', r);
  const messagesPerSecond = integer('rateLimit.messagesPerSecond', r.messagesPerSecond, NaN, 1);
  if (Number.isNaN(messagesPerSecond)) throw new ConfigError('invalid config rateLimit: messagesPerSecond is required (e.g. { messagesPerSecond: 50, burst: 100 })');
  const burst = integer('rateLimit.burst', r.burst, messagesPerSecond, 1);
  return {
    messagesPerSecond,
    burst,
    framesPerSecond: integer('rateLimit.framesPerSecond', r.framesPerSecond, 4 * messagesPerSecond, 1),
    frameBurst: integer('rateLimit.frameBurst', r.frameBurst, 4 * burst, 1),
  };
}

function perMessageDeflate(value: unknown): DeflateConfig | null {
  if (value === undefined || value === null || value === false) return null;
  const d = value === true ? {} : object('perMessageDeflate', value);
  rejectUnknown('perMessageDeflate', d);
  if (!deflateSupported()) throw new ConfigError('invalid config perMessageDeflate: this Node.js does not expose the zlib calls wsz compresses with; use Node 20 or later');
  return {
    threshold: integer('perMessageDeflate.threshold', d.threshold, 1024, 0),
    serverNoContextTakeover: boolean('perMessageDeflate.serverNoContextTakeover', d.serverNoContextTakeover, true),
    clientNoContextTakeover: boolean('perMessageDeflate.clientNoContextTakeover', d.clientNoContextTakeover, true),
    serverMaxWindowBits: integer('perMessageDeflate.serverMaxWindowBits', d.serverMaxWindowBits, 15, 9, 15),
    clientMaxWindowBits: integer('perMessageDeflate.clientMaxWindowBits', d.clientMaxWindowBits, 15, 9, 15),
    level: integer('perMessageDeflate.level', d.level, 1, 0, 9),
    memLevel: integer('perMessageDeflate.memLevel', d.memLevel, 8, 1, 9),
  };
}

function backplane(value: unknown): Backplane | null {
  if (value === undefined || value === null) return null;
  const b = value as Partial<Backplane>;
  if (typeof b.publish !== 'function' || typeof b.subscribe !== 'function' || typeof b.unsubscribe !== 'function' || typeof b.close !== 'function' || typeof b.stats !== 'function') {
    throw new ConfigError('invalid config backplane: expected an object with subscribe, unsubscribe, publish, stats and close (e.g. new RedisBackplane(url))');
  }
  return value as Backplane;
}

function boolean(path: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new ConfigError(`invalid config ${path}: got ${typeof value} ${JSON.stringify(value)}; expected true or false`);
  return value;
}

function object(path: string, value: unknown): Record<string, unknown> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null) {
    const got = value === null ? 'null' : typeof value;
    throw new ConfigError(path ? `invalid config ${path}: expected an object, got ${got}` : `new Server(HandlerClass, config): config must be an object (or left out), got ${got}`);
  }
  return value as Record<string, unknown>;
}

/** What users of ws, uWebSockets.js or socket.io type, and what wsz calls it. */
const INSTEAD: Record<string, string> = {
  host: "'address' (the IP address to listen on)",
  hostname: "'address' (the IP address to listen on)",
  maxPayload: "'maxMessageSize'",
  maxPayloadLength: "'maxMessageSize'",
  noServer: "'server.handleUpgrade(req, socket, head)' after 'server.start()' (or 'server.attach(httpServer)'), and no port",
  server: "'server.attach(httpServer, { path })'",
  path: "'server.attach(httpServer, { path })', or check handshake.path in init",
  compression: "'perMessageDeflate'",
  idleTimeoutSeconds: "'idleTimeout' (in milliseconds)",
  backpressure: "'maxBackpressure'",
  maxBackpressureSize: "'maxBackpressure'",
  verifyClient: "an init(handshake) hook that throws to refuse (or 'allowedOrigins')",
  clientTracking: "'server.stats().connections', or conn ids in your app",
};

const KNOWN: Record<string, string[]> = {
  '': ['port', 'address', 'unixPath', 'tls', 'allowedOrigins', 'rateLimit', 'maxConn', 'maxMessageSize', 'handshake', 'buffers', 'workerCount', 'relayLimit', 'threadPool', 'borrowData', 'attributeRejections', 'closeTimeout', 'maxBackpressure', 'backpressurePolicy', 'heartbeat', 'idleTimeout', 'pubsub', 'perMessageDeflate', 'backplane', 'logLevel', 'logger'],
  perMessageDeflate: ['threshold', 'serverNoContextTakeover', 'clientNoContextTakeover', 'serverMaxWindowBits', 'clientMaxWindowBits', 'level', 'memLevel'],
  pubsub: ['maxTopicsPerConnection', 'maxTopicLength'],
  heartbeat: ['interval', 'timeout'],
  rateLimit: ['messagesPerSecond', 'burst', 'framesPerSecond', 'frameBurst'],
  handshake: ['timeout', 'maxSize', 'maxHeaders', 'count'],
  buffers: ['smallSize', 'smallPool', 'largeSize', 'largePool'],
  threadPool: ['count', 'backlog', 'bufferSize'],
};

function rejectUnknown(path: string, value: Record<string, unknown>): void {
  for (const key of Object.keys(value)) {
    if (!KNOWN[path]!.includes(key)) {
      const where = path ? `${path}.${key}` : key;
      const instead = path === '' && INSTEAD[key] ? ` (wsz calls it ${INSTEAD[key]})` : '';
      throw new ConfigError(`unknown config ${where}${instead}; known ${path ? `${path} ` : ''}fields: ${KNOWN[path]!.join(', ')}`, 'WSZ_ERR_UNKNOWN_CONFIG');
    }
  }
}

/** Fills in defaults and validates; throws a TypeError naming the bad field and what it takes. */
export function resolveConfig(config: ServerConfig = {}): ResolvedConfig {
  const c = object('', config);
  rejectUnknown('', c);
  const hs = object('handshake', c.handshake);
  const bf = object('buffers', c.buffers);
  const tp = object('threadPool', c.threadPool);
  const hb = object('heartbeat', c.heartbeat);
  const ps = object('pubsub', c.pubsub);
  rejectUnknown('heartbeat', hb);
  rejectUnknown('pubsub', ps);
  rejectUnknown('handshake', hs);
  rejectUnknown('buffers', bf);
  rejectUnknown('threadPool', tp);

  const address = c.address ?? '127.0.0.1';
  if (typeof address !== 'string' || address === '') throw new ConfigError('invalid config address: expected a host name or IP');
  const unixPath = c.unixPath ?? null;
  if (unixPath !== null && (typeof unixPath !== 'string' || unixPath === '')) {
    throw new ConfigError('invalid config unixPath: expected a file system path');
  }
  if (unixPath !== null && (c.port !== undefined || c.address !== undefined)) {
    throw new ConfigError(`invalid config: unixPath listens on a Unix socket, so ${c.port !== undefined ? 'port' : 'address'} would be ignored; give unixPath or port/address, not both`);
  }
  const logLevel = c.logLevel;
  if (logLevel !== undefined && !LOG_LEVELS.includes(logLevel as string)) {
    throw new ConfigError(`invalid config logLevel: ${String(logLevel)}; expected one of ${LOG_LEVELS.join(', ')}`);
  }
  const maxMessageSize = integer('maxMessageSize', c.maxMessageSize, 65536, 1);
  const policy = c.backpressurePolicy ?? 'close';
  if (policy !== 'close' && policy !== 'drop') throw new ConfigError(`invalid config backpressurePolicy: ${String(policy)}; expected 'close' or 'drop'`);
  const smallSize = integer('buffers.smallSize', bf.smallSize, 2048, 128);
  const smallPool = bf.smallPool === null || bf.smallPool === undefined ? null : integer('buffers.smallPool', bf.smallPool, 0, 0);
  const largeSize = integer('buffers.largeSize', bf.largeSize, Math.max(smallSize, Math.min(2 * smallSize, maxMessageSize)), smallSize);
  return {
    port: integer('port', c.port, 9882, 0, 65535),
    address,
    unixPath,
    allowedOrigins: origins(c.allowedOrigins),
    tls: c.tls === undefined || c.tls === null ? null : (object('tls', c.tls) as TlsOptions),
    rateLimit: rateLimit(c.rateLimit),
    maxConn: integer('maxConn', c.maxConn, 16384, 1),
    maxMessageSize,
    handshake: {
      timeout: integer('handshake.timeout', hs.timeout, 10_000, 1),
      // Browsers send 20-30 headers and cookies of a few KiB: Node's http limits (16 KiB), not websocket.zig's 1 KiB and 10.
      maxSize: integer('handshake.maxSize', hs.maxSize, 16384, 64, 65536),
      maxHeaders: integer('handshake.maxHeaders', hs.maxHeaders, 100, 0),
      count: integer('handshake.count', hs.count, 32, 0),
    },
    buffers: { smallSize, smallPool, largeSize, largePool: integer('buffers.largePool', bf.largePool, 8, 0) },
    workerCount: integer('workerCount', c.workerCount, 1, 1, 64),
    relayLimit: integer('relayLimit', c.relayLimit, 4 * 1024 * 1024, 64 * 1024, 1024 * 1024 * 1024),
    threadPool: {
      count: integer('threadPool.count', tp.count, 4, 0, 256),
      backlog: integer('threadPool.backlog', tp.backlog, 500, 1),
      bufferSize: integer('threadPool.bufferSize', tp.bufferSize, 32768, 1024),
    },
    borrowData: boolean('borrowData', c.borrowData, false),
    attributeRejections: boolean('attributeRejections', c.attributeRejections, false),
    closeTimeout: integer('closeTimeout', c.closeTimeout, 5000, 1),
    // A limit below a couple of messages would refuse ordinary traffic: scale with maxMessageSize.
    maxBackpressure: integer('maxBackpressure', c.maxBackpressure, Math.max(1024 * 1024, 2 * maxMessageSize), 0),
    backpressurePolicy: policy,
    heartbeat: { interval: integer('heartbeat.interval', hb.interval, 0, 0), timeout: integer('heartbeat.timeout', hb.timeout, 10_000, 1) },
    idleTimeout: integer('idleTimeout', c.idleTimeout, 0, 0),
    perMessageDeflate: perMessageDeflate(c.perMessageDeflate),
    backplane: backplane(c.backplane),
    pubsub: {
      maxTopicsPerConnection: integer('pubsub.maxTopicsPerConnection', ps.maxTopicsPerConnection, 256, 1),
      maxTopicLength: integer('pubsub.maxTopicLength', ps.maxTopicLength, 256, 1, 65536),
    },
    logLevel: logLevel as LogLevel | undefined,
    logger: c.logger as Logger | undefined,
  };
}
