import { httpResponse, type RequestHead } from '../protocol/handshake.js';
import type { Logger } from './log.js';

/** A plain HTTP GET (no `Upgrade`) that reached the server's own listener; see {@link PlainHttpHandler}. */
export interface HttpRequest {
  /** The request target, e.g. `/health?full=1`. */
  readonly url: string;
  /** The target's path, e.g. `/health`. */
  readonly path: string;
  /** The target's query parameters. */
  readonly query: URLSearchParams;
  /** Header fields, names lower-cased (repeated fields joined with ', '). */
  readonly headers: Readonly<Record<string, string>>;
}

/** The answer to a plain HTTP request: status (default 200), headers, body. The connection closes after it. */
export interface HttpReply {
  status?: number;
  /** Response headers; `Content-Type` defaults to text/plain for a string body, application/octet-stream otherwise. */
  headers?: Record<string, string>;
  body?: string | Uint8Array;
}

/**
 * `static httpRequest(request, app)` on a handler class answers plain HTTP GETs that reach the
 * server's own listener (`listen`), such as the page of a chat or a load balancer's health check,
 * on the same port as the WebSocket endpoint. It runs on the thread that owns the socket (the main
 * thread, or an I/O thread with `workerCount`), synchronously: return a reply, or nothing for the
 * default 426 (this is a WebSocket endpoint). Requests with a body are not read: GET only.
 */
export type PlainHttpHandler = (request: HttpRequest, app: unknown) => HttpReply | null | undefined | void;

/** The handler class's `static httpRequest`, or null. */
export function plainHttpOf(HandlerClass: unknown): PlainHttpHandler | null {
  const f = (HandlerClass as { httpRequest?: unknown }).httpRequest;
  return typeof f === 'function' ? (f.bind(HandlerClass) as PlainHttpHandler) : null;
}

/** Runs `handler` for `head`: the response bytes, or null for the default refusal. A handler that throws gets a 500, logged. */
export function answerPlain(handler: PlainHttpHandler, head: RequestHead, app: unknown, log: Logger): Buffer | null {
  const headers: Record<string, string> = {};
  for (const [name, value] of head.headers) headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  const q = head.target.indexOf('?');
  const request: HttpRequest = {
    url: head.target,
    path: q < 0 ? head.target : head.target.slice(0, q),
    query: new URLSearchParams(q < 0 ? '' : head.target.slice(q + 1)),
    headers,
  };
  let reply: HttpReply | null | undefined | void;
  try {
    reply = handler(request, app);
  } catch (error) {
    log.error(`static httpRequest threw for GET ${head.target.slice(0, 200)}; answering 500`, error);
    return httpResponse(500, { 'Content-Type': 'text/plain; charset=utf-8' }, Buffer.from('internal server error\n'));
  }
  if (reply === null || reply === undefined) return null;
  const body = typeof reply.body === 'string' ? Buffer.from(reply.body, 'utf8') : (reply.body ?? new Uint8Array(0));
  const type = typeof reply.body === 'string' ? 'text/plain; charset=utf-8' : 'application/octet-stream';
  const given = reply.headers ?? {};
  const hasType = Object.keys(given).some((n) => n.toLowerCase() === 'content-type');
  return httpResponse(reply.status ?? 200, hasType ? given : { 'Content-Type': type, ...given }, body);
}
