import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { encodeCommand, ReplyParser, RedisReplyError, type Argument, type Reply } from './resp.js';

/** What a {@link RedisConnection} tells its owner. */
export interface RedisEvents {
  /** Connected (again), authenticated and on the right database: commands flow. */
  ready(): void;
  /** A reply, or a pushed message on a subscriber connection. */
  reply(reply: Reply): void;
  /** The connection dropped; it reconnects by itself. */
  down(reason: string): void;
}

/** Reconnect delays grow from this to {@link MAX_BACKOFF}. */
const MIN_BACKOFF = 100;
const MAX_BACKOFF = 5000;

/**
 * One connection to Redis over node:net (or node:tls for rediss://), speaking RESP: AUTH and SELECT from
 * the URL, commands pipelined, reconnection with backoff. While it is down, commands wait in a queue of
 * at most `maxQueue`; past it they are dropped and counted (`lost`): nothing grows without bound.
 */
export class RedisConnection {
  readonly url: URL;
  private socket: Socket | null = null;
  private parser = new ReplyParser();
  private ready = false;
  private closed = false;
  private backoff = MIN_BACKOFF;
  private timer: NodeJS.Timeout | null = null;
  private queue: Buffer[] = [];
  private readonly maxQueue: number;
  private readonly events: RedisEvents;
  /** Replies to the AUTH and SELECT of the current connection still to come. */
  private handshakeReplies = 0;
  /** Commands dropped because the queue was full while disconnected. */
  lost = 0;
  reconnects = 0;

  constructor(url: string | URL, events: RedisEvents, maxQueue = 1000) {
    this.url = new URL(url);
    if (this.url.protocol !== 'redis:' && this.url.protocol !== 'rediss:') throw new TypeError(`redis backplane: expected a redis:// or rediss:// URL, got ${this.url.protocol}`);
    this.events = events;
    this.maxQueue = maxQueue;
    this.connect();
  }

  get connected(): boolean {
    return this.ready;
  }

  private connect(): void {
    const host = this.url.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
    const port = Number(this.url.port || 6379);
    const socket = this.url.protocol === 'rediss:' ? tlsConnect({ host, port, servername: host }) : netConnect({ host, port });
    this.socket = socket;
    this.parser = new ReplyParser();
    socket.setNoDelay(true);
    socket.on(this.url.protocol === 'rediss:' ? 'secureConnect' : 'connect', () => this.opened(socket));
    socket.on('data', (chunk) => this.data(chunk));
    socket.on('error', () => {});
    socket.on('close', () => this.lostConnection(socket));
  }

  private opened(socket: Socket): void {
    const handshake: Buffer[] = [];
    const password = decodeURIComponent(this.url.password);
    const user = decodeURIComponent(this.url.username);
    if (password) handshake.push(encodeCommand(user ? ['AUTH', user, password] : ['AUTH', password]));
    const db = this.url.pathname.slice(1);
    if (db) handshake.push(encodeCommand(['SELECT', db]));
    this.handshakeReplies = handshake.length;
    if (handshake.length > 0) socket.write(Buffer.concat(handshake));
    if (this.handshakeReplies === 0) this.becameReady();
  }

  private becameReady(): void {
    this.ready = true;
    this.backoff = MIN_BACKOFF;
    const queued = this.queue;
    this.queue = [];
    if (queued.length > 0) this.socket!.write(Buffer.concat(queued));
    this.events.ready();
  }

  private data(chunk: Buffer): void {
    let replies: Reply[];
    try {
      replies = this.parser.push(chunk);
    } catch {
      this.socket?.destroy();
      return;
    }
    for (const r of replies) {
      if (this.handshakeReplies > 0) {
        this.handshakeReplies--;
        if (r instanceof RedisReplyError) {
          this.events.down(`redis refused the connection setup: ${r.message}`);
          this.socket?.destroy();
          return;
        }
        if (this.handshakeReplies === 0) this.becameReady();
        continue;
      }
      this.events.reply(r);
    }
  }

  private lostConnection(socket: Socket): void {
    if (socket !== this.socket) return;
    const was = this.ready;
    this.ready = false;
    this.socket = null;
    if (this.closed) return;
    if (was) this.events.down('connection to redis lost');
    this.timer = setTimeout(() => {
      this.timer = null;
      this.reconnects++;
      this.connect();
    }, this.backoff);
    this.timer.unref();
    this.backoff = Math.min(MAX_BACKOFF, this.backoff * 2);
  }

  /** Sends a command now, or queues it while disconnected (dropped and counted past `maxQueue`). */
  send(args: readonly Argument[]): boolean {
    const bytes = encodeCommand(args);
    if (this.ready && this.socket) {
      this.socket.write(bytes);
      return true;
    }
    if (this.queue.length >= this.maxQueue) {
      this.lost++;
      return false;
    }
    this.queue.push(bytes);
    return true;
  }

  /** Sends a command only if connected (a subscription is redone on reconnect anyway). */
  sendIfReady(args: readonly Argument[]): void {
    if (this.ready && this.socket) this.socket.write(encodeCommand(args));
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.queue = [];
    this.socket?.destroy();
  }
}
