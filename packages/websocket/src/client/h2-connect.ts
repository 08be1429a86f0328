import { connect, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders } from 'node:http2';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { acceptKey } from '../protocol/handshake.js';
import {
  generateKey,
  HandshakeResponseError,
  HandshakeStatusError,
  HandshakeTimeoutError,
  validateResponse,
} from '../protocol/client-handshake.js';
import { deflateOfferHeader } from '../protocol/permessage-deflate.js';
import { deflateOffer, type Opened } from './opened.js';
import type { ClientOptions } from './options.js';

/**
 * The client's opening handshake over HTTP/2 (RFC 8441): an extended CONNECT stream on a session to the URL's
 * origin, reused by every WebSocket to that origin while one is open. The server must announce
 * SETTINGS_ENABLE_CONNECT_PROTOCOL; its 200 is checked as a 101 would be (subprotocol, extensions).
 */

/** Sessions by origin (and TLS settings), with how many WebSockets use each. */
const sessions = new Map<string, { session: ClientHttp2Session; users: number; ready: Promise<boolean> }>();

interface SessionUse {
  session: ClientHttp2Session;
  users: number;
}

function sessionKey(origin: string, options: ClientOptions): string {
  return `${origin} ${JSON.stringify(options.tls ?? {})}`;
}

/** Whether a session to `u`'s origin with these TLS settings is open, to be reused rather than asked for by ALPN. */
export function hasSession(u: URL, options: ClientOptions): boolean {
  const entry = sessions.get(sessionKey(originOf(u), options));
  return entry !== undefined && !entry.session.closed && !entry.session.destroyed;
}

function originOf(u: URL): string {
  return `${u.protocol === 'wss:' ? 'https' : 'http'}://${u.host}`;
}

function sessionFor(
  origin: string,
  options: ClientOptions,
  socket: TLSSocket | undefined,
): { session: ClientHttp2Session; ready: Promise<boolean>; entry: SessionUse } {
  const key = sessionKey(origin, options);
  let entry = sessions.get(key);
  if (entry === undefined || entry.session.closed || entry.session.destroyed) {
    // A socket that ALPN already gave to h2 carries the session; otherwise the session connects by itself.
    const session = connect(origin, {
      ca: options.tls?.ca,
      servername: options.tls?.servername,
      rejectUnauthorized: options.tls?.rejectUnauthorized ?? true,
      ...(socket ? { createConnection: () => socket } : {}),
    });
    session.on('error', () => {});
    const ready = new Promise<boolean>((resolve) => {
      session.once('remoteSettings', (s) => resolve(s.enableConnectProtocol === true));
      session.once('close', () => resolve(false));
    });
    const made = { session, users: 0, ready };
    session.once('close', () => {
      if (sessions.get(key) === made) sessions.delete(key);
    });
    sessions.set(key, made);
    entry = made;
  }
  entry.users++;
  const used = entry;
  return {
    session: used.session,
    entry: used,
    ready: used.ready.then((ok) => {
      if (!ok) release(key, used);
      return ok;
    }),
  };
}

/** One WebSocket less on the session: the last one closes it. */
function release(key: string, entry: SessionUse): void {
  if (--entry.users > 0) return;
  if (sessions.get(key) === entry) sessions.delete(key);
  entry.session.close();
}

/**
 * Connects `u` (a ws:// or wss:// URL, checked) over HTTP/2 and completes the extended CONNECT. `socket` is a TLS
 * socket on which ALPN chose h2; `fallback`, when given, is taken instead of failing when the server does not announce
 * the extended CONNECT protocol (as a browser falls back to HTTP/1.1).
 */
export function openHttp2(
  u: URL,
  options: ClientOptions,
  socket?: TLSSocket,
  fallback?: () => Promise<Opened>,
): Promise<Opened> {
  const secure = u.protocol === 'wss:';
  const origin = originOf(u);
  const protocols = options.protocols ?? [];
  const deflateOptions = deflateOffer(options);
  const handshakeTimeout = options.handshakeTimeout ?? 10000;
  const key = sessionKey(origin, options);
  const { session, ready, entry } = sessionFor(origin, options, socket);
  return new Promise<Opened>((resolve, reject) => {
    let stream: ClientHttp2Stream | null = null;
    const timer = setTimeout(() => {
      stream?.close();
      reject(new HandshakeTimeoutError(`no answer to the WebSocket CONNECT within ${handshakeTimeout} ms`));
    }, handshakeTimeout);
    void ready.then((ok) => {
      if (!ok) {
        clearTimeout(timer);
        if (fallback) return resolve(fallback());
        reject(
          new HandshakeResponseError(
            `${origin} does not announce the extended CONNECT protocol (RFC 8441) over HTTP/2: connect without http2`,
          ),
        );
        return;
      }
      const headers: Record<string, string> = {
        ':method': 'CONNECT',
        ':protocol': 'websocket',
        ':scheme': secure ? 'https' : 'http',
        ':path': `${u.pathname || '/'}${u.search}`,
        'sec-websocket-version': '13',
      };
      if (protocols.length > 0) headers['sec-websocket-protocol'] = protocols.join(', ');
      if (deflateOptions) headers['sec-websocket-extensions'] = deflateOfferHeader(deflateOptions);
      for (const [name, value] of Object.entries(options.headers ?? {})) headers[name.toLowerCase()] = value;
      const s = session.request(headers, { endStream: false });
      stream = s;
      s.once('close', () => release(key, entry));
      s.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      s.once('response', (h: IncomingHttpHeaders) => {
        const status = Number(h[':status']);
        if (status !== 200) {
          let body = '';
          s.setEncoding('utf8');
          s.on('data', (d: string) => (body += d));
          s.once('end', () => {
            clearTimeout(timer);
            reject(new HandshakeStatusError(status, '', body, fields(h)));
          });
          return;
        }
        // Checked as the 101 it stands for: the same rules for the subprotocol and the extensions.
        const wsKey = generateKey();
        const as101 = [
          ['upgrade', 'websocket'],
          ['connection', 'upgrade'],
          ['sec-websocket-accept', acceptKey(wsKey)],
          ...fields(h),
        ] as Array<[string, string]>;
        const ok = validateResponse({ status: 101, statusText: '', headers: as101 }, wsKey, protocols, deflateOptions);
        clearTimeout(timer);
        if (ok instanceof Error) {
          s.close();
          reject(ok);
          return;
        }
        s.pause();
        resolve({ socket: asSocket(s), protocol: ok.protocol, rest: Buffer.alloc(0), deflate: ok.deflate });
      });
    });
  });
}

function fields(h: IncomingHttpHeaders): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const [name, value] of Object.entries(h))
    if (!name.startsWith(':') && value !== undefined) out.push([name, Array.isArray(value) ? value.join(', ') : value]);
  return out;
}

/** The stream as the client's socket: `setNoDelay` is the session's business. */
function asSocket(stream: ClientHttp2Stream): Socket {
  const socket = stream as unknown as Socket;
  socket.setNoDelay = () => socket;
  return socket;
}
