import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import type { Logger } from '../../logging/log.js';
import { encodeCommand, ReplyParser, RedisReplyError, type Argument, type Reply } from './resp.js';

/** What a {@link RedisConnection} tells its owner. */
export interface RedisEvents {
  /** Connected (again), authenticated, and a PING answered: commands flow. */
  ready(): void;
  /** A reply nobody waits for: on a subscriber connection, every pushed message and subscription reply. */
  reply(reply: Reply): void;
  /** The connection dropped (or was found dead); it reconnects by itself. */
  down(): void;
}

/** How one connection behaves (the backplane's options, resolved). */
export interface RedisConnectionOptions {
  /** Its name in log lines ('publisher', 'subscriber'). */
  name: string;
  logger: Logger;
  /** Options for node:tls when the URL is rediss:// (ca, cert, key, rejectUnauthorized, servername). */
  tls?: ConnectionOptions;
  /** Commands kept while disconnected; past it they are dropped and counted as lost. */
  maxQueue: number;
  /** Bytes that may wait for Redis (in the queue, or written and not yet taken by the socket); past it, lost. */
  maxQueueBytes: number;
  /**
   * Silence (ms) after which a PING is sent; and how long (ms) its answer may take before the connection is dropped.
   */
  pingInterval: number;
  pingTimeout: number;
  /** Commands wait until {@link release} (the backplane holds publishes until its subscriber is back). */
  held?: boolean;
  /** Replies come in the order of commands (false on a subscriber connection: they are pushes). */
  ordered: boolean;
  /**
   * A Redis Cluster's redirections (MOVED, ASK, TRYAGAIN, CLUSTERDOWN) go to their command's `onReply` (ordered) or
   * here (pushes), not to the error count and the log: the cluster route follows them.
   */
  redirected?: (error: RedisReplyError) => void;
}

/** Error replies of a Redis Cluster that say where (or when) to ask again. */
const REDIRECTION = /^(MOVED|ASK|TRYAGAIN|CLUSTERDOWN) /;

/** Reconnect delays grow from this to {@link MAX_BACKOFF}. */
const MIN_BACKOFF = 100;
const MAX_BACKOFF = 5000;
/** At most one log line per this many ms for repeated failures of the same kind. */
const LOG_EVERY = 30_000;

/** What a command's reply is given to (null: nobody waits for it). */
type OnReply = ((reply: Reply) => void) | null;

/**
 * One connection to Redis over node:net (or node:tls for rediss://), speaking RESP: AUTH from the URL
 * and a PING before it counts as ready, commands pipelined, reconnection with backoff. Nothing waits
 * without bound: while it is down commands wait in a queue of at most `maxQueue` commands and
 * `maxQueueBytes` bytes, and while it is up the bytes the socket has not yet taken count against the
 * same bound (a Redis that stops reading); past it commands are dropped and counted (`lost`). A
 * connection silent for `pingInterval` gets a PING; no answer within `pingTimeout` and it is dropped
 * and made again. Every failure is logged (repeats at most every 30 s) with what to do about it.
 */
export class RedisConnection {
  readonly url: URL;
  private socket: Socket | null = null;
  private parser = new ReplyParser();
  private ready = false;
  private closed = false;
  private held: boolean;
  private backoff = MIN_BACKOFF;
  private timer: NodeJS.Timeout | null = null;
  private readonly health: NodeJS.Timeout;
  private queue: Buffer[] = [];
  /** Who waits for the reply of each queued command (written to {@link waiting} with them). */
  private queueReplies: OnReply[] = [];
  private queueBytes = 0;
  private readonly waiting: OnReply[] = [];
  /**
   * The bytes of commands sent with `resend` (safe to run twice), by the callback that waits for their reply: kept
   * until it comes, and written again on the next connection if this one is lost first.
   */
  private readonly resendable = new Map<NonNullable<OnReply>, Buffer>();
  private readonly options: RedisConnectionOptions;
  private readonly events: RedisEvents;
  /** Replies to the setup commands (AUTH, PING) of the current connection still to come. */
  private setupReplies = 0;
  private lastHeard = 0;
  private pingSent = 0;
  private lastFailureLog = -Infinity;
  private failuresUnlogged = 0;
  /** Commands dropped: the queue or the bytes waiting for Redis were over their bound. */
  lost = 0;
  /** Error replies Redis gave to commands (not to the setup, which is retried). */
  errors = 0;
  /** Commands written again on a new connection: the one they went out on was lost before their reply. */
  resent = 0;
  reconnects = 0;

