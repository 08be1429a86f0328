/**
 * The socket listeners of every link, shared: one set of functions for all sockets (no closures per
 * connection), each finding its link through a symbol on the socket.
 */
import type { Socket } from 'node:net';
import { countRead } from '../buffers/read-memory.js';
import type { Logger } from '../logging/log.js';
import type { FrameSender } from '../sender/frame-sender.js';

/** What the listeners call on a link. */
export interface SocketOwner {
  readonly id: number;
  readonly sender: FrameSender;
  readonly server: { readonly log: Logger; readonly tally: { bytesIn: number } };
  /** Every chunk the socket reads. */
  data(chunk: Buffer): void;
  /** The socket is gone (any cause). */
  socketClosed(): void;
}

const OWNER = Symbol('wsz.link');
type TaggedSocket = Socket & { [OWNER]: SocketOwner };

function onData(this: TaggedSocket, chunk: Buffer): void {
  const owner = this[OWNER];
  owner.server.tally.bytesIn += chunk.length;
  countRead(chunk.length);
  owner.data(chunk);
}
function onClose(this: TaggedSocket): void {
  this[OWNER].socketClosed();
}
function onDrain(this: TaggedSocket): void {
  this[OWNER].sender.drained();
}
/** The peer's FIN on a half-open socket (an http server's, which allows half-open): end our side too. */
function onEnd(this: TaggedSocket): void {
  this[OWNER].sender.afterOutbox(() => this.end());
}
function onError(this: TaggedSocket, error: Error): void {
  this[OWNER].server.log.debug(`connection ${this[OWNER].id}: socket error: ${error.message}`);
}

/**
 * Listens to `socket` for `owner`. `fromListener`: our listeners set noDelay and refuse half-open
 * sockets when they accept; a socket from an http server's upgrade allows half-open: without ending
 * our side at the peer's FIN, a vanished client would hold its connection until some timer noticed.
 */
export function listenToSocket(socket: Socket, owner: SocketOwner, fromListener: boolean): void {
  if (!fromListener) {
    socket.setNoDelay?.(true);
    if (socket.allowHalfOpen) socket.on('end', onEnd);
  }
  (socket as TaggedSocket)[OWNER] = owner;
  socket.on('data', onData);
  socket.on('close', onClose);
  socket.on('error', onError);
  socket.on('drain', onDrain);
}
