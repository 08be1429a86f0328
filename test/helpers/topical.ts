/**
 * A handler for the pub/sub suite, driven by text commands (it runs unchanged inline and on worker
 * threads). `afterInit` tells the client its connection id. Each command's reply, if any, is written
 * to the connection itself, so the client sees it in order with what was published to it.
 *
 *   sub T / unsub T / is T / topics / count T      subscribe, unsubscribe, ask
 *   pub T TEXT / pubx T TEXT (self: false) / pubbin T TEXT
 *   all TEXT / allx TEXT (self: false)             broadcast
 *   to ID TEXT                                     sendTo
 *   say TEXT                                       a direct write
 * seq T N publishes 'N-0' .. 'N-(N-1)' to T, a direct write 'direct-i' after each
 *   stream / end                                   opens a fragmented binary message (3 fragments out) / finishes it
 *   flood T N SIZE                                 publishes N binary messages of SIZE bytes to T
 *   leaveOnClose T                                 the close hook publishes 'left ID' to T
 *   lone sub / lone pub                            subscribes / publishes to 'room' + a lone surrogate (refused)
 * block MS holds the thread running the hook for MS ms, then replies 'unblocked'
 *   thread                                         replies 'thread N', the id of the thread running the hook
 *   exit                                           ends the thread running the hook (never the main thread)
 * buffers collects garbage, replies 'buffers N': bytes of ArrayBuffers this thread holds
 */
import { isMainThread, threadId } from 'node:worker_threads';
import { Handler, type Handshake, type MessageType, type Writer } from 'wsz';
import { collectGarbage } from './gc.js';

export class Topical extends Handler {
  static module = import.meta.url;
  private writer: Writer | null = null;
  private leaveTopic = '';

  afterInit(): void {
    this.conn.write(`id ${this.conn.id}`);
  }

  async clientMessage(data: Buffer, type: MessageType): Promise<void> {
    const conn = this.conn;
    if (type === 'binary') return;
    const text = data.toString();
    const [cmd = '', a = '', ...more] = text.split(' ');
    const rest = more.join(' ');
    try {
      switch (cmd) {
        case 'sub':
          return void conn.write(`sub ${a} ${conn.subscribe(a)}`);
        case 'unsub':
          return void conn.write(`unsub ${a} ${conn.unsubscribe(a)}`);
        case 'is':
          return void conn.write(`is ${a} ${conn.isSubscribed(a)}`);
        case 'topics':
          return void conn.write(`topics ${JSON.stringify(conn.topics)}`);
        case 'count':
          return void conn.write(`count ${a} ${await conn.subscriberCount(a)}`);
        case 'pub':
          return conn.publish(a, rest);
        case 'pubx':
          return conn.publish(a, rest, { self: false });
        case 'pubbin':
          return conn.publish(a, Buffer.from(rest), { binary: true });
        case 'all':
          return conn.broadcast([a, rest].filter(Boolean).join(' '));
        case 'allx':
          return conn.broadcast([a, rest].filter(Boolean).join(' '), { self: false });
        case 'to':
          return conn.sendTo(Number(a), rest);
        case 'say':
          return void conn.write([a, rest].filter(Boolean).join(' '));
        case 'seq':
          for (let i = 0; i < Number(rest); i++) {
            conn.publish(a, `${rest}-${i}`);
            conn.write(`direct-${i}`);
          }
          return;
        case 'stream':
          this.writer = conn.writeBuffer('binary', { fragmentSize: 1000 });
          for (let i = 0; i < 3; i++) this.writer.write(Buffer.alloc(1000, 0x61));
          return;
        case 'end':
          this.writer!.write(Buffer.alloc(500, 0x61)).flush();
          this.writer = null;
          return;
        case 'flood': {
          const [n, size] = rest.split(' ').map(Number);
          const payload = Buffer.alloc(size!, 0x62);
          for (let i = 0; i < n!; i++) conn.publish(a, payload, { binary: true });
          return;
        }
        case 'leaveOnClose':
          this.leaveTopic = a;
          return;
        case 'subAll': {
          // Subscribes to topics t0, t1, ... until the limit stops it.
          for (let i = 0; ; i++) conn.subscribe(`t${i}`);
        }
        case 'subInInit':
          return;
        case 'lone':
          if (a === 'sub') conn.subscribe('room\ud800');
          else conn.publish('room\ud800', 'x');
          return;
        case 'block': {
          // Holds the thread running the hook (its event loop) for A milliseconds.
          const until = Date.now() + Number(a);
          while (Date.now() < until);
          return void conn.write('unblocked');
        }
        case 'thread':
          return void conn.write(`thread ${threadId}`);
        case 'buffers':
          collectGarbage();
          return void conn.write(`buffers ${process.memoryUsage().arrayBuffers}`);
        case 'exit':
          if (isMainThread) return void conn.write('error exit: not on the main thread');
          process.exit(3); // in a worker thread, ends that thread only
      }
    } catch (error) {
      conn.write(`error ${(error as Error).name}: ${(error as Error).message}`);
    }
  }

  close(): void {
    if (this.leaveTopic) this.conn.publish(this.leaveTopic, `left ${this.conn.id}`);
  }
}

/** Subscribes in init to the topic the request's path names ('/early' subscribes to 'early'). */
export class EarlySubscriber extends Handler {
  static module = import.meta.url;

  init(handshake: Handshake): void {
    this.conn.subscribe(handshake.path.slice(1));
  }

  clientMessage(): void {}
}