  constructor(url: string | URL, events: RedisEvents, options: RedisConnectionOptions) {
    this.url = new URL(url);
    if (this.url.protocol !== 'redis:' && this.url.protocol !== 'rediss:')
      throw new TypeError(`redis backplane: expected a redis:// or rediss:// URL, got ${this.url.protocol}`);
    this.events = events;
    this.options = options;
    this.held = options.held ?? false;
    this.connect();
    this.health = setInterval(
      () => this.checkHealth(),
      Math.max(10, Math.min(options.pingInterval, options.pingTimeout) / 2),
    );
    this.health.unref();
  }

  /** Connected, set up, and answering. */
  get connected(): boolean {
    return this.ready;
  }

  private get where(): string {
    return `${this.url.protocol}//${this.url.host}`;
  }

  private connect(): void {
    const host = this.url.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
    const port = Number(this.url.port || 6379);
    const tls = this.url.protocol === 'rediss:';
    // No SNI for an IP address (RFC 6066 3; Node warns DEP0123 when given one).
    const socket = tls
      ? tlsConnect({
          ...this.options.tls,
          host,
          port,
          servername: isIP(host) ? undefined : (this.options.tls?.servername ?? host),
        })
      : netConnect({ host, port });
    this.socket = socket;
    this.parser = new ReplyParser();
    this.waiting.length = 0;
    this.lastHeard = Date.now();
    this.pingSent = 0;
    socket.setNoDelay(true);
    socket.on(tls ? 'secureConnect' : 'connect', () => this.opened(socket));
    socket.on('data', (chunk: Buffer) => this.data(socket, chunk));
    socket.on('error', (error) =>
      this.failed(
        `cannot reach ${this.where}: ${error.message}`,
        'check the URL, that Redis runs there, and for rediss:// the `tls` options (ca for a private CA)',
      ),
    );
    socket.on('close', () => this.lostConnection(socket));
  }

  /** Logs a failure: the first at once, repeats at most every 30 s with how many there were. */
  private failed(what: string, todo: string): void {
    const now = Date.now();
    if (now - this.lastFailureLog < LOG_EVERY) {
      this.failuresUnlogged++;
      return;
    }
    const more = this.failuresUnlogged > 0 ? ` (${this.failuresUnlogged} more failures since the last line)` : '';
    this.failuresUnlogged = 0;
    this.lastFailureLog = now;
    this.options.logger.error(`redis ${this.options.name}: ${what}${more}; ${todo}; retrying`);
  }

  private opened(socket: Socket): void {
    const setup: Buffer[] = [];
    const password = decodeURIComponent(this.url.password);
    const user = decodeURIComponent(this.url.username);
    if (password) setup.push(encodeCommand(user ? ['AUTH', user, password] : ['AUTH', password]));
    // A PING proves the connection usable (a Redis with requirepass answers -NOAUTH to it).
    setup.push(encodeCommand(['PING']));
    this.setupReplies = setup.length;
    socket.write(setup.length === 1 ? setup[0]! : Buffer.concat(setup));
  }

  private becameReady(): void {
    const first = this.reconnects === 0 && this.lastFailureLog === -Infinity;
    this.ready = true;
    this.backoff = MIN_BACKOFF;
    this.options.logger.info(`redis ${this.options.name}: connected to ${this.where}${first ? '' : ' again'}`);
    this.lastFailureLog = -Infinity;
    this.failuresUnlogged = 0;
    if (!this.held) this.flushQueue();
    this.events.ready();
  }

