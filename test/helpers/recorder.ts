/**
 * Handlers for end-to-end tests that run unchanged on the I/O thread and on worker threads: they
 * report every hook call on a BroadcastChannel (which reaches the test from any thread) and take
 * their behaviour by name from the app, since functions cannot cross to a worker.
 */
import { createHash } from 'node:crypto';
import { BroadcastChannel } from 'node:worker_threads';
import { frameText, Handler, HandshakeError, type Conn, type Handshake, type MessageType } from 'wsz';

/** The app every recorder expects from listen(app). */
export interface RecorderApp {
  /** BroadcastChannel name the test listens on. */
  channel: string;
  /** Key into {@link behaviours}; 'echo' when absent. */
  behaviour?: string;
  /** Shared memory for gates and rendezvous between the test and handlers. */
  shared?: SharedArrayBuffer;
  /** Free-form value tests read back. */
  tag?: string;
}

const channels = new Map<string, BroadcastChannel>();
function channel(name: string): BroadcastChannel {
  let c = channels.get(name);
  if (!c) {
    c = new BroadcastChannel(name);
    c.unref();
    channels.set(name, c);
  }
  return c;
}

/** Waits until shared slot `index` is non-zero (the test opens the gate). */
export async function gate(shared: SharedArrayBuffer, index = 0): Promise<void> {
  const a = new Int32Array(shared);
  while (Atomics.load(a, index) === 0) await new Promise((r) => setTimeout(r, 2));
}

type Hooks = {
  init?(r: Recorder, h: Handshake): void | Promise<void>;
  afterInit?(r: Recorder): void | Promise<void>;
  message?(r: Recorder, data: Buffer, type: MessageType): void | Promise<void>;
  ping?(r: Recorder, data: Buffer): void;
  clientClose?(r: Recorder, code: number, reason: string): void;
  dropped?(r: Recorder, count: number): void;
  drain?(r: Recorder): void;
  close?(r: Recorder): void;
};

const BIG = Buffer.alloc(1 << 20);
for (let i = 0; i < BIG.length; i++) BIG[i] = (i * 7) & 0xff;

const HELLO_FRAME = frameText('hello, pre-framed');

/** Text messages that compress well with context takeover: 6 KiB shared with every other, then 6 KiB of their own. */
const COMMON = Array.from({ length: 96 }, (_, i) => createHash('sha256').update(`common ${i}`).digest('hex')).join('');
export function floodText(i: number): string {
  let own = '';
  for (let k = 0; own.length < 6144; k++) own += createHash('sha256').update(`${i}/${k}`).digest('hex');
  return `seq ${i} ${COMMON}${own}`;
}

