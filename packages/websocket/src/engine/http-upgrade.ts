import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { HandshakeError } from '../protocol/errors.js';
import { attachStreamRoute, detachStreamRoute, isHttp2Server, streamRouteTaken, type StreamTaker } from './h2-route.js';
import {
  errorResponse,
  requestHead,
  resourceName,
  validateUpgrade,
  type UpgradeRequest,
} from '../protocol/handshake.js';

/**
 * The upgrade request an http server parsed, checked by the same rules as one our listener reads
 * (RFC 6455 4.2.1, and the target reduced to its resource name), or the refusal.
 */
export function upgradeFromIncoming(req: IncomingMessage): UpgradeRequest | HandshakeError {
  const raw = req.rawHeaders;
  const fields: Array<[string, string]> = [];
  for (let i = 0; i + 1 < raw.length; i += 2) fields.push([raw[i]!, raw[i + 1]!]);
  const head = requestHead(req.method ?? '', req.httpVersionMajor, req.httpVersionMinor, req.url ?? '', fields);
  return head instanceof HandshakeError ? head : validateUpgrade(head);
}

/** What an attached server does with an upgrade for its path (or, on an http2 server, a CONNECT stream). */
export interface UpgradeTaker extends StreamTaker {
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
}

/** Per http server: the wsz servers attached to it, by path, and its one 'upgrade' listener. */
const routes = new WeakMap<HttpServer, Map<string, UpgradeTaker>>();
const listeners = new WeakMap<HttpServer, (req: IncomingMessage, socket: Duplex, head: Buffer) => void>();

function pathOf(url: string | undefined): string {
  const target = resourceName(url ?? '') ?? '';
  const q = target.indexOf('?');
  return q < 0 ? target : target.slice(0, q);
}

/**
 * Routes `httpServer`'s upgrade requests for `path` to `taker`. One listener serves every wsz server
 * attached to it. An upgrade for a path nobody attached is refused with 404, unless the app has
 * 'upgrade' listeners of its own (then it is theirs).
 */
export function attachRoute(httpServer: HttpServer, path: string, taker: UpgradeTaker): void {
  // An http2 server: its extended CONNECT streams (RFC 8441), and with allowHTTP1 its HTTP/1.1 upgrades too.
  if (isHttp2Server(httpServer)) attachStreamRoute(httpServer, path, taker);
  let table = routes.get(httpServer);
  if (!table) {
    const created = new Map<string, UpgradeTaker>();
    table = created;
    routes.set(httpServer, created);
    const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
      const found = created.get(pathOf(req.url));
      if (found) return found.handleUpgrade(req, socket, head);
      if (httpServer.listeners('upgrade').length > 1) return; // the app's own listeners take it
      socket.on('error', () => {});
      socket.end(errorResponse(404, `no WebSocket endpoint at ${pathOf(req.url) || req.url}`));
    };
    httpServer.on('upgrade', onUpgrade);
    listeners.set(httpServer, onUpgrade);
  }
  if (table.has(path))
    throw new Error(`server.attach(): a wsz server is already attached at ${path} on this HTTP server`);
  table.set(path, taker);
}

/** Whether a wsz server is attached at `path` on `httpServer` already. */
export function routeTaken(httpServer: HttpServer, path: string): boolean {
  if (isHttp2Server(httpServer) && streamRouteTaken(httpServer, path)) return true;
  return routes.get(httpServer)?.has(path) ?? false;
}

/** Stops routing `path` to its taker (the listener goes when no path is left). */
export function detachRoute(httpServer: HttpServer, path: string): void {
  if (isHttp2Server(httpServer)) detachStreamRoute(httpServer, path);
  const table = routes.get(httpServer);
  if (!table) return;
  table.delete(path);
  if (table.size === 0) {
    httpServer.off('upgrade', listeners.get(httpServer)!);
    listeners.delete(httpServer);
    routes.delete(httpServer);
  }
}
