/**
 * The sender without sockets (issue 21): admission, batching and the backpressure policies, with a
 * recording socket that can refuse to drain (as a peer that does not read) and a recording host.
 */
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { FrameSender, type SenderHost } from '../../packages/websocket/src/sender/frame-sender.js';
import { LoopData } from '../../packages/websocket/src/sender/loop-data.js';
import { prepareFrame } from '../../packages/websocket/src/sender/prepared.js';

/** A socket that records writes; `stalled`, it keeps what it is given queued (writableLength grows). */
class RecordingSocket {
  writable = true;
  writableLength = 0;
  stalled = false;
  readonly writes: Buffer[] = [];
  write(chunk: Uint8Array, done?: () => void): boolean {
    this.writes.push(Buffer.from(chunk));
    if (this.stalled) this.writableLength += chunk.length;
    done?.();
    return !this.stalled;
  }
  cork(): void {}
  uncork(): void {}
  /** Every frame written so far, as `opcode:payload` (unmasked frames with 7-bit or 16-bit lengths). */
  frames(): string[] {
    const all = Buffer.concat(this.writes);
    const out: string[] = [];
    for (let at = 0; at < all.length;) {
      const opcode = all[at]! & 0x0f;
      const fin = (all[at]! & 0x80) !== 0;
      let length = all[at + 1]! & 0x7f;
      let head = 2;
      if (length === 126) {
        length = all.readUInt16BE(at + 2);
        head = 4;
      }
      const payload = all.subarray(at + head, at + head + length);
      out.push(`${opcode}${fin ? '' : '+'}:${payload.length > 16 ? `${payload.length}B` : payload.toString()}`);
      at += head + length;
    }
    return out;
  }
}

function sender(options: { policy?: 'close' | 'drop'; limit?: number } = {}) {
  const socket = new RecordingSocket();
  const events: string[] = [];
  let open = true;
  const host: SenderHost = {
    socket: socket as unknown as Socket,
    limits: { maxBackpressure: options.limit ?? 1000, backpressurePolicy: options.policy ?? 'close' },
    masked: false,
    deflate: null,
    canWrite: () => open,
    overLimit: () => void events.push('overLimit'),
    reused: () => false,
    backlogged: (bytes) => void events.push(`backlogged ${bytes}`),
    drainedBacklog: () => void events.push('drained'),
    droppedMessages: (n) => void events.push(`dropped ${n}`),
    countWrite: () => {},
    countDrop: () => {},
  };
  const loop = new LoopData();
  return { s: new FrameSender(host, loop), socket, events, loop, close: () => void (open = false) };
}
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('FrameSender', () => {
  it("batches one tick's frames into one socket write, in order, at the end of the tick", async () => {
    const { s, socket } = sender();
    s.frame(1, 'a', true);
    s.frame(9, 'ping', true);
    s.frame(2, Buffer.from('b'), true);
    expect(socket.writes).toHaveLength(0);
    await Promise.resolve();
    expect(socket.writes).toHaveLength(1);
    expect(socket.frames()).toEqual(['1:a', '9:ping', '2:b']);
  });

  it('while its connection processes a read, waits for that read to end (one write per read)', async () => {
    const { s, socket, loop } = sender();
    loop.reading = s;
    s.frame(1, 'echo', true);
    await Promise.resolve();
    expect(socket.writes).toHaveLength(0);
    loop.reading = null;
    s.flush();
    expect(socket.frames()).toEqual(['1:echo']);
  });

  it("'close': past maxBackpressure the next data message is refused and the host told; control frames still go", async () => {
    const { s, socket, events } = sender({ policy: 'close', limit: 100 });
    socket.stalled = true;
    expect(s.frame(2, Buffer.alloc(200), true)).toBe(true); // under the limit when admitted
    s.flush();
    expect(s.frame(2, Buffer.alloc(10), true)).toBe(false);
    expect(events).toContain('overLimit');
    expect(s.frame(10, 'pong', true)).toBe(true);
  });

  it("'drop': messages past the limit are dropped whole (a fragmented one to its last frame) and reported once per tick", async () => {
    const { s, socket, events } = sender({ policy: 'drop', limit: 100 });
    socket.stalled = true;
    s.frame(2, Buffer.alloc(200), true);
    s.flush();
    expect(s.frame(1, 'gone', false)).toBe(false);
    expect(s.frame(0, 'gone too', false)).toBe(false);
    expect(s.frame(0, 'last', true)).toBe(false);
    expect(s.frame(1, 'also', true)).toBe(false);
    await tick();
    expect(events.filter((e) => e.startsWith('dropped'))).toEqual(['dropped 2']);
    socket.stalled = false;
    socket.writableLength = 0;
    s.drained();
    expect(s.frame(1, 'back', true)).toBe(true);
  });

  it('holds shared frames (publishes) behind its own open fragmented message, then sends them after its last frame', () => {
    const { s, socket } = sender();
    s.frame(1, 'one', false);
    expect(s.shared(prepareFrame(1, 'published'))).toBe(true);
    s.frame(0, 'two', true);
    s.flush();
    expect(socket.frames()).toEqual(['1+:one', '0:two', '1:published']);
  });

  it('sends a close frame even once its host refuses writes (the session decided it), and nothing after it', () => {
    const { s, socket, close } = sender();
    close();
    expect(s.frame(1, 'late', true)).toBe(false);
    s.frame(8, Buffer.from([0x03, 0xe8]), true);
    s.flush();
    const frames = socket.frames();
    expect(frames).toHaveLength(1);
    expect(frames[0]!.startsWith('8:')).toBe(true);
  });
});
