/**
 * The wsz WebSocket client (`wsz/client`).
 * @module
 */
export { Client, type ClientOptions, type ClientMessage, type ClientHandler } from './client.js';
export type { ClientDeflateOptions } from './deflate.js';
export {
  ReconnectingClient,
  type ReconnectingClientOptions,
  type ReconnectingClientEvents,
  type SubscribedInfo,
  type Publication,
} from './reconnecting.js';
export type { Position } from '../delivery/history.js';
export type { Member } from '../delivery/wire.js';
export {
  ClientHandshakeError,
  type ClientHandshakeErrorCode,
  HandshakeStatusError,
  HandshakeUpgradeError,
  HandshakeConnectionError,
  HandshakeAcceptError,
  HandshakeExtensionError,
  HandshakeProtocolError,
  HandshakeTimeoutError,
  HandshakeResponseError,
} from '../protocol/client-handshake.js';
export { Opcode, type MessageType } from '../protocol/opcodes.js';
export { ProtocolError, type ProtocolErrorCode } from '../protocol/errors.js';