/** Named behaviours; the default (no entry) echoes. */
export const behaviours: Record<string, Hooks> = {
  writer: {
    message(r, data) {
      const cmd = data.toString();
      if (cmd === 'build') {
        r.conn.writeBuffer('text').write('a').write(Buffer.from('b')).format('%s-%d', 'c', 7).flush();
      } else if (cmd === 'unflushed') {
        r.conn.writeBuffer('text').write('never sent');
        r.conn.write('after the unflushed writer');
      } else if (cmd === 'twice') {
        const w = r.conn.writeBuffer('binary');
        w.write('once');
        w.flush();
        for (const f of [() => w.write('x'), () => w.flush()]) {
          try {
            f();
          } catch (e) {
            r.emit(`writer error: ${(e as Error).message}`);
          }
        }
      } else if (cmd === 'big') {
        const w = r.conn.writeBuffer('binary');
        for (let i = 0; i < 100; i++) w.write(Buffer.alloc(1000, i));
        r.emit(`writer length ${w.length}`);
        w.flush();
      } else if (cmd === 'fragments') {
        const w = r.conn.writeBuffer('binary', { fragmentSize: 1000 });
        for (let i = 0; i < 7; i++) w.write(Buffer.alloc(500, i));
        w.flush();
      } else if (cmd === 'closed') {
        const w = r.conn.writeBuffer('text');
        r.conn.close();
        try {
          r.emit(
            `writer after close: flush ${w.write('late').flush()}, a new one ${r.conn.writeBuffer('binary').write('x').flush()}`,
          );
        } catch (e) {
          r.emit(`writer error: ${(e as Error).message}`);
        }
      } else if (cmd === 'notUtf8') {
        for (const send of [
          () => r.conn.writeText(Buffer.from([0xff, 0xfe])),
          () => r.conn.write(Buffer.from([0xc3])),
          () => r.conn.publish('t', Buffer.from([0x80])),
        ]) {
          try {
            send();
            r.emit('notUtf8 sent');
          } catch (e) {
            r.emit(`notUtf8 error: ${(e as Error).message}`);
          }
        }
        r.conn.writeText(Buffer.from('still fine ✓'));
      }
    },
  },
  framed: {
    message(r, data) {
      if (data.toString() === 'bad') {
        try {
          r.conn.writeFramed(Buffer.from([0x81, 0x81, 1, 2, 3, 4, 5]));
        } catch (e) {
          r.emit(`framed error: ${(e as Error).message}`);
        }
        return;
      }
      r.conn.writeFramed(HELLO_FRAME);
      r.conn.writeFramed(HELLO_FRAME);
    },
  },
  /** Echoes twice: compressed when worth it, then with compress: false. */
  uncompressed: {
    message(r, data, type) {
      if (type === 'text') {
        r.conn.writeText(data);
        r.conn.writeText(data, { compress: false });
      } else {
        r.conn.writeBin(data);
        r.conn.writeBin(data, { compress: false });
      }
    },
  },
  tenWrites: {
    message: (r) => {
      for (let i = 0; i < 10; i++) r.conn.write(`w${i}`);
    },
  },
  /** 'flood N': writes N binary messages of 64 KiB at once; reports how many were refused. */
  flood: {
    message(r, data) {
      const m = /^flood (\d+)$/.exec(data.toString());
      if (!m) return void r.conn.writeText(data);
      const chunk = Buffer.alloc(64 * 1024, 0x5a);
      let refused = 0;
      for (let i = 0; i < Number(m[1]); i++) if (!r.conn.writeBin(chunk)) refused++;
      r.emit(`flooded refused=${refused > 0}`);
    },
    dropped: (r, count) => r.emit(`dropped ${count > 0}`),
    drain: (r) => r.emit('drain'),
  },
  /** 'flood N' as flood; its dropped() hook writes (and so is dropped again while over the limit). */
  dropWrites: {
    message(r, data) {
      const m = /^flood (\d+)$/.exec(data.toString());
      if (!m) return void r.conn.writeText(data);
      const chunk = Buffer.alloc(64 * 1024, 0x5a);
      for (let i = 0; i < Number(m[1]); i++) r.conn.writeBin(chunk);
      r.emit('flooded');
    },
    dropped(r, count) {
      r.emit(`dropped ${count}`);
      r.conn.write(`you missed ${count} messages`);
    },
    drain: (r) => r.emit('drain'),
  },
  /** 'deflood N': N text messages {@link floodText}(i), each sharing most of its bytes with the one before. */
  deflood: {
    message(r, data) {
      const m = /^deflood (\d+)$/.exec(data.toString());
      if (!m) return void r.conn.writeText(data);
      for (let i = 0; i < Number(m[1]); i++) r.conn.writeText(floodText(i));
      r.emit('flooded');
    },
    drain: (r) => r.emit('drain'),
  },
  /**
   * 'stream' opens a fragmented binary message of its own (first fragment out), 'pub T' publishes a
   * whole message to T (which this connection may be subscribed to), 'end' finishes the fragmented one.
   */
  ownStream: {
    afterInit: (r) => void r.conn.subscribe('room'),
    message(r, data) {
      const [cmd, arg = ''] = data.toString().split(' ');
      if (cmd === 'flood') for (let i = 0; i < Number(arg); i++) r.conn.writeBin(Buffer.alloc(64 * 1024, 0x5a));
      else if (cmd === 'stream')
        (r as Recorder & { w?: ReturnType<Conn['writeBuffer']> }).w = r.conn
          .writeBuffer('binary', { fragmentSize: 1000 })
          .write(Buffer.alloc(1500, 0x61));
      else if (cmd === 'pub') r.conn.publish('room', arg);
      else if (cmd === 'end')
        (r as Recorder & { w?: ReturnType<Conn['writeBuffer']> }).w!.write(Buffer.alloc(500, 0x62)).flush();
      else r.conn.write(data.toString());
      r.emit(`did ${cmd}`);
    },
    drain: (r) => r.emit('drain'),
  },
  asyncDelayed: {
    async message(r, data) {
      await new Promise((res) => setTimeout(res, data[0] === 0x61 ? 30 : 1));
      r.conn.writeText(data);
    },
  },
  asyncRandom: {
    async message(r, data) {
      await new Promise((res) => setTimeout(res, Math.random() * 3));
      r.conn.writeText(data);
    },
  },
  threeWrites: {
    message: (r) => {
      r.conn.write('1');
      r.conn.writeBin(Buffer.from('2'));
      r.conn.writeText('3');
    },
  },
  fragmentedWrite: {
    message: (r) => {
      r.conn.writeFrame(1, 'ab', { fin: false });
      r.conn.writeFrame(0, 'cd');
    },
  },
  bigWrite: {
    message: (r) => {
      r.conn.writeBin(BIG);
    },
  },
  pingBack: {
    message: (r) => {
      r.conn.writePing('srv');
    },
  },
  pongPlus: {
    ping: (r, d) => {
      r.conn.writePong(Buffer.concat([d, Buffer.from('!')]));
    },
  },
  answerClose: { clientClose: (r) => r.conn.close({ code: 1000, reason: 'see you' }) },
  closeOnMessage: { message: (r) => r.conn.close({ code: 4000, reason: 'bye now' }) },
  closeDefault: { message: (r) => r.conn.close() },
  /** Closes (1000) on 'stop'; echoes anything else. */
  closeOnStop: {
    message: (r, d) => {
      if (d.toString() === 'stop') r.conn.close();
      else r.conn.writeText(d);
    },
  },
  closeValidation: {
    message(r) {
      const errors: string[] = [];
      for (const args of [{ code: 1005 }, { code: 1006 }, { code: 999 }, { code: 5000 }, { reason: 'x'.repeat(124) }]) {
        try {
          r.conn.close(args);
        } catch (e) {
          errors.push((e as Error).constructor.name);
        }
      }
      r.emit(`errors ${errors.join(',')}`);
      r.conn.write('still open');
    },
  },
  writesAfterClose: {
    message(r) {
      const results: unknown[] = [r.conn.isClosed()];
      r.conn.close();
      results.push(r.conn.isClosed(), r.conn.write('late'), r.conn.writeBin(Buffer.from('late')));
      r.conn.close();
      r.emit(`results ${JSON.stringify(results)}`);
    },
  },
  throws: {
    message: () => {
      throw new Error('boom');
    },
  },
  rejects: {
    message: async () => {
      throw new Error('async boom');
    },
  },
  closeThrows: {
    close: () => {
      throw new Error('close boom');
    },
  },
  gatedInit: { init: (r) => gate(r.app.shared!) },
  /** gatedInit, and the close hook sets shared[1] (visible to the test at once, from any thread). */
  /** 'leak' makes a promise that rejects later and that nobody awaits; anything else is echoed. */
  leakRejection: {
    message(r, data) {
      if (data.toString() === 'leak') {
        void (async () => {
          await new Promise((res) => setTimeout(res, 5));
          throw new Error('nobody awaited this');
        })();
        return;
      }
      r.conn.writeText(data);
    },
  },
  /** Its close hook throws. */
  throwingClose: {
    close() {
      throw new Error('close hook broke');
    },
  },
  gatedInitMarksClose: {
    init: (r) => gate(r.app.shared!),
    close: (r) => void Atomics.store(new Int32Array(r.app.shared!), 1, 1),
  },
  inspectInit: {
    init(r, h) {
      r.emit(
        `handshake ${JSON.stringify({
          method: h.method,
          path: h.path,
          url: h.url,
          user: h.query.get('user'),
          tag: h.query.get('tag'),
          trace: h.headers.get('x-trace'),
          TRACE: h.headers.get('X-TRACE'),
          multi: h.headers.get('x-multi'),
          multiAll: h.headers.getAll('x-multi'),
          names: [...h.headers].map(([n]) => n),
          remoteAddress: h.remoteAddress,
          remotePort: h.remotePort,
          appTag: r.app.tag,
        })}`,
      );
    },
  },
  chatProtocol: { init: (_r, h) => h.selectProtocol('chat') },
  protocolAndHeader: {
    init(_r, h) {
      h.selectProtocol(h.protocols.includes('v2') ? 'v2' : h.protocols[0]!);
      h.setHeader('X-Server', 'wsz');
    },
  },
  /** Refuses with 401, echoing the request's X-Echo header into the refusal (what a naive app might do). */
  echoHeaderRefusal: {
    init(_r, h) {
      throw new HandshakeError(401, 'accès refusé €', { 'X-Echo': h.headers.get('x-echo') ?? '' });
    },
  },
  /** Reports how many headers init sees, and the cookie's length, origin and extensions. */
  headerCount: {
    init(r, h) {
      r.emit(
        `headers ${h.headers.size} cookie ${h.headers.get('cookie')?.length} origin ${h.headers.get('origin')} extensions ${h.extensions}`,
      );
    },
  },
  initThrows: {
    init: () => {
      throw new Error('database password is hunter2');
    },
  },
  initStatus: {
    async init(_r, h) {
      if (h.path === '/private') throw new HandshakeError(401, 'token required');
      throw Object.assign(new Error('not on the list'), { status: 403 });
    },
  },
  writeInInit: {
    init(r) {
      try {
        r.conn.write('too early');
      } catch (e) {
        r.emit(`init write: ${(e as Error).message}`);
      }
    },
  },
  /** Spins the thread for the number of ms in the message ('spin 1500'); echoes anything else. */
  spin: {
    message(r, data) {
      const m = /^spin (\d+)$/.exec(data.toString());
      if (!m) return void r.conn.writeText(data);
      const end = Date.now() + Number(m[1]);
      while (Date.now() < end);
      r.conn.write('spun');
    },
  },
  /** Two handlers meet: each adds 1 to shared[0] and waits (blocking its thread) until it reads 2. */
  rendezvous: {
    message(r) {
      const a = new Int32Array(r.app.shared!);
      Atomics.add(a, 0, 1);
      const deadline = Date.now() + 5000;
      while (Atomics.load(a, 0) < 2 && Date.now() < deadline) Atomics.wait(a, 1, 0, 10);
      r.conn.write(Atomics.load(a, 0) >= 2 ? 'met' : 'alone');
    },
  },
  /** Holds every message until the test opens the gate (shared[0]), then echoes. */
  gatedMessages: {
    async message(r, data) {
      await gate(r.app.shared!);
      r.conn.writeText(data);
    },
  },
  threadId: {
    async message(r) {
      const { threadId } = await import('node:worker_threads');
      r.conn.write(String(threadId));
    },
  },
  exitThread: {
    message: () => {
      process.exit(3);
    },
  },
  /** Receives and says nothing. */
  silent: { message() {} },
  /** Answers 'id?' with the connection's id; echoes anything else. */
  whoami: { message: (r, d) => void r.conn.writeText(d.toString() === 'id?' ? String(r.conn.id) : d) },
  /** Throws on 'boom', echoes anything else. */
  boomFirst: {
    message: (r, d) => {
      if (d.toString() === 'boom') throw new Error('boom');
      r.conn.writeText(d);
    },
  },
  /** Waits for the gate, then reports whether the connection is closing and whether a write went out. */
  probeAfterGate: {
    async message(r) {
      await gate(r.app.shared!);
      r.emit(`probe ${r.conn.isClosed()} ${r.conn.write('late')}`);
    },
  },
  closeInInit: {
    init(r) {
      try {
        r.conn.close();
        r.emit('init close: no error');
      } catch (e) {
        r.emit(`init close: ${(e as Error).message}`);
      }
    },
  },
  /** The 'drop' policy around pre-framed and fragmented writes (maxBackpressure 100). */
  dropFramed: {
    message(r, d) {
      if (d.toString() === 'go') {
        r.conn.writeBin(Buffer.alloc(200, 1));
        const framed = Buffer.concat([
          Buffer.from([0x02, 3]),
          Buffer.from('AAA'),
          Buffer.from([0x80, 3]),
          Buffer.from('BBB'),
        ]);
        r.emit(`framed ${r.conn.writeFramed(framed)}`);
      } else {
        r.conn.writeFrame(2, 'CCC', { fin: false });
        r.conn.writeFrame(0, 'DDD', { fin: true });
        r.conn.writeBin('EEE');
      }
    },
  },
  /** A streamed Writer across awaits, with other writes made while its message is open. */
  streamed: {
    async message(r) {
      const w = r.conn.writeBuffer('text', { fragmentSize: 4 });
      w.write('abcd');
      r.conn.write('other');
      r.conn.writePing('p');
      await new Promise((res) => setTimeout(res, 5));
      w.write('efgh');
      r.conn.writeBin('bin');
      await new Promise((res) => setTimeout(res, 5));
      w.flush();
      r.conn.write('after');
    },
  },
  /**
   * Keeps every message's `data` past its hook, as a chat history would; 'dump' checks that entry i
   * is still message i of the connection's tag (see historyMessage).
   */
  history: {
    message(r, data) {
      const kept = ((r as unknown as { kept?: Buffer[] }).kept ??= []);
      if (data.toString() !== 'dump') return void kept.push(data);
      let bad = 0;
      const tag = kept[0]?.toString().split(':')[0] ?? '';
      kept.forEach((d, i) => {
        if (!d.equals(historyMessage(tag, i))) bad++;
      });
      r.conn.write(`history ${kept.length} ${bad}`);
    },
  },
};

