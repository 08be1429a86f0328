import type { TlsOptions } from 'node:tls';
import type { Logger, LogLevel } from '../logging/log.js';
import type { ResolvedHistoryRule } from '../delivery/history.js';
import type { Backplane } from '../pubsub/backplane.js';
import { deflateSupported } from '../protocol/deflate-codec.js';
import { ConfigError } from './config-error.js';

import type { DeflateConfig, ResolvedConfig, ServerConfig } from './server-config.js';

export type { DeflateConfig, ResolvedConfig, ServerConfig } from './server-config.js';

const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'];

function integer(path: string, value: unknown, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number') {
    const hint =
      typeof value === 'string'
        ? ' (config values are not parsed: convert text such as process.env values with Number())'
        : '';
    throw new ConfigError(
      `invalid config ${path}: got ${typeof value} ${JSON.stringify(value)}; expected an integer from ${min} to ${max}${hint}`,
    );
  }
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`invalid config ${path}: ${String(value)}; expected an integer from ${min} to ${max}`);
  }
  return value;
}

/** Checks and completes `pubsub.history` (docs/delivery.md). */
function historyRules(rules: unknown): ResolvedHistoryRule[] {
  if (rules === undefined) return [];
  if (!Array.isArray(rules)) throw new ConfigError('invalid config pubsub.history: expected an array of rules');
  return rules.map((rule: unknown, i) => {
    const at = `pubsub.history[${i}]`;
    if (typeof rule !== 'object' || rule === null) throw new ConfigError(`invalid config ${at}: expected an object`);
    const r = rule as Record<string, unknown>;
    for (const key of Object.keys(r)) {
      if (!['topic', 'messages', 'seconds', 'maxBytes'].includes(key))
        throw new ConfigError(
          `unknown config ${at}.${key}: a rule has topic, messages, seconds and maxBytes`,
          'WSZ_ERR_UNKNOWN_CONFIG',
        );
    }
    if (typeof r.topic !== 'string' || r.topic.length === 0)
      throw new ConfigError(`invalid config ${at}.topic: expected a topic name, a prefix ending in '*', or '*'`);
    return {
      topic: r.topic,
      messages: integer(`${at}.messages`, r.messages, 100, 1),
      seconds: integer(`${at}.seconds`, r.seconds, 0, 0),
      maxBytes: integer(`${at}.maxBytes`, r.maxBytes, 1024 * 1024, 1),
    };
  });
}

function origins(value: unknown): ((origin: string) => boolean) | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'function') return value as (origin: string) => boolean;
  if (Array.isArray(value) && value.every((o) => typeof o === 'string')) {
    const allowed = new Set(value.map((o: string) => o.toLowerCase()));
    return (origin) => allowed.has(origin.toLowerCase());
  }
  throw new ConfigError(
    "invalid config allowedOrigins: expected a list of origins (e.g. ['https://app.example.com']) or a function (origin) => boolean",
  );
}

function rateLimit(value: unknown): ResolvedConfig['rateLimit'] {
  if (value === undefined || value === null) return null;
  const r = object('rateLimit', value);
  rejectUnknown('rateLimit', r);
  const messagesPerSecond = integer('rateLimit.messagesPerSecond', r.messagesPerSecond, NaN, 1);
  if (Number.isNaN(messagesPerSecond))
    throw new ConfigError(
      'invalid config rateLimit: messagesPerSecond is required (e.g. { messagesPerSecond: 50, burst: 100 })',
    );
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
  if (!deflateSupported())
    throw new ConfigError(
      'invalid config perMessageDeflate: this Node.js does not expose the zlib calls wsz compresses with; use Node 20 or later',
    );
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
  if (
    typeof b.publish !== 'function' ||
    typeof b.subscribe !== 'function' ||
    typeof b.unsubscribe !== 'function' ||
    typeof b.close !== 'function' ||
    typeof b.stats !== 'function'
  ) {
    throw new ConfigError(
      'invalid config backplane: expected an object with subscribe, unsubscribe, publish, stats and close (e.g. new RedisBackplane(url))',
    );
  }
  return value as Backplane;
}

function boolean(path: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean')
    throw new ConfigError(
      `invalid config ${path}: got ${typeof value} ${JSON.stringify(value)}; expected true or false`,
    );
  return value;
}

function object(path: string, value: unknown): Record<string, unknown> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null) {
    const got = value === null ? 'null' : typeof value;
    throw new ConfigError(
      path
        ? `invalid config ${path}: expected an object, got ${got}`
        : `new Server(HandlerClass, config): config must be an object (or left out), got ${got}`,
    );
  }
  return value as Record<string, unknown>;
}

/** What users of ws, uWebSockets.js or socket.io type, and what wsz calls it. */
const INSTEAD: Record<string, string> = {
  host: "'address' (the IP address to listen on)",
  hostname: "'address' (the IP address to listen on)",
  maxPayload: "'maxMessageSize'",
  maxPayloadLength: "'maxMessageSize'",
  noServer:
    "'server.handleUpgrade(req, socket, head)' after 'server.start()' (or 'server.attach(httpServer)'), and no port",
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
  '': [
    'port',
    'address',
    'unixPath',
    'tls',
    'allowedOrigins',
    'rateLimit',
    'maxConn',
    'maxMessageSize',
    'handshake',
    'buffers',
    'workerCount',
    'relayLimit',
    'threadPool',
    'borrowData',
    'attributeRejections',
    'closeTimeout',
    'maxBackpressure',
    'backpressurePolicy',
    'heartbeat',
    'idleTimeout',
    'pubsub',
    'perMessageDeflate',
    'backplane',
    'logLevel',
    'logger',
  ],
  perMessageDeflate: [
    'threshold',
    'serverNoContextTakeover',
    'clientNoContextTakeover',
    'serverMaxWindowBits',
    'clientMaxWindowBits',
    'level',
    'memLevel',
  ],
  pubsub: ['maxTopicsPerConnection', 'maxTopicLength', 'history', 'historyMaxBytes', 'historyTopics'],
  heartbeat: ['interval', 'timeout'],
  rateLimit: ['messagesPerSecond', 'burst', 'framesPerSecond', 'frameBurst'],
  handshake: ['timeout', 'maxSize', 'maxHeaders', 'count', 'maxBodySize'],
  buffers: ['smallSize', 'smallPool', 'largeSize', 'largePool'],
  threadPool: ['count', 'backlog', 'bufferSize'],
};

