import { Handler, type MessageType } from 'wsz';

/** Echoes text as text and binary as binary. */
export class Echo extends Handler {
  // Worker threads import this module to run the handler (threadPool.count > 0).
  static module = import.meta.url;

  clientMessage(data: Buffer, type: MessageType): void {
    if (type === 'text') this.conn.writeText(data);
    else this.conn.writeBin(data);
  }
}
