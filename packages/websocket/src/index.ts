/**
 * wsz: a WebSocket server framework for Node.js modeled on websocket.zig.
 * @module
 */
export {
  Server,
  type ServerStats,
  type ServerSendOptions,
  type ReportOptions,
  type ServerReport,
} from './server/server.js';
export { ServerControl } from './server/control.js';
export type { ConnectionInfo } from './engine/engine.js';
export { METRICS_CONTENT_TYPE } from './server/metrics.js';
export type { HookName } from './engine/stats.js';
export { DURATION_BUCKETS, type Histogram } from './observe/durations.js';
export { Handler, type HandlerHooks, type HandlerClass, type HookResult, type AppOf } from './handler/handler.js';
export { Conn, type CloseOptions, type WriteOptions, type PublishOptions, type SubscribeOptions } from './handler/conn.js';
export { type WriteData } from './sender/write-data.js';
export { Writer, type WriterOptions } from './handler/writer.js';
export { frameText, frameBin } from './protocol/frame-writer.js';
export { Handshake, RequestHeaders } from './handler/handshake.js';
export { resolveConfig, type ServerConfig, type ResolvedConfig } from './config/config.js';
export type { HttpRequest, HttpReply, PlainHttpHandler } from './handler/plain-http.js';
export { scopedLogger, type Logger, type LogLevel } from './logging/log.js';
export { BufferPool, type BufferPoolOptions, type BufferPoolStats } from './buffers/pool.js';
export { Opcode, type MessageType } from './protocol/opcodes.js';
export { CloseCode, closeCodeIsValid } from './protocol/close-codes.js';
export { ProtocolError, HandshakeError, type ProtocolErrorCode, type HandshakeErrorCode } from './protocol/errors.js';
export { ConfigError, type ConfigErrorCode } from './config/config-error.js';
export { RedisBackplane, type RedisBackplaneOptions } from './pubsub/redis/redis-backplane.js';
export type { Backplane, BackplaneStats } from './pubsub/backplane.js';
export type { Position, HistoryRule } from './delivery/history.js';
export type { DeliveryCommand, DeliveryEvent } from './delivery/wire.js';
export {
  CHANNELS,
  type ConnectionOpenEvent,
  type ConnectionCloseEvent,
  type HandshakeRefusedEvent,
  type MessageInEvent,
  type HookFailedEvent,
} from './observe/channels.js';