function rejectUnknown(path: string, value: Record<string, unknown>): void {
  for (const key of Object.keys(value)) {
    if (!KNOWN[path]!.includes(key)) {
      const where = path ? `${path}.${key}` : key;
      const instead = path === '' && INSTEAD[key] ? ` (wsz calls it ${INSTEAD[key]})` : '';
      throw new ConfigError(
        `unknown config ${where}${instead}; known ${path ? `${path} ` : ''}fields: ${KNOWN[path]!.join(', ')}`,
        'WSZ_ERR_UNKNOWN_CONFIG',
      );
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
  if (typeof address !== 'string' || address === '')
    throw new ConfigError('invalid config address: expected a host name or IP');
  const unixPath = c.unixPath ?? null;
  if (unixPath !== null && (typeof unixPath !== 'string' || unixPath === '')) {
    throw new ConfigError('invalid config unixPath: expected a file system path');
  }
  if (unixPath !== null && (c.port !== undefined || c.address !== undefined)) {
    throw new ConfigError(
      `invalid config: unixPath listens on a Unix socket, so ${c.port !== undefined ? 'port' : 'address'} would be ignored; give unixPath or port/address, not both`,
    );
  }
  const logLevel = c.logLevel;
  if (logLevel !== undefined && !LOG_LEVELS.includes(logLevel as string)) {
    throw new ConfigError(`invalid config logLevel: ${String(logLevel)}; expected one of ${LOG_LEVELS.join(', ')}`);
  }
  const maxMessageSize = integer('maxMessageSize', c.maxMessageSize, 65536, 1);
  const policy = c.backpressurePolicy ?? 'close';
  if (policy !== 'close' && policy !== 'drop')
    throw new ConfigError(`invalid config backpressurePolicy: ${String(policy)}; expected 'close' or 'drop'`);
  const smallSize = integer('buffers.smallSize', bf.smallSize, 2048, 128);
  const smallPool =
    bf.smallPool === null || bf.smallPool === undefined ? null : integer('buffers.smallPool', bf.smallPool, 0, 0);
  const largeSize = integer(
    'buffers.largeSize',
    bf.largeSize,
    Math.max(smallSize, Math.min(2 * smallSize, maxMessageSize)),
    smallSize,
  );
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
      // Browsers send 20-30 headers and cookies of a few KiB: Node's http limits (16 KiB), not websocket.zig's 1 KiB
      // and 10.
      maxSize: integer('handshake.maxSize', hs.maxSize, 16384, 64, 65536),
      maxHeaders: integer('handshake.maxHeaders', hs.maxHeaders, 100, 0),
      count: integer('handshake.count', hs.count, 32, 0),
      maxBodySize: integer('handshake.maxBodySize', hs.maxBodySize, 65536, 0, 16 * 1024 * 1024),
    },
    buffers: { smallSize, smallPool, largeSize, largePool: integer('buffers.largePool', bf.largePool, 8, 0) },
    workerCount: integer('workerCount', c.workerCount, 1, 1, 64),
    relayLimit: integer('relayLimit', c.relayLimit, 4 * 1024 * 1024, 64 * 1024, 1024 * 1024 * 1024),
    threadPool: {
      count: integer('threadPool.count', tp.count, 4, 0, 256),
      backlog: integer('threadPool.backlog', tp.backlog, 500, 1),
      bufferSize: integer('threadPool.bufferSize', tp.bufferSize, 1_048_576, 1024),
    },
    borrowData: boolean('borrowData', c.borrowData, false),
    attributeRejections: boolean('attributeRejections', c.attributeRejections, false),
    closeTimeout: integer('closeTimeout', c.closeTimeout, 5000, 1),
    // A limit below a couple of messages would refuse ordinary traffic: scale with maxMessageSize.
    maxBackpressure: integer('maxBackpressure', c.maxBackpressure, Math.max(1024 * 1024, 2 * maxMessageSize), 0),
    backpressurePolicy: policy,
    heartbeat: {
      interval: integer('heartbeat.interval', hb.interval, 0, 0),
      timeout: integer('heartbeat.timeout', hb.timeout, 10_000, 1),
    },
    idleTimeout: integer('idleTimeout', c.idleTimeout, 0, 0),
    perMessageDeflate: perMessageDeflate(c.perMessageDeflate),
    backplane: backplane(c.backplane),
    pubsub: {
      maxTopicsPerConnection: integer('pubsub.maxTopicsPerConnection', ps.maxTopicsPerConnection, 256, 1),
      maxTopicLength: integer('pubsub.maxTopicLength', ps.maxTopicLength, 256, 1, 65536),
      history: historyRules(ps.history),
      historyMaxBytes: integer('pubsub.historyMaxBytes', ps.historyMaxBytes, 64 * 1024 * 1024, 1024),
      historyTopics: integer('pubsub.historyTopics', ps.historyTopics, 10_000, 1),
    },
    logLevel: logLevel as LogLevel | undefined,
    logger: c.logger as Logger | undefined,
  };
}
