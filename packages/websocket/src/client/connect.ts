import type { ClientOptions } from './options.js';
import { openByAlpn } from './alpn.js';
import { openHttp1 } from './http1-connect.js';
import { openHttp2 } from './h2-connect.js';
import type { Opened } from './opened.js';

export type { Opened } from './opened.js';

/**
 * The client's opening handshake (RFC 6455 4.1): checks the URL, connects (TCP or TLS, or a Unix
 * socket), sends the request and checks the answer. Rejects with a ClientHandshakeError subclass
 * naming what went wrong, or the socket's error; throws a TypeError for a URL that is not ws:// or wss://.
 */
export function openHandshake(url: string | URL, options: ClientOptions): Promise<Opened> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new TypeError(
      `Client.connect: invalid URL ${JSON.stringify(String(url))}; expected ws://host[:port]/path or wss://...`,
    );
  }
  if (u.protocol !== 'ws:' && u.protocol !== 'wss:')
    throw new TypeError(`Client.connect: '${u.protocol}' URLs are not WebSocket URLs; use ws:// or wss://`);
  if (u.hash) throw new TypeError('Client.connect: a WebSocket URL has no fragment (#...) (RFC 6455 3)');
  if (options.http2 === 'auto' && u.protocol === 'wss:' && !options.socketPath) return openByAlpn(u, options);
  if (options.http2 === true) return openHttp2(u, options);
  return openHttp1(u, options);
}
