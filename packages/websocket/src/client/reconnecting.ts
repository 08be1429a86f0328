import { EventEmitter } from 'node:events';
import type { Position, RecoveryFailure } from '../delivery/history.js';
import { command, parseEvent, type DeliveryEvent, type Member } from '../delivery/wire.js';
import type { MessageType } from '../protocol/opcodes.js';
import { HandshakeStatusError } from '../protocol/client-handshake.js';
import { Client } from './client.js';
import type { ClientOptions } from './options.js';

/** Options of a {@link ReconnectingClient}: those of {@link Client.connect}, and how to come back. */
export interface ReconnectingClientOptions extends ClientOptions {
  /** Milliseconds before the first reconnect attempt (default 250); each further attempt waits twice as long. */
  minDelay?: number;
  /** Longest wait between attempts, in ms (default 10000). */
  maxDelay?: number;
  /**
   * Share of each wait drawn at random (default 0.5: a wait of d becomes between d/2 and d), so that clients cut off
   * together do not all come back at the same moment.
   */
  jitter?: number;
  /** Attempts in a row before giving up (default Infinity). */
  maxAttempts?: number;
}

/** How a subscription (re)started: see the `subscribed` event. */
export interface SubscribedInfo {
  topic: string;
  /** Where the subscription starts: the next publication has offset + 1 (absent for topics without history). */
  position?: Position;
  /**
   * For a resume (after a reconnect, from the last position seen): true when every message published meanwhile
   * follows; false when some may be lost (the app should reload its state), with `reason`.
   */
  recovered?: boolean;
  reason?: RecoveryFailure | 'gap';
}

/** A publication from a topic, as a {@link ReconnectingClient} delivers it. */
export interface Publication {
  topic: string;
  data: Buffer;
  type: MessageType;
  /** Its position, for topics with history. */
  position?: Position;
}

/** The events of a {@link ReconnectingClient}, with their arguments. */
export interface ReconnectingClientEvents {
  /** Connected (again): subscriptions are being resumed. */
  connected: [];
  /** The connection ended (`code` 1006 when no close frame came); a reconnect follows unless it was `close()`. */
  disconnected: [code: number, reason: string];
  /** A subscription started, or resumed after a reconnect (recovered or not). */
  subscribed: [info: SubscribedInfo];
  /**
   * A subscription resumed after a reconnect: `recovered` says whether every message published meanwhile follows
   * (also emitted as `subscribed`; and with `recovered: false` when a gap or a new epoch shows in publications).
   */
  resumed: [info: SubscribedInfo & { recovered: boolean }];
  /** The server refused a command (a subscribe the handler did not allow, say). */
  refused: [reason: string, topic: string | undefined];
  /** A publication from a subscribed topic, each once, in order. */
  publication: [publication: Publication];
  /** A message of the application's own (not part of delivery). */
  message: [data: Buffer, type: MessageType];
  /** A connection became present in a subscribed topic (`conn.track` on the server), or left it. */
  join: [topic: string, member: Member];
  leave: [topic: string, member: Member];
  /** The answer to {@link ReconnectingClient.members}: who is present in the topic. */
  members: [topic: string, members: Member[]];
  /** An attempt to connect failed; another follows after `delay` ms, or none (`delay` -1: gave up for good). */
  failed: [error: Error, delay: number];
}

/**
 * A client that comes back by itself (docs/delivery.md): it reconnects with exponential backoff and jitter, and
 * resubscribes to its topics from the last position it saw, so a handler with delivery sends exactly what it
 * missed (or says it cannot). Messages of the application's own go both ways as with {@link Client}.
 *
 * ```ts
 * const client = new ReconnectingClient('ws://127.0.0.1:9001/chat');
 * client.on('publication', (p) => console.log(p.topic, p.data.toString()));
 * client.on('subscribed', (s) => s.recovered === false && reloadState());
 * client.subscribe('room:lobby');
 * ```
 */
