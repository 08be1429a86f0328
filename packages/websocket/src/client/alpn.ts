import { isIP } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { HandshakeTimeoutError } from '../protocol/client-handshake.js';
import { openHttp1 } from './http1-connect.js';
import { hasSession, openHttp2 } from './h2-connect.js';
import type { Opened } from './opened.js';
import type { ClientOptions } from './options.js';

/**
 * `http2: 'auto'` for a wss:// URL, as browsers do: a session already open to the origin is reused; otherwise TLS
 * offers h2 and http/1.1 by ALPN. Where the server picks h2 and announces the extended CONNECT protocol (RFC 8441),
 * the WebSocket is a stream of that session (which later WebSockets to the origin share); where it picks h2 without
 * the setting, a second connection speaks HTTP/1.1; where it picks http/1.1, the upgrade goes on the same socket.
 */
export function openByAlpn(u: URL, options: ClientOptions): Promise<Opened> {
  const overHttp1 = (): Promise<Opened> => openHttp1(u, options);
  if (hasSession(u, options)) return openHttp2(u, options, undefined, overHttp1);
  const hostname = u.hostname.replace(/^\[|\]$/g, '');
  const handshakeTimeout = options.handshakeTimeout ?? 10000;
  return new Promise<TLSSocket>((resolve, reject) => {
    const socket = tlsConnect({
      host: hostname,
      port: Number(u.port || 443),
      servername: options.tls?.servername ?? (isIP(hostname) === 0 ? hostname : undefined),
      ca: options.tls?.ca,
      rejectUnauthorized: options.tls?.rejectUnauthorized ?? true,
      ALPNProtocols: ['h2', 'http/1.1'],
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new HandshakeTimeoutError(`no TLS handshake within ${handshakeTimeout} ms`));
    }, handshakeTimeout);
    const failed = (error: Error): void => {
      clearTimeout(timer);
      reject(error);
    };
    socket.once('error', failed);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      socket.off('error', failed);
      resolve(socket);
    });
  }).then((socket) => {
    if (socket.alpnProtocol === 'h2') return openHttp2(u, options, socket, overHttp1);
    socket.setNoDelay(true);
    return openHttp1(u, options, socket);
  });
}
