import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { acceptKey } from 'wsz/protocol';

/** What a scripted server saw from the client. */
export interface Scripted {
  port: number;
  /** Every byte the client sent after its request head. */
  received: () => Buffer;
  /** The client's request head. */
  request: () => string;
  server: Server;
  close(): Promise<void>;
}

/**
 * A deliberately misbehaving server for client tests: it reads the upgrade request and lets the
 * test write any answer (`respond` gets the socket and the accept value the request asks for).
 */
export async function scriptedServer(
  respond: (socket: Socket, accept: string, request: string) => void,
): Promise<Scripted> {
  let received = Buffer.alloc(0);
  let request = '';
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    let head = Buffer.alloc(0);
    let answered = false;
    socket.on('data', (d) => {
      if (answered) {
        received = Buffer.concat([received, d]);
        return;
      }
      head = Buffer.concat([head, d]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      answered = true;
      request = head.subarray(0, end).toString();
      received = Buffer.from(head.subarray(end + 4));
      const key = /sec-websocket-key: (.*)/i.exec(request)?.[1]?.trim() ?? '';
      respond(socket, acceptKey(key), request);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as AddressInfo).port,
    received: () => received,
    request: () => request,
    server,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** A valid 101 for `accept`, with extra header lines. */
export function ok101(accept: string, extra: string[] = []): string {
  return [
    'HTTP/1.1 101 Switching Protocols',
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Accept: ${accept}`,
    ...extra,
    '',
    '',
  ].join('\r\n');
}

/** Decodes the masked client frames in `bytes`. */
export function clientFrames(
  bytes: Buffer,
): Array<{ fin: boolean; rsv1: boolean; opcode: number; masked: boolean; key: string; payload: Buffer }> {
  const out = [];
  let p = 0;
  while (p + 2 <= bytes.length) {
    const b0 = bytes[p]!;
    const b1 = bytes[p + 1]!;
    let len = b1 & 0x7f;
    let q = p + 2;
    if (len === 126) {
      len = bytes.readUInt16BE(q);
      q += 2;
    } else if (len === 127) {
      len = Number(bytes.readBigUInt64BE(q));
      q += 8;
    }
    const masked = (b1 & 0x80) !== 0;
    const key = masked ? bytes.subarray(q, q + 4) : Buffer.alloc(4);
    if (masked) q += 4;
    if (q + len > bytes.length) break;
    const payload = Buffer.from(bytes.subarray(q, q + len));
    for (let i = 0; i < payload.length; i++) payload[i]! ^= key[i & 3]!;
    out.push({
      fin: (b0 & 0x80) !== 0,
      rsv1: (b0 & 0x40) !== 0,
      opcode: b0 & 0x0f,
      masked,
      key: key.toString('hex'),
      payload,
    });
    p = q + len;
  }
  return out;
}
