/**
 * A minimal WebSocket client over HTTP/2 for the tests (RFC 8441): an extended CONNECT on a node:http2 session,
 * masked frames out, the server's frames read back (unfragmented, as the tests' servers send them).
 */
import { connect, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders } from 'node:http2';
import { randomBytes } from 'node:crypto';
import { encodeFrame, maskWord, Opcode } from 'wsz/protocol';

/** A session to `origin` (http://127.0.0.1:port), once the server's SETTINGS said whether it takes extended CONNECT. */
export async function h2Session(origin: string): Promise<{ session: ClientHttp2Session; connectProtocol: boolean }> {
  const session = connect(origin);
  session.on('error', () => {});
  const connectProtocol = await new Promise<boolean>((resolve, reject) => {
    session.once('remoteSettings', (s) => resolve(s.enableConnectProtocol === true));
    session.once('error', reject);
  });
  return { session, connectProtocol };
}

/** One frame from the server. */
export interface H2Frame {
  opcode: number;
  data: Buffer;
}

/** A WebSocket on one stream of a session. */
export class H2Socket {
  readonly stream: ClientHttp2Stream;
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** The response body of a refusal. */
  body = '';
  private buffer = Buffer.alloc(0);
  private readonly frames: H2Frame[] = [];
  private waiter: ((f: H2Frame | null) => void) | null = null;
  ended = false;

  private constructor(stream: ClientHttp2Stream, headers: IncomingHttpHeaders) {
    this.stream = stream;
    this.headers = headers;
    this.status = Number(headers[':status']);
    stream.on('data', (chunk: Buffer) => {
      if (this.status !== 200) {
        this.body += chunk.toString();
        return;
      }
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.parse();
    });
    stream.on('end', () => this.finish());
    stream.on('close', () => this.finish());
    stream.on('error', () => {});
  }

  /** Opens a WebSocket at `path` with extra request `headers` (override any of the defaults). */
  static open(session: ClientHttp2Session, path: string, headers: Record<string, string> = {}): Promise<H2Socket> {
    const stream = session.request(
      {
        ':method': 'CONNECT',
        ':protocol': 'websocket',
        ':path': path,
        ':scheme': 'http',
        'sec-websocket-version': '13',
        ...headers,
      },
      { endStream: false },
    );
    return new Promise((resolve, reject) => {
      stream.once('response', (h) => resolve(new H2Socket(stream, h)));
      stream.once('error', reject);
    });
  }

  private finish(): void {
    this.ended = true;
    this.waiter?.(null);
    this.waiter = null;
  }

  private parse(): void {
    for (;;) {
      const b = this.buffer;
      if (b.length < 2) return;
      let length = b[1]! & 0x7f;
      let at = 2;
      if (length === 126) {
        if (b.length < 4) return;
        length = b.readUInt16BE(2);
        at = 4;
      } else if (length === 127) {
        if (b.length < 10) return;
        length = Number(b.readBigUInt64BE(2));
        at = 10;
      }
      if (b.length < at + length) return;
      const frame = { opcode: b[0]! & 0x0f, data: Buffer.from(b.subarray(at, at + length)) };
      this.buffer = b.subarray(at + length);
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = null;
        w(frame);
      } else this.frames.push(frame);
    }
  }

  /** Sends one masked frame. */
  send(opcode: number, data: string | Buffer): void {
    this.stream.write(encodeFrame(opcode, data, { mask: maskWord(randomBytes(4), 0) }));
  }

  text(data: string): void {
    this.send(Opcode.Text, data);
  }

  /** The next frame, or null once the stream ended (or after `ms`). */
  next(ms = 3000): Promise<H2Frame | null> {
    const f = this.frames.shift();
    if (f) return Promise.resolve(f);
    if (this.ended) return Promise.resolve(null);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        resolve(null);
      }, ms);
      this.waiter = (frame) => {
        clearTimeout(timer);
        resolve(frame);
      };
    });
  }

  /** The next text message's content. */
  async nextText(): Promise<string> {
    const f = await this.next();
    if (f === null || f.opcode !== Opcode.Text)
      throw new Error(`expected a text frame, got ${f ? f.opcode : 'nothing'}`);
    return f.data.toString();
  }
}