/** Message `index` of client `tag` for the 'history' behaviour: about 1.5 KiB, self-describing. */
export function historyMessage(tag: string, index: number): Buffer {
  const head = `${tag}:${index}:`;
  return Buffer.from(head + String.fromCharCode(97 + (index % 26)).repeat(1500 - head.length));
}

/** Records hooks; echoes unless its behaviour says otherwise. No optional ping/pong/clientClose hooks. */
export class Recorder extends Handler<RecorderApp> {
  static module = import.meta.url;

  get behaviour(): Hooks {
    return behaviours[this.app.behaviour ?? ''] ?? {};
  }

  emit(event: string): void {
    channel(this.app.channel).postMessage(event);
  }

  init(h: Handshake, _conn: Conn, app: RecorderApp) {
    channel(app.channel).postMessage(`init ${h.path}`);
    return this.behaviour.init?.(this, h);
  }

  afterInit() {
    this.emit('afterInit');
    return this.behaviour.afterInit?.(this);
  }

  clientMessage(data: Buffer, type: MessageType) {
    this.emit(
      `message ${type} ${type === 'text' ? data.toString() : data.length > 64 ? `${data.length} bytes` : data.toString('hex')}`,
    );
    const b = this.behaviour;
    if (b.message) return b.message(this, data, type);
    if (type === 'text') this.conn.writeText(data);
    else this.conn.writeBin(data);
  }