  /** Lets held commands go (the backplane's subscriber is back): the queue is written now, new ones at once. */
  release(): void {
    this.held = false;
    if (this.ready) this.flushQueue();
  }

  /** Holds new commands in the queue again (until {@link release}). */
  hold(): void {
    this.held = true;
  }

  private flushQueue(): void {
    const queued = this.queue;
    if (queued.length === 0) return;
    if (this.options.ordered) for (const r of this.queueReplies) this.waiting.push(r);
    this.queue = [];
    this.queueReplies = [];
    this.queueBytes = 0;
    this.socket!.write(queued.length === 1 ? queued[0]! : Buffer.concat(queued));
  }

  private data(socket: Socket, chunk: Buffer): void {
    if (socket !== this.socket) return;
    this.lastHeard = Date.now();
    this.pingSent = 0;
    const replies = this.parser.push(chunk);
    for (const r of replies) {
      if (this.setupReplies > 0) {
        this.setupReplies--;
        if (r instanceof RedisReplyError) {
          this.errors++;
          const auth = /NOAUTH|WRONGPASS|invalid password|AUTH/i.test(r.message);
          this.failed(
            `Redis refused the connection setup: ${r.message}`,
            auth
              ? 'put the user and password in the URL (redis://user:password@host:port)'
              : 'see the Redis error above',
          );
          socket.destroy();
          return;
        }
        if (this.setupReplies === 0) this.becameReady();
        continue;
      }
      const redirected = r instanceof RedisReplyError && this.options.redirected && REDIRECTION.test(r.message);
      if (this.options.ordered) {
        const onReply = this.waiting.shift();
        if (onReply) this.resendable.delete(onReply);
        if (redirected) {
          if (onReply) onReply(r);
          else this.options.redirected!(r);
        } else if (r instanceof RedisReplyError) this.commandFailed(r);
        else if (onReply) onReply(r);
      } else if (redirected) this.options.redirected!(r as RedisReplyError);
      else if (r instanceof RedisReplyError) this.commandFailed(r);
      else this.events.reply(r);
    }
    if (this.parser.error !== null) {
      this.failed(`Redis sent a malformed reply (${this.parser.error})`, 'is this address a Redis server?');
      socket.destroy();
    }
  }

  private commandFailed(error: RedisReplyError): void {
    this.errors++;
    this.failed(
      `Redis answered a command with an error: ${error.message}`,
      'check the server (authentication, memory, replica mode)',
    );
  }

  /** Every tick of the health timer: a PING after silence, and a connection dropped when its PING goes unanswered. */
  private checkHealth(): void {
    if (this.socket === null || this.socket.connecting) return;
    const now = Date.now();
    const setupDue = !this.ready && this.setupReplies > 0;
    if (this.pingSent > 0 || setupDue) {
      if (now - this.lastHeard > this.options.pingTimeout) {
        this.failed(
          `no answer from ${this.where} within ${this.options.pingTimeout} ms`,
          'the connection is dropped and made again',
        );
        this.socket.destroy();
      }
      return;
    }
    if (this.ready && now - this.lastHeard > this.options.pingInterval) {
      this.pingSent = now;
      this.lastHeard = now;
      if (this.options.ordered) this.waiting.push(null);
      this.socket.write(encodeCommand(['PING']));
    }
  }