export class ReconnectingClient extends EventEmitter<ReconnectingClientEvents> {
  private readonly url: string | URL;
  private readonly options: ReconnectingClientOptions;
  /** Topics wanted, and the last position seen in each (null: none yet). */
  private readonly topics = new Map<string, Position | null>();
  private client: Client | null = null;
  private closed = false;
  private attempts = 0;
  private timer: NodeJS.Timeout | null = null;
  private opened: Promise<void>;
  private markOpened: () => void = () => {};

  /** Starts connecting at once. */
  constructor(url: string | URL, options: ReconnectingClientOptions = {}) {
    super();
    this.url = url;
    this.options = options;
    this.opened = this.nextOpen();
    void this.attempt();
  }

  /** Resolves once connected (now, or at the next successful attempt). */
  whenConnected(): Promise<void> {
    return this.opened;
  }

  /** Whether a connection is open now. */
  get connected(): boolean {
    return this.client !== null;
  }

  /** The last position seen in `topic` (for topics with history). */
  position(topic: string): Position | undefined {
    return this.topics.get(topic) ?? undefined;
  }

  /** Subscribes to `topic`, now and after every reconnect (resuming from the last position seen). */
  subscribe(topic: string): void {
    if (this.topics.has(topic)) return;
    this.topics.set(topic, null);
    this.client?.writeText(command({ wsz: 'subscribe', topic }));
  }

  /** Asks who is present in `topic` (subscribed to it); the answer comes as a `members` event. False while away. */
  members(topic: string): boolean {
    return this.client?.writeText(command({ wsz: 'members', topic })) ?? false;
  }

  /** Ends the subscription to `topic`. */
  unsubscribe(topic: string): void {
    if (!this.topics.delete(topic)) return;
    this.client?.writeText(command({ wsz: 'unsubscribe', topic }));
  }

  /** Sends a message of the application's own; false while disconnected (it is not kept for later). */
  send(data: string | Uint8Array, type: MessageType = typeof data === 'string' ? 'text' : 'binary'): boolean {
    if (this.client === null) return false;
    return type === 'text' ? this.client.writeText(data) : this.client.writeBin(data);
  }

  /**
   * Drops the connection now and connects again at once (after a network change, say): as after any cut, the
   * subscriptions resume from the last positions seen.
   */
  reconnect(): void {
    if (this.closed) return;
    if (this.client === null) {
      if (this.timer) clearTimeout(this.timer);
      this.attempts = 0;
      void this.attempt();
      return;
    }
    this.attempts = -1; // the next attempt comes at once, not after the backoff
    this.client.destroy();
  }

