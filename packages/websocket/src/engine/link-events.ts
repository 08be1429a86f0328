/**
 * The engine's publications on `diagnostics_channel` (see observe/channels.ts): each builds its event only when
 * someone subscribes, so a server nobody watches pays one check per event.
 */
import type { Conn } from '../handler/conn.js';
import type { Tally } from '../observe/tally.js';
import type { Socket } from 'node:net';
import type { ConnectionInfo } from './engine.js';
import { overHttp2 } from './h2-connect.js';
import type { MessageType } from '../protocol/opcodes.js';
import type { HandshakeError } from '../protocol/errors.js';
import {
  Ch,
  emit,
  watched,
  type ConnectionCloseEvent,
  type ConnectionOpenEvent,
  type HandshakeRefusedEvent,
  type HookFailedEvent,
  type MessageInEvent,
} from '../observe/channels.js';

/** The 101 went out. */
export function publishOpen(conn: Conn, url: string): void {
  if (!watched(Ch.connectionOpen)) return;
  const { id, remoteAddress, remotePort, protocol } = conn;
  emit(Ch.connectionOpen, { id, remoteAddress, remotePort, url, protocol } satisfies ConnectionOpenEvent);
}

/** A whole message arrived. */
export function publishMessage(id: number, size: number, type: MessageType): void {
  if (watched(Ch.messageIn)) emit(Ch.messageIn, { id, size, type } satisfies MessageInEvent);
}

/** A hook failed. */
export function publishHookFailed(id: number, hook: string, error: unknown): void {
  if (watched(Ch.hookFailed)) emit(Ch.hookFailed, { id, hook, error } satisfies HookFailedEvent);
}

/** An upgrade was refused with an HTTP error. */
export function publishRefused(error: HandshakeError, remoteAddress: string, tally: Tally, startedAt: number): void {
  tally.handshake(error.status, startedAt);
  if (!watched(Ch.handshakeRefused)) return;
  const { status, message: reason, code } = error;
  emit(Ch.handshakeRefused, { status, reason, code, remoteAddress } satisfies HandshakeRefusedEvent);
}

/** One connection's life as its events tell it: when it opened, who closed first and with what. */
export class LinkRecord {
  /** When the link took the socket (a performance.now()): handshakes are timed from here. */
  readonly startedAt = performance.now();
  /** When the 101 went out (ms since the epoch; 0 before). */
  openedAt = 0;
  /** The upgrade's request target. */
  url = '';
  /** Messages received. */
  messagesIn = 0;
  private first: { code: number; reason: string; by: 'client' | 'server' } | null = null;

  /** The 101 went out: counts (timed from {@link startedAt}) and publishes the open. */
  opened(conn: Conn, url: string, tally: Tally): void {
    this.openedAt = Date.now();
    this.url = url;
    tally.handshake(101, this.startedAt);
    publishOpen(conn, url);
  }

  /** A whole message arrived: counts and publishes it. */
  message(id: number, size: number, type: MessageType): void {
    this.messagesIn++;
    publishMessage(id, size, type);
  }

  /** The peer's close frame (the first one wins). */
  peer(code: number, reason: string): void {
    this.first ??= { code, reason, by: 'client' };
  }

  /** Our close frame's payload (the first one wins). */
  ours(payload: Buffer): void {
    if (this.first !== null) return;
    const code = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
    this.first = { code, reason: payload.length > 2 ? payload.toString('utf8', 2) : '', by: 'server' };
  }

  /** The TCP connection is gone: counts and publishes the close of a connection that had opened. */
  gone(id: number, remoteAddress: string, tally: Tally): void {
    if (this.openedAt === 0) return;
    const { code, reason, by } = this.first ?? { code: 1006, reason: '', by: 'transport' as const };
    tally.close(code);
    if (!watched(Ch.connectionClose)) return;
    const durationMs = Date.now() - this.openedAt;
    emit(Ch.connectionClose, {
      id,
      remoteAddress,
      code,
      reason,
      by,
      durationMs,
    } satisfies ConnectionCloseEvent);
  }
}

/** What {@link describe} reads of a link. */
export interface DescribedLink {
  readonly id: number;
  readonly conn: Conn;
  readonly socket: Socket;
  readonly closing: { readonly record: LinkRecord };
  readonly topics: ReadonlySet<string> | null;
  readonly bufferedAmount: number;
  readonly sender: { readonly messagesOut: number };
  /** Its presence: each topic it is tracked in, and its info (see Hub.presenceOf). */
  presence(): Record<string, unknown>;
}

/** What `server.connections()` says about an open link. */
export function describe(link: DescribedLink): ConnectionInfo {
  const { conn, socket, closing } = link;
  const record = closing.record;
  return {
    id: link.id,
    remoteAddress: conn.remoteAddress,
    remotePort: conn.remotePort,
    url: record.url,
    protocol: conn.protocol,
    since: record.openedAt,
    http: overHttp2(socket) ? '2' : '1.1',
    topics: link.topics === null ? [] : [...link.topics],
    presence: link.presence(),
    bytesIn: socket.bytesRead,
    bytesOut: socket.bytesWritten,
    messagesIn: record.messagesIn,
    messagesOut: link.sender.messagesOut,
    buffered: link.bufferedAmount,
  };
}
