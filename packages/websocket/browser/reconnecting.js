// wsz/browser: a WebSocket that comes back by itself, for pages (plain ESM, no build step, no dependencies).
// It speaks the delivery wire format of docs/delivery.md with a handler that says `static delivery = true`:
// it subscribes to topics, remembers the last position seen in each, and after a reconnect resumes from there,
// so every publication arrives once, in order, or it says plainly that some may be lost.
//
//   import { ReconnectingSocket } from '/wsz-reconnecting.js';
//   const socket = new ReconnectingSocket('wss://example.com/chat');
//   socket.addEventListener('publication', (e) => show(e.detail.topic, e.detail.data));
//   socket.addEventListener('subscribed', (e) => { if (e.detail.recovered === false) reload(); });
//   socket.subscribe('room:lobby');
//
// Events (CustomEvent, the details below): 'connected'; 'disconnected' { code, reason }; 'subscribed' { topic,
// position?, recovered?, reason? } and, for a resume (or publications lost in between), 'resumed' with the same; 'refused' { reason, topic? }; 'publication' { topic, data, binary, position? }
// (data: a string, or an ArrayBuffer when binary); 'message' { data } (the application's own, as the WebSocket gave
// it); 'failed' { delay } (the connection ended before it opened; the next attempt follows after `delay` ms);
// 'join' and 'leave' { topic, id, info } (presence: who is in a subscribed topic); 'members' { topic, members }.

const PREFIX = '{"wsz":';

/** @typedef {{ offset: number, epoch: string }} Position */

export class ReconnectingSocket extends EventTarget {
  /**
   * @param {string} url ws:// or wss:// URL
   * @param {{ protocols?: string | string[], minDelay?: number, maxDelay?: number, jitter?: number,
   *   maxAttempts?: number }} [options] waits in ms: the first (default 250) doubles after each failed attempt up to
   *   maxDelay (default 10000), a share `jitter` (default 0.5) of each drawn at random; maxAttempts in a row
   *   (default Infinity)
   */
  constructor(url, options = {}) {
    super();
    this.url = url;
    this.options = options;
    /** @type {Map<string, Position | null>} topics wanted, and the last position seen in each */
    this.topics = new Map();
    /** @type {WebSocket | null} */
    this.socket = null;
    this.closed = false;
    this.attempts = 0;
    this.timer = 0;
    this.open();
  }

  /** Whether a connection is open now. */
  get connected() {
    return this.socket !== null && this.socket.readyState === WebSocket.OPEN;
  }

  /** @param {string} topic @returns {Position | undefined} the last position seen in `topic` */
  position(topic) {
    return this.topics.get(topic) ?? undefined;
  }

  /**
   * Subscribes to `topic`, now and after every reconnect (resuming from the last position seen).
   * @param {string} topic
   */
  subscribe(topic) {
    if (this.topics.has(topic)) return;
    this.topics.set(topic, null);
    if (this.connected) this.socket.send(JSON.stringify({ wsz: 'subscribe', topic }));
  }

  /** Asks who is present in `topic` (subscribed to it): the answer is a 'members' event. @param {string} topic */
  members(topic) {
    return this.send(JSON.stringify({ wsz: 'members', topic }));
  }

  /** @param {string} topic */
  unsubscribe(topic) {
    if (!this.topics.delete(topic)) return;
    if (this.connected) this.socket.send(JSON.stringify({ wsz: 'unsubscribe', topic }));
  }

  /** Sends a message of the application's own; false while disconnected (it is not kept for later). */
  send(data) {
    if (!this.connected) return false;
    this.socket.send(data);
    return true;
  }

  /** Drops the connection now and connects again at once (after a network change, say). */
  reconnect() {
    if (this.closed) return;
    clearTimeout(this.timer);
    this.attempts = 0;
    const old = this.socket;
    this.socket = null;
    if (old) {
      old.onclose = old.onmessage = old.onopen = null;
      old.close(4000, 'reconnecting');
      this.fire('disconnected', { code: 1006, reason: 'reconnecting' });
    }
    this.open();
  }

