/**
 * WebSockets over HTTP/2 (RFC 8441): an extended CONNECT stream (`:method CONNECT`, `:protocol websocket`) becomes
 * a connection like an HTTP/1.1 upgrade. The request is read as the upgrade it stands for, so the same checks, limits,
 * origins and `init` apply; the stream stands in for the socket, and the handshake's HTTP/1.1 answer (the 101, or a
 * refusal) is given as HTTP/2 response headers: 200 with the negotiated subprotocol and extensions, or the refusal's
 * status and body. After it, frames flow on the stream's DATA frames; the stream's flow control is the socket's.
 */
import { constants, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import { HandshakeError } from '../protocol/errors.js';
import { requestHead, validateUpgrade, type UpgradeRequest } from '../protocol/handshake.js';

/**
 * The key of the HTTP/1.1 form of an extended CONNECT: RFC 8441 has no Sec-WebSocket-Key (the stream is the proof);
 * the upgrade's checks want one, and its accept value is never sent.
 */
const KEY = 'AAAAAAAAAAAAAAAAAAAAAA==';

const OVER_H2 = Symbol('wsz.h2');

/** Whether a link's socket is an HTTP/2 stream (RFC 8441), for `server.connections()`. */
export function overHttp2(socket: object): boolean {
  return (socket as Record<symbol, boolean>)[OVER_H2] === true;
}

/** Fields of an HTTP/2 request that have no place in the HTTP/1.1 upgrade it stands for. */
const NOT_CARRIED = new Set(['host', 'upgrade', 'connection', 'sec-websocket-key']);

/** Whether an HTTP/2 request is an extended CONNECT for a WebSocket (RFC 8441 4). */
export function isWebSocketConnect(headers: IncomingHttpHeaders): boolean {
  return headers[':method'] === 'CONNECT' && headers[':protocol'] === 'websocket';
}

/**
 * An extended CONNECT (RFC 8441 5) as the HTTP/1.1 upgrade request it stands for, checked by the same rules (version
 * 13, subprotocols, extensions, the target), or the refusal: `:path` and `:authority` are required (RFC 8441 4).
 */
export function connectRequest(headers: IncomingHttpHeaders): UpgradeRequest | HandshakeError {
  const path = headers[':path'];
  const authority = headers[':authority'];
  if (typeof path !== 'string' || path === '' || typeof authority !== 'string' || authority === '')
    return new HandshakeError(400, 'an extended CONNECT needs :path and :authority (RFC 8441 4)');
  const fields: Array<[string, string]> = [
    ['Host', authority],
    ['Upgrade', 'websocket'],
    ['Connection', 'Upgrade'],
    ['Sec-WebSocket-Key', KEY],
  ];
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith(':') || NOT_CARRIED.has(name) || value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) fields.push([name, v]);
  }
  const head = requestHead('GET', 1, 1, path, fields);
  return head instanceof HandshakeError ? head : validateUpgrade(head);
}

/** Response fields that belong to HTTP/1.1's upgrade (or its connection), not to an HTTP/2 response. */
const HTTP1_ONLY = new Set(['upgrade', 'connection', 'sec-websocket-accept', 'transfer-encoding', 'keep-alive']);

/**
 * The HTTP/2 response headers for the handshake's HTTP/1.1 answer (`head`: its status line and fields), and where
 * its body starts: a 101 becomes 200 (RFC 8441 5).
 */
export function h2Response(bytes: Buffer): { headers: Record<string, string | number>; body: Buffer } {
  const end = bytes.indexOf('\r\n\r\n');
  const head = bytes.toString('latin1', 0, end < 0 ? bytes.length : end).split('\r\n');
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head[0] ?? '')?.[1] ?? 500);
  const headers: Record<string, string | number> = { ':status': status === 101 ? 200 : status };
  for (const line of head.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!HTTP1_ONLY.has(name)) headers[name] = line.slice(colon + 1).trim();
  }
  return { headers, body: end < 0 ? Buffer.alloc(0) : bytes.subarray(end + 4) };
}

/**
 * A refusal on `stream`: the status and body, then RST_STREAM with NO_ERROR once the body is out (RFC 9113 8.1), so
 * the client stops sending and the stream does not stay half open on the server.
 */
export function refuse(stream: ServerHttp2Stream, headers: Record<string, string | number>, body?: Buffer): void {
  if (stream.destroyed || stream.headersSent) return;
  stream.respond(headers);
  stream.end(body);
  stream.close(constants.NGHTTP2_NO_ERROR);
}

/**
 * `stream` as the socket a link reads and writes: the peer's address and port are its session's, `setNoDelay` is
 * the session socket's business, byte counts are the stream's own, and the first thing written (the handshake's
 * HTTP/1.1 answer) goes out as HTTP/2 response headers (with the body of a refusal). Everything after is frames.
 */
export function streamSocket(stream: ServerHttp2Stream): Socket {
  (stream as unknown as Record<symbol, boolean>)[OVER_H2] = true;
  const tcp = stream.session?.socket;
  const socket = stream as unknown as Socket & { bytesRead: number; bytesWritten: number };
  let read = 0;
  let written = 0;
  stream.on('data', (chunk: Buffer) => (read += chunk.length));
  Object.defineProperties(socket, {
    remoteAddress: { get: () => tcp?.remoteAddress },
    remotePort: { get: () => tcp?.remotePort },
    bytesRead: { get: () => read },
    bytesWritten: { get: () => written },
  });
  socket.setNoDelay = () => socket;
  // Dropping the connection is RST_STREAM with CANCEL (RFC 8441 6), not Node's NO_ERROR; after our END_STREAM
  // (the close handshake done) a destroy stays Node's.
  const destroy = stream.destroy.bind(stream);
  socket.destroy = ((error?: Error): Socket => {
    if (!stream.closed && !stream.writableEnded) stream.close(constants.NGHTTP2_CANCEL);
    destroy(error);
    return socket;
  }) as Socket['destroy'];
  const write = stream.write.bind(stream) as (chunk: unknown, ...rest: unknown[]) => boolean;
  const end = stream.end.bind(stream) as (...args: unknown[]) => ServerHttp2Stream;
  let answered = false;
  /** The handshake's answer: a 101 opens the stream for frames; anything else is a refusal that ends it. */
  const answer = (chunk: unknown, encoding?: unknown): boolean => {
    answered = true;
    const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk), (encoding as BufferEncoding) ?? 'latin1');
    const { headers, body } = h2Response(bytes);
    if (stream.destroyed || stream.headersSent) return false;
    if (headers[':status'] === 200) {
      stream.respond(headers);
      return true;
    }
    refuse(stream, headers, body);
    return false;
  };
  socket.write = ((chunk: unknown, ...rest: unknown[]): boolean => {
    if (!answered) return answer(chunk, typeof rest[0] === 'string' ? rest[0] : undefined);
    written += typeof chunk === 'string' ? Buffer.byteLength(chunk) : (chunk as Uint8Array).length;
    return write(chunk, ...rest);
  }) as Socket['write'];
  socket.end = ((chunk?: unknown, ...rest: unknown[]): Socket => {
    if (!answered && chunk !== undefined && typeof chunk !== 'function') {
      answer(chunk, typeof rest[0] === 'string' ? rest[0] : undefined);
      return socket;
    }
    if (chunk !== undefined && typeof chunk !== 'function')
      written += typeof chunk === 'string' ? Buffer.byteLength(chunk) : (chunk as Uint8Array).length;
    end(chunk, ...rest);
    return socket;
  }) as Socket['end'];
  return socket;
}
