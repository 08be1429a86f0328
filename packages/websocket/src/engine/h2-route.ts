/**
 * `server.attach()` on a node:http2 server (RFC 8441): the http2 server announces SETTINGS_ENABLE_CONNECT_PROTOCOL,
 * and its extended CONNECT streams with `:protocol websocket` go, by path, to the wsz servers attached to it. Other
 * streams and requests stay the app's; with `allowHTTP1`, HTTP/1.1 upgrades on the same port take the usual route.
 */
import type {
  Http2SecureServer,
  Http2Server,
  Http2ServerRequest,
  IncomingHttpHeaders,
  ServerHttp2Stream,
} from 'node:http2';
import { errorResponse, resourceName } from '../protocol/handshake.js';
import { h2Response, isWebSocketConnect, refuse } from './h2-connect.js';

/** An http2 server of node:http2 (plain or TLS). */
export type AnyHttp2Server = Http2Server | Http2SecureServer;

/** What an attached server does with an extended CONNECT stream for its path. */
export interface StreamTaker {
  handleStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void;
}

/** Whether `server` is an http2 server (they alone can change their settings). */
export function isHttp2Server(server: unknown): server is AnyHttp2Server {
  return typeof (server as Http2Server | null)?.updateSettings === 'function';
}

const TAKEN = Symbol('wsz.stream');
const routes = new WeakMap<AnyHttp2Server, Map<string, StreamTaker>>();
type Listener = (...args: any[]) => void; // eslint-disable-line @typescript-eslint/no-explicit-any
const listeners = new WeakMap<AnyHttp2Server, { stream: Listener; connect: Listener }>();

function pathOf(path: string | undefined): string {
  const target = resourceName(path ?? '') ?? '';
  const q = target.indexOf('?');
  return q < 0 ? target : target.slice(0, q);
}

/** Routes `server`'s WebSocket CONNECT streams for `path` to `taker` (one listener serves every path). */
export function attachStreamRoute(server: AnyHttp2Server, path: string, taker: StreamTaker): void {
  let table = routes.get(server);
  if (!table) {
    const created = new Map<string, StreamTaker>();
    table = created;
    routes.set(server, created);
    server.updateSettings({ enableConnectProtocol: true });
    // First among the 'stream' listeners: before Node's compatibility layer (a request handler) sees the stream.
    const onStream = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void => {
      if (!isWebSocketConnect(headers)) return;
      (stream as unknown as Record<symbol, boolean>)[TAKEN] = true;
      const found = created.get(pathOf(headers[':path']));
      if (found) return found.handleStream(stream, headers);
      const { headers: h, body } = h2Response(
        errorResponse(404, `no WebSocket endpoint at ${pathOf(headers[':path'])}`),
      );
      refuse(stream, h, body);
    };
    // With a request handler, Node answers a CONNECT nobody listens for with 405: the streams taken here are ours.
    const onConnect = (req: Http2ServerRequest): void => {
      if ((req.stream as unknown as Record<symbol, boolean>)[TAKEN] === true) return;
      if (server.listenerCount('connect') > 1) return; // the app's own listeners take it
      refuse(req.stream, { ':status': 405 });
    };
    server.prependListener('stream', onStream);
    server.on('connect', onConnect);
    listeners.set(server, { stream: onStream as Listener, connect: onConnect as Listener });
  }
  if (table.has(path))
    throw new Error(`server.attach(): a wsz server is already attached at ${path} on this HTTP server`);
  table.set(path, taker);
}

export function streamRouteTaken(server: AnyHttp2Server, path: string): boolean {
  return routes.get(server)?.has(path) ?? false;
}

/** Stops routing `path` (the listeners go when no path is left). */
export function detachStreamRoute(server: AnyHttp2Server, path: string): void {
  const table = routes.get(server);
  if (!table) return;
  table.delete(path);
  if (table.size > 0) return;
  const l = listeners.get(server)!;
  server.off('stream', l.stream);
  server.off('connect', l.connect);
  listeners.delete(server);
  routes.delete(server);
}
