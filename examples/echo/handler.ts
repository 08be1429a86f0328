import { Handler, type MessageType } from 'wsz';

/** What the echo server passes to `listen(app)`. */
export interface EchoApp {
  /** Publish every message to every connection (the topic 'all') instead of echoing it. */
  broadcast: boolean;
}

/** Echoes text as text and binary as binary; with `broadcast`, sends every message to everyone. */
export class Echo extends Handler<EchoApp> {
  // Worker threads import this module to run the handler (threadPool.count > 0).
  static module = import.meta.url;

  afterInit(): void {
    if (this.app?.broadcast) this.conn.subscribe('all');
  }

  clientMessage(data: Buffer, type: MessageType): void {
    const binary = type === 'binary';
    if (this.app?.broadcast) this.conn.publish('all', data, { binary });
    else if (binary) this.conn.writeBin(data);
    else this.conn.writeText(data);
  }
}