  /** server.signal: recorded, and answered to the peer as {"signal": data}. */
  serverMessage(data: unknown) {
    this.emit(`serverMessage ${JSON.stringify(data)}`);
    this.conn.writeText(JSON.stringify({ signal: data }));
  }

  close() {
    this.emit('close');
    this.behaviour.close?.(this);
  }
}

/** A recorder with a clientPing hook (so the server does not answer pings itself). */
export class PingRecorder extends Recorder {
  static override module = import.meta.url;
  clientPing(data: Buffer) {
    this.emit(`ping ${data.toString()}`);
    this.behaviour.ping?.(this, data);
  }
}

/** A recorder with a clientPong hook. */
export class PongRecorder extends Recorder {
  static override module = import.meta.url;
  clientPong(data: Buffer) {
    this.emit(`pong ${data.toString()}`);
  }
}

/** A recorder with a clientClose hook. */
export class CloseRecorder extends Recorder {
  static override module = import.meta.url;
  clientClose(code: number, reason: string) {
    this.emit(`clientClose ${code} ${reason}`);
    this.behaviour.clientClose?.(this, code, reason);
  }
}

/** A recorder whose clientClose hook never settles. */
export class StuckCloseRecorder extends Recorder {
  static override module = import.meta.url;
  clientClose(code: number) {
    this.emit(`clientClose ${code}`);
    return new Promise<void>(() => {});
  }
}

/** A recorder with the backpressure hooks `dropped` and `drain`. */
export class FlowRecorder extends Recorder {
  static override module = import.meta.url;
  dropped(count: number) {
    this.behaviour.dropped?.(this, count);
  }
  drain() {
    this.behaviour.drain?.(this);
  }
}