  private lostConnection(socket: Socket): void {
    if (socket !== this.socket) return;
    const was = this.ready;
    this.ready = false;
    this.socket = null;
    // Commands written and not answered may or may not have run: those safe to run twice go again first on the next
    // connection (ahead of what was queued meanwhile, so in their order); the others' callers hear of the loss.
    const unanswered = this.waiting.splice(0);
    const again: Buffer[] = [];
    const againReplies: OnReply[] = [];
    for (const onReply of unanswered) {
      // (Nothing is resendable once closed: close() forgot them all.)
      const bytes = onReply ? this.resendable.get(onReply) : undefined;
      if (bytes) {
        again.push(bytes);
        againReplies.push(onReply);
        this.queueBytes += bytes.length;
      } else onReply?.(new RedisReplyError('connection to Redis lost before the reply'));
    }
    if (again.length > 0) {
      this.queue.unshift(...again);
      this.queueReplies.unshift(...againReplies);
      this.resent += again.length;
    }
    if (this.closed) return;
    if (was) {
      this.options.logger.warn(`redis ${this.options.name}: connection to ${this.where} lost; reconnecting`);
      this.events.down();
    }
    this.timer = setTimeout(() => {
      this.timer = null;
      this.reconnects++;
      this.connect();
    }, this.backoff);
    this.timer.unref();
    this.backoff = Math.min(MAX_BACKOFF, this.backoff * 2);
  }

  /**
   * Sends a command now, or queues it while disconnected or held; false (and counted as lost) past the
   * queue's bounds. `onReply` gets its reply (on a connection whose replies are ordered). `resend`: the command is
   * safe to run twice (a script that skips what it ran already), so a connection lost before its reply does not lose
   * it: it is written again on the next one (ordered connections only).
   */
  send(args: readonly Argument[], onReply: OnReply = null, resend = false): boolean {
    const bytes = encodeCommand(args);
    if (resend && this.options.ordered) {
      // A callback of its own to find the bytes by, whatever the caller passed.
      const caller = onReply;
      onReply = (reply) => caller?.(reply);
      this.resendable.set(onReply, bytes);
    }
    if (this.ready && !this.held && this.socket) {
      if (this.socket.writableLength + bytes.length > this.options.maxQueueBytes) {
        this.lost++;
        if (onReply) this.resendable.delete(onReply);
        return false;
      }
      if (this.options.ordered) this.waiting.push(onReply);
      this.socket.write(bytes);
      return true;
    }
    if (this.queue.length >= this.options.maxQueue || this.queueBytes + bytes.length > this.options.maxQueueBytes) {
      this.lost++;
      if (onReply) this.resendable.delete(onReply);
      return false;
    }
    this.queue.push(bytes);
    this.queueReplies.push(onReply);
    this.queueBytes += bytes.length;
    return true;
  }

  /**
   * Sends a command now if connected, held or not, and never queues it (a question whose answer is only useful
   * now); false when not connected. `onReply` gets its reply (on a connection whose replies are ordered).
   */
  ask(args: readonly Argument[], onReply: OnReply): boolean {
    if (!this.ready || !this.socket) return false;
    if (this.options.ordered) this.waiting.push(onReply);
    this.socket.write(encodeCommand(args));
    return true;
  }

  /**
   * Drops the commands waiting to be sent (their server is gone for good): each caller that waits for a reply hears
   * so; the others are counted as lost.
   */
  discardQueue(): void {
    const replies = this.queueReplies;
    this.queue = [];
    this.queueReplies = [];
    this.queueBytes = 0;
    for (const onReply of replies)
      if (onReply) {
        this.resendable.delete(onReply);
        onReply(new RedisReplyError('dropped: its Redis server left the cluster'));
      } else this.lost++;
  }

  /** Sends a command only if connected (a subscription is redone on reconnect anyway). */
  sendIfReady(args: readonly Argument[]): void {
    if (this.ready && this.socket) this.socket.write(encodeCommand(args));
  }

  /** Drops the connection now (it is made again); for tests and for a caller that found it dead. */
  drop(): void {
    this.socket?.destroy();
  }

  close(): void {
    this.closed = true;
    clearInterval(this.health);
    if (this.timer) clearTimeout(this.timer);
    this.queue = [];
    this.queueReplies = [];
    this.resendable.clear();
    this.socket?.destroy();
  }
}