  /** Closes for good (1000): no reconnect follows. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.client?.close();
  }

  private nextOpen(): Promise<void> {
    return new Promise((resolve) => (this.markOpened = resolve));
  }

  private async attempt(): Promise<void> {
    this.timer = null;
    let client: Client;
    try {
      client = await Client.connect(this.url, this.options);
    } catch (error) {
      this.retry(error as Error);
      return;
    }
    if (this.closed) return void client.destroy();
    this.client = client;
    this.attempts = 0;
    for (const [topic, since] of this.topics)
      client.writeText(command(since === null ? { wsz: 'subscribe', topic } : { wsz: 'subscribe', topic, since }));
    this.emit('connected');
    this.markOpened();
    await this.read(client);
  }

  private async read(client: Client): Promise<void> {
    for (;;) {
      const m = await client.read(Infinity);
      if (m === null) continue;
      if (m.type === 'close') {
        this.client = null;
        this.opened = this.nextOpen();
        this.emit('disconnected', m.code, m.reason);
        if (!this.closed) this.retry(null);
        return;
      }
      if (m.type === 'binary') this.emit('message', m.data, 'binary');
      else if (m.type === 'text') {
        const event = m.data[0] === 0x7b ? parseEvent(m.data.toString()) : null;
        if (event === null) this.emit('message', m.data, 'text');
        else this.onEvent(event);
      }
    }
  }

  private onEvent(event: DeliveryEvent): void {
    switch (event.wsz) {
      case 'subscribed': {
        if (!this.topics.has(event.topic)) return;
        const position = event.epoch === undefined ? undefined : { offset: event.offset!, epoch: event.epoch };
        // Resumed and recovered: the position moves on with the replayed publications that follow.
        if (position !== undefined && event.recovered !== true) this.topics.set(event.topic, position);
        const info: SubscribedInfo = { topic: event.topic };
        if (position !== undefined) info.position = position;
        if (event.recovered !== undefined) info.recovered = event.recovered;
        if (event.reason !== undefined) info.reason = event.reason;
        this.emit('subscribed', info);
        if (info.recovered !== undefined) this.emit('resumed', info as SubscribedInfo & { recovered: boolean });
        return;
      }
      case 'pub':
        return this.onPublication(event);
      case 'refused':
        if (event.topic !== undefined) this.topics.delete(event.topic);
        this.emit('refused', event.reason, event.topic);
        return;
      case 'join':
      case 'leave':
        if (this.topics.has(event.topic)) this.emit(event.wsz, event.topic, { id: event.id, info: event.info });
        return;
      case 'members':
        this.emit('members', event.topic, event.members);
        return;
      case 'unsubscribed':
        return;
    }
  }

  private onPublication(event: Extract<DeliveryEvent, { wsz: 'pub' }>): void {
    if (!this.topics.has(event.topic)) return;
    const data = event.binary ? Buffer.from(event.data, 'base64') : Buffer.from(event.data);
    const publication: Publication = { topic: event.topic, data, type: event.binary ? 'binary' : 'text' };
    if (event.epoch !== undefined && event.offset !== undefined) {
      const seen = this.topics.get(event.topic);
      const position = { offset: event.offset, epoch: event.epoch };
      if (seen && seen.epoch === position.epoch) {
        // Each once: a publication at or before the last seen is a repeat.
        if (position.offset <= seen.offset) return;
        // One that skips offsets means some were not delivered (a 'drop' backpressure policy): say so.
        if (position.offset > seen.offset + 1)
          this.lost({ topic: event.topic, position: seen, recovered: false, reason: 'gap' });
      } else if (seen) {
        // A new history (a Redis restarted without its data): what came between cannot be known.
        this.lost({ topic: event.topic, position, recovered: false, reason: 'epoch changed' });
      }
      this.topics.set(event.topic, position);
      publication.position = position;
    }
    this.emit('publication', publication);
  }

  /** Publications were lost between two that arrived: told as a resume that did not recover. */
  private lost(info: SubscribedInfo & { recovered: false }): void {
    this.emit('subscribed', info);
    this.emit('resumed', info);
  }

  private retry(error: Error | null): void {
    if (this.closed) return;
    const o = this.options;
    if (this.attempts < 0 && error === null) {
      // reconnect() asked for it.
      this.attempts = 0;
      this.timer = setTimeout(() => void this.attempt(), 0);
      return;
    }
    const attempts = ++this.attempts;
    // A refusal that retrying cannot change (401, 403, 404, ...): give up.
    const final =
      (error instanceof HandshakeStatusError && error.status < 500 && error.status !== 408 && error.status !== 429) ||
      attempts > (o.maxAttempts ?? Infinity);
    if (final) {
      this.closed = true;
      if (error) this.emit('failed', error, -1);
      return;
    }
    const base = Math.min(o.maxDelay ?? 10_000, (o.minDelay ?? 250) * 2 ** (attempts - 1));
    const delay = Math.round(base * (1 - (o.jitter ?? 0.5) * Math.random()));
    if (error) this.emit('failed', error, delay);
    this.timer = setTimeout(() => void this.attempt(), delay);
  }
}
