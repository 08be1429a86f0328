import { Handler, type MessageType } from 'wsz';

/**
 * Echoes text as text and binary as binary. It has no `init` and no `afterInit`: with hook threads, nothing waits
 * for a thread to make its handler, so opening a connection wakes no thread (the handler is made with the
 * connection's first message).
 */
export class Echo extends Handler {
  // Worker threads import this module to run the handler (threadPool.count > 0).
  static module = import.meta.url;

  clientMessage(data: Buffer, type: MessageType): void {
    if (type === 'binary') this.conn.writeBin(data);
    else this.conn.writeText(data);
  }
}

/** Sends every message to everyone, the sender included: each connection joins the topic 'all' when it opens. */
export class Broadcast extends Handler {
  static module = import.meta.url;

  afterInit(): void {
    this.conn.subscribe('all');
  }

  clientMessage(data: Buffer, type: MessageType): void {
    this.conn.publish('all', data, { binary: type === 'binary' });
  }
}
