/**
 * A deliberately simple WebSocket peer for end-to-end tests: it writes exactly the bytes a test
 * gives it and parses what the server sends with its own small parser (not the library's), so
 * tests check the server against an independent reading of RFC 6455.
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

export interface Frame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  payload: Buffer;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
export const ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';

/** A valid upgrade request for `path`, with extra header lines. */
export function upgradeRequest(path = '/', extra: string[] = []): string {
  return [
    `GET ${path} HTTP/1.1`,
    'Host: 127.0.0.1',
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${KEY}`,
    'Sec-WebSocket-Version: 13',
    ...extra,
    '',
    '',
  ].join('\r\n');
}

/** Encodes a client frame; masked with a random key unless `mask` is false. */
export function frame(
  opcode: number,
  payload: Buffer | string = Buffer.alloc(0),
  opts: { fin?: boolean; mask?: boolean; rsv?: number; length?: number } = {},
): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const len = opts.length ?? body.length;
  const masked = opts.mask !== false;
  const head: number[] = [(opts.fin === false ? 0 : 0x80) | ((opts.rsv ?? 0) << 4) | opcode];
  const m = masked ? 0x80 : 0;
  if (len < 126) head.push(m | len);
  else if (len < 65536) head.push(m | 126, len >> 8, len & 255);
  else {
    head.push(m | 127);
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(BigInt(len));
    head.push(...b);
  }
  if (!masked) return Buffer.concat([Buffer.from(head), body]);
  const key = randomBytes(4);
  const out = Buffer.from(body);
  for (let i = 0; i < out.length; i++) out[i]! ^= key[i & 3]!;
  return Buffer.concat([Buffer.from(head), key, out]);
}

/** A close frame payload: code then reason. */
export function closeBody(code: number, reason = ''): Buffer {
  const b = Buffer.alloc(2 + Buffer.byteLength(reason));
  b.writeUInt16BE(code);
  b.write(reason, 2);
  return b;
}

export class RawClient {
  readonly socket: Socket;
  private buf = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  private ended = false;
  readonly closed: Promise<void>;
  response: HttpResponse | null = null;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake();
    });
    socket.on('error', () => {});
    this.closed = new Promise((resolve) =>
      socket.on('close', () => {
        this.ended = true;
        this.wake();
        resolve();
      }),
    );
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Connects and sends `request` (a complete upgrade by default), without waiting for the answer. */
  static async connect(port: number, request: string | Buffer | null = upgradeRequest()): Promise<RawClient> {
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    socket.setNoDelay(true);
    const c = new RawClient(socket);
    if (request !== null) socket.write(request);
    return c;
  }

  /** Connects, upgrades, and checks the 101. */
  static async open(port: number, path = '/', extra: string[] = []): Promise<RawClient> {
    const c = await RawClient.connect(port, upgradeRequest(path, extra));
    const res = await c.readResponse();
    if (res.status !== 101) throw new Error(`expected 101, got ${res.status}: ${res.body}`);
    return c;
  }

  private async until<T>(what: string, take: () => T | undefined, ms: number): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = take();
      if (v !== undefined) return v;
      if (this.ended) throw new Error(`connection closed while waiting for ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Reads an HTTP response head (and, for non-101, its Content-Length body). */
  async readResponse(ms = 3000): Promise<HttpResponse> {
    return this.until(
      'an HTTP response',
      () => {
        const end = this.buf.indexOf('\r\n\r\n');
        if (end < 0) return undefined;
        const lines = this.buf.subarray(0, end).toString('latin1').split('\r\n');
        const status = Number(lines[0]!.split(' ')[1]);
        const headers: Record<string, string> = {};
        for (const l of lines.slice(1)) {
          const i = l.indexOf(':');
          headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
        }
        const bodyLength = status === 101 ? 0 : Number(headers['content-length'] ?? 0);
        if (this.buf.length < end + 4 + bodyLength) return undefined;
        const body = this.buf.subarray(end + 4, end + 4 + bodyLength).toString();
        this.buf = this.buf.subarray(end + 4 + bodyLength);
        this.response = { status, headers, body };
        return this.response;
      },
      ms,
    );
  }

  /** The next frame from the server. */
  async nextFrame(ms = 3000): Promise<Frame> {
    return this.until(
      'a frame',
      () => {
        const b = this.buf;
        if (b.length < 2) return undefined;
        let len = b[1]! & 0x7f;
        let p = 2;
        if (len === 126) {
          if (b.length < 4) return undefined;
          len = b.readUInt16BE(2);
          p = 4;
        } else if (len === 127) {
          if (b.length < 10) return undefined;
          len = Number(b.readBigUInt64BE(2));
          p = 10;
        }
        const masked = (b[1]! & 0x80) !== 0;
        if (masked) p += 4;
        if (b.length < p + len) return undefined;
        const f: Frame = {
          fin: (b[0]! & 0x80) !== 0,
          rsv: (b[0]! >> 4) & 7,
          opcode: b[0]! & 0x0f,
          masked,
          payload: Buffer.from(b.subarray(p, p + len)),
        };
        this.buf = b.subarray(p + len);
        return f;
      },
      ms,
    );
  }

  /** Reads frames up to and including a close frame; returns its code (1005 when empty) and reason. */
  async readClose(ms = 3000): Promise<{ code: number; reason: string; before: Frame[] }> {
    const before: Frame[] = [];
    for (;;) {
      const f = await this.nextFrame(ms);
      if (f.opcode === 8) {
        return {
          code: f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005,
          reason: f.payload.subarray(2).toString(),
          before,
        };
      }
      before.push(f);
    }
  }

  /** Resolves true if the server ends the TCP connection within `ms`. */
  async waitClosed(ms = 3000): Promise<boolean> {
    return Promise.race([this.closed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);
  }

  /** The bytes received and not read yet. */
  get received(): Buffer {
    return this.buf;
  }

  /** True when no bytes arrived and the connection is open. */
  get idle(): boolean {
    return this.buf.length === 0 && !this.ended;
  }

  /** Stops reading from the socket (the kernel buffers fill, then the server's queue grows). */
  pauseReading(): void {
    this.socket.pause();
  }

  resumeReading(): void {
    this.socket.resume();
  }

  send(bytes: Buffer | string): void {
    this.socket.write(bytes);
  }

  /** Sends `bytes`, waiting for the socket to drain when its buffer is full (a sender that respects TCP's pace). */
  async sendPaced(bytes: Buffer): Promise<void> {
    if (this.socket.write(bytes)) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.on('drain', done);
      this.socket.on('close', done);
    });
  }

  sendFrame(opcode: number, payload?: Buffer | string, opts?: { fin?: boolean; mask?: boolean; rsv?: number }): void {
    this.socket.write(frame(opcode, payload, opts));
  }

  /** Sends `bytes` one byte per write, letting each leave before the next. */
  async trickle(bytes: Buffer): Promise<void> {
    for (let i = 0; i < bytes.length; i++) {
      await new Promise<void>((resolve) => this.socket.write(bytes.subarray(i, i + 1), () => resolve()));
    }
  }

  destroy(): void {
    this.socket.destroy();
  }
}