  /** Closes for good: no reconnect follows. */
  close(code = 1000, reason = '') {
    this.closed = true;
    clearTimeout(this.timer);
    this.socket?.close(code, reason);
  }

  /** @private */
  fire(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  /** @private */
  open() {
    const socket = new WebSocket(this.url, this.options.protocols);
    socket.binaryType = 'arraybuffer';
    this.socket = socket;
    let opened = false;
    socket.onopen = () => {
      opened = true;
      this.attempts = 0;
      for (const [topic, since] of this.topics)
        socket.send(JSON.stringify(since === null ? { wsz: 'subscribe', topic } : { wsz: 'subscribe', topic, since }));
      this.fire('connected', {});
    };
    socket.onmessage = (e) => {
      const event = typeof e.data === 'string' && e.data.startsWith(PREFIX) ? parse(e.data) : null;
      if (event === null) this.fire('message', { data: e.data });
      else this.onEvent(event);
    };
    socket.onclose = (e) => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (opened) this.fire('disconnected', { code: e.code, reason: e.reason });
      if (!this.closed) this.retry(opened);
    };
  }

  /** Publications were lost between two that arrived: told as a resume that did not recover. @private */
  lost(detail) {
    this.fire('subscribed', detail);
    this.fire('resumed', detail);
  }

  /** @private */
  retry(wasOpen) {
    const o = this.options;
    const attempts = wasOpen ? (this.attempts = 1) : ++this.attempts;
    if (attempts > (o.maxAttempts ?? Infinity)) {
      this.closed = true;
      this.fire('failed', { delay: -1 });
      return;
    }
    const base = Math.min(o.maxDelay ?? 10000, (o.minDelay ?? 250) * 2 ** (attempts - 1));
    const delay = Math.round(base * (1 - (o.jitter ?? 0.5) * Math.random()));
    if (!wasOpen) this.fire('failed', { delay });
    this.timer = setTimeout(() => this.open(), delay);
  }

  /** @private */
  onEvent(event) {
    if (event.wsz === 'subscribed') {
      if (!this.topics.has(event.topic)) return;
      const position = event.epoch === undefined ? undefined : { offset: event.offset, epoch: event.epoch };
      // Resumed and recovered: the position moves on with the replayed publications that follow.
      if (position !== undefined && event.recovered !== true) this.topics.set(event.topic, position);
      const detail = { topic: event.topic, position, recovered: event.recovered, reason: event.reason };
      this.fire('subscribed', detail);
      if (event.recovered !== undefined) this.fire('resumed', detail);
    } else if (event.wsz === 'pub') {
      if (!this.topics.has(event.topic)) return;
      let position;
      if (event.epoch !== undefined) {
        const seen = this.topics.get(event.topic);
        position = { offset: event.offset, epoch: event.epoch };
        if (seen && seen.epoch === position.epoch) {
          if (position.offset <= seen.offset) return; // a repeat
          if (position.offset > seen.offset + 1)
            this.lost({ topic: event.topic, position: seen, recovered: false, reason: 'gap' });
        } else if (seen) {
          // A new history (a Redis restarted without its data): what came between cannot be known.
          this.lost({ topic: event.topic, position, recovered: false, reason: 'epoch changed' });
        }
        this.topics.set(event.topic, position);
      }
      const data = event.binary ? fromBase64(event.data) : event.data;
      this.fire('publication', { topic: event.topic, data, binary: event.binary === true, position });
    } else if (event.wsz === 'join' || event.wsz === 'leave') {
      if (this.topics.has(event.topic)) this.fire(event.wsz, { topic: event.topic, id: event.id, info: event.info });
    } else if (event.wsz === 'members') {
      this.fire('members', { topic: event.topic, members: event.members });
    } else if (event.wsz === 'refused') {
      if (event.topic !== undefined) this.topics.delete(event.topic);
      this.fire('refused', { reason: event.reason, topic: event.topic });
    }
  }
}

function parse(text) {
  try {
    const event = JSON.parse(text);
    return typeof event === 'object' && event !== null && typeof event.wsz === 'string' ? event : null;
  } catch {
    return null;
  }
}

function fromBase64(text) {
  const bytes = Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  return bytes.buffer;
}
