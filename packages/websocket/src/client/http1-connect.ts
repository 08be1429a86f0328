import { isIP, connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import {
  clientRequest,
  generateKey,
  HandshakeStatusError,
  HandshakeTimeoutError,
  validateResponse,
} from '../protocol/client-handshake.js';
import { deflateOfferHeader } from '../protocol/permessage-deflate.js';
import type { ClientOptions } from './options.js';
import { ResponseReader, type ResponseRead } from './response-reader.js';
import { deflateOffer, type Opened } from './opened.js';

/** After a refusal's status line, how long its body is waited for before the refusal is reported with what came. */
const REFUSAL_BODY_WAIT = 1000;

/**
 * The HTTP/1.1 upgrade on a new socket, or on `connected`: a TLS socket on which ALPN chose HTTP/1.1. The handshake
 * timeout counts from here.
 */
export function openHttp1(u: URL, options: ClientOptions, connected?: Socket): Promise<Opened> {
  const secure = u.protocol === 'wss:';
  const port = Number(u.port || (secure ? 443 : 80));
  const hostname = u.hostname.replace(/^\[|\]$/g, '');
  const key = generateKey();
  const protocols = options.protocols ?? [];
  const deflateOptions = deflateOffer(options);
  const request = clientRequest({
    extensions: deflateOptions ? deflateOfferHeader(deflateOptions) : undefined,
    target: `${u.pathname || '/'}${u.search}`,
    host: u.port ? `${u.hostname}:${u.port}` : u.hostname,
    key,
    protocols,
    headers: Object.entries(options.headers ?? {}),
  });
  const handshakeTimeout = options.handshakeTimeout ?? 10000;
  return new Promise<Opened>((resolve, reject) => {
    let socket: Socket;
    const where = options.socketPath ? { path: options.socketPath } : { host: hostname, port };
    if (connected) socket = connected;
    else if (secure) {
      // TLS over TCP or over the Unix socket alike; SNI carries host names, never IP literals (RFC 6066 3).
      socket = tlsConnect({
        ...where,
        servername: options.tls?.servername ?? (isIP(hostname) === 0 ? hostname : undefined),
        ca: options.tls?.ca,
        rejectUnauthorized: options.tls?.rejectUnauthorized ?? true,
        ALPNProtocols: ['http/1.1'],
      });
    } else socket = netConnect(where);
    socket.setNoDelay?.(true);
    const response = new ResponseReader();
    let settled = false;
    let bodyTimer: NodeJS.Timeout | null = null;
    const fail = (error: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (bodyTimer) clearTimeout(bodyTimer);
      socket.destroy();
      reject(error);
    };
    const refused = (read: ResponseRead): void => {
      if (read.kind === 'refused')
        fail(new HandshakeStatusError(read.head.status, read.head.statusText, read.body, read.head.headers));
      else if (read.kind === 'error') fail(read.error);
    };
    const timer = setTimeout(() => {
      const partial = response.partial();
      if (partial) refused(partial);
      else fail(new HandshakeTimeoutError(`no answer to the WebSocket handshake within ${handshakeTimeout} ms`));
    }, handshakeTimeout);
    const onData = (chunk: Buffer): void => {
      const read = response.push(chunk);
      if (read.kind === 'more') {
        // The status is known: a body that does not come soon is not waited for (the status says enough).
        if (bodyTimer === null && response.partial())
          bodyTimer = setTimeout(() => refused(response.partial()!), Math.min(REFUSAL_BODY_WAIT, handshakeTimeout));
        return;
      }
      if (read.kind !== 'upgraded') return refused(read);
      const ok = validateResponse(read.head, key, protocols, deflateOptions);
      if (ok instanceof Error) return fail(ok);
      settled = true;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', fail);
      socket.off('end', onEnd);
      socket.on('error', () => {});
      // Frames that came with the 101 wait until the caller has had a chance to call readLoop.
      socket.pause();
      resolve({ socket, protocol: ok.protocol, rest: read.rest, deflate: ok.deflate });
    };
    const onEnd = (): void => refused(response.end());
    socket.on('data', onData);
    socket.on('error', fail);
    socket.on('end', onEnd);
    socket.write(request, 'latin1');
  });
}
