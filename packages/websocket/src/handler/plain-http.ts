import { headerValue, httpResponse, type RequestHead } from '../protocol/handshake.js';
import { HandshakeError } from '../protocol/errors.js';
import type { Logger } from '../logging/log.js';

/** A plain HTTP request (no `Upgrade`) that reached the server's own listener; see {@link PlainHttpHandler}. */
export interface HttpRequest {
  /** The method: 'GET', 'HEAD' (answer HEAD as GET: the body is left out for you), 'POST', ... */
  readonly method: string;
  /** The request target, e.g. `/health?full=1`. */
  readonly url: string;
  /** The target's path, e.g. `/health`. */
  readonly path: string;
  /** The target's query parameters. */
  readonly query: URLSearchParams;
  /**
   * Header fields, names lower-cased (repeated fields joined with ', '), in an object without a
   * prototype: a header named `constructor` or `__proto__` is just a header.
   */
  readonly headers: Readonly<Record<string, string>>;
  /** HTTP version, `1.1` or `1.0`. */
  readonly version: string;
  /**
   * The request's body, read whole before the handler runs (empty without one): at most `handshake.maxBodySize`
   * bytes, sent with a Content-Length (a larger one is answered 413, a chunked one 411, without calling you).
   */
  readonly body: Buffer;
}

/**
 * The answer to a plain HTTP request: status (an integer 100-599, default 200), headers, body. The connection closes
 * after it.
 */
export interface HttpReply {
  status?: number;
  /** Response headers; `Content-Type` defaults to text/plain for a string body, application/octet-stream otherwise. */
  headers?: Record<string, string>;
  body?: string | Uint8Array;
}

/**
 * `static httpRequest(request, app, server)` on a handler class answers plain HTTP requests that reach the server's
 * own listener (`listen`), such as the page of a chat, a load balancer's health check, a metrics scrape or an admin
 * POST, on the same port as the WebSocket endpoint (as Bun's `fetch(request, server)`). It runs on the main thread,
 * where `server` (the `Server` itself: `metrics()`, `connections()`, `close(id)`, ...) is; with I/O threads the
 * request crosses to it. Return a reply (or a promise of one, within `handshake.timeout`), or nothing for the
 * default: 426 for a GET or HEAD (this is a WebSocket endpoint), 405 for other methods.
 */
export type PlainHttpHandler = (
  request: HttpRequest,
  app: unknown,
  server: unknown,
) => HttpReply | null | undefined | void | Promise<HttpReply | null | undefined | void>;

/** The handler class's `static httpRequest`, or null. */
export function plainHttpOf(HandlerClass: unknown): PlainHttpHandler | null {
  const f = (HandlerClass as { httpRequest?: unknown }).httpRequest;
  return typeof f === 'function' ? (f.bind(HandlerClass) as PlainHttpHandler) : null;
}

const TEXT = 'text/plain; charset=utf-8';

/**
 * The length of a plain request's body from its Content-Length (0 without one), or the refusal: 411 for a chunked
 * body (only bodies with a length are read), 400 for an invalid length, 413 past `max`.
 */
export function bodyLength(head: RequestHead, max: number): number | HandshakeError {
  if (headerValue(head.headers, 'transfer-encoding') !== undefined) {
    return new HandshakeError(411, 'send the body with a Content-Length (chunked bodies are not read here)');
  }
  const lengths = head.headers.filter(([n]) => n === 'content-length').map(([, v]) => v.trim());
  if (lengths.length === 0) return 0;
  if (!lengths.every((v) => /^[0-9]{1,15}$/.test(v) && v === lengths[0]))
    return new HandshakeError(400, 'invalid Content-Length');
  const length = Number(lengths[0]);
  if (length > max) return new HandshakeError(413, `request body larger than ${max} bytes (handshake.maxBodySize)`);
  return length;
}

/** What answering a plain request needs from the server that read it. */
export interface PlainHost {
  readonly app: unknown;
  /** The Server facade, the handler's third argument. */
  readonly facade: unknown;
  readonly config: { readonly handshake: { readonly timeout: number } };
}

/**
 * Runs `handler` for `head` and its `body`: the response bytes, or null for the default refusal, at once or (for an
 * async handler) as a promise that settles within handshake.timeout. A handler that throws, rejects, takes too
 * long or gives a reply that cannot be written (a status that is not an integer 100-599) gets a 500, logged at
 * error with what to fix.
 */
export function answerPlain(
  handler: PlainHttpHandler,
  head: RequestHead,
  body: Buffer,
  server: PlainHost,
  log: Logger,
): Buffer | null | Promise<Buffer | null> {
  const timeout = server.config.handshake.timeout;
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [name, value] of head.headers) headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  const q = head.target.indexOf('?');
  const request: HttpRequest = {
    method: head.method,
    url: head.target,
    path: q < 0 ? head.target : head.target.slice(0, q),
    query: new URLSearchParams(q < 0 ? '' : head.target.slice(q + 1)),
    headers,
    version: head.version,
    body,
  };
  const omitBody = head.method === 'HEAD';
  const what = `${head.method} ${head.target.slice(0, 200)}`;
  const reply = callPlain(handler, request, server.app, server.facade, timeout, log);
  return isPromise(reply) ? reply.then((r) => response(r, what, omitBody, log)) : response(reply, what, omitBody, log);
}

type Reply = HttpReply | null | undefined | void;

/** The reply a handler that failed gets. */
export const PLAIN_FAILURE: HttpReply = { status: 500, body: 'internal server error\n' };

/**
 * Calls `handler`: its reply, at once or as a promise that settles within `timeout` ms; {@link PLAIN_FAILURE}
 * (logged at error) when it throws, rejects or takes longer. Used where the request is read and, with I/O threads,
 * on the main thread that answers for them.
 */
export function callPlain(
  handler: PlainHttpHandler,
  request: HttpRequest,
  app: unknown,
  facade: unknown,
  timeout: number,
  log: Logger,
): Reply | Promise<Reply> {
  const what = `${request.method} ${request.url.slice(0, 200)}`;
  let reply: ReturnType<PlainHttpHandler>;
  try {
    reply = handler(request, app, facade);
  } catch (error) {
    log.error(`static httpRequest threw for ${what}; answering 500`, error);
    return PLAIN_FAILURE;
  }
  if (!isPromise(reply)) return reply;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<HttpReply>((resolve) => {
    timer = setTimeout(() => {
      log.error(`static httpRequest did not answer ${what} within ${timeout} ms (handshake.timeout); answering 500`);
      resolve(PLAIN_FAILURE);
    }, timeout);
  });
  const answered = reply.then(
    (r) => r,
    (error: unknown) => {
      log.error(`static httpRequest rejected for ${what}; answering 500`, error);
      return PLAIN_FAILURE;
    },
  );
  return Promise.race([answered, late]).finally(() => clearTimeout(timer));
}

function isPromise(value: unknown): value is Promise<HttpReply | null | undefined | void> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

function failure(omitBody: boolean): Buffer {
  return httpResponse(500, { 'Content-Type': TEXT }, Buffer.from('internal server error\n'), omitBody);
}

/** The bytes of a reply, or a 500 (logged) for one that cannot be written. */
function response(
  reply: HttpReply | null | undefined | void,
  what: string,
  omitBody: boolean,
  log: Logger,
): Buffer | null {
  if (reply === null || reply === undefined) return null;
  if (typeof reply !== 'object') {
    log.error(
      `static httpRequest returned ${typeof reply} for ${what}: return { status, headers, body } or nothing; answering 500`,
    );
    return failure(omitBody);
  }
  const status = reply.status ?? 200;
  if (!Number.isInteger(status) || (status as number) < 100 || (status as number) > 599) {
    log.error(
      `static httpRequest returned status ${JSON.stringify(status)} for ${what}: a status is an integer from 100 to 599; answering 500`,
    );
    return failure(omitBody);
  }
  const body = typeof reply.body === 'string' ? Buffer.from(reply.body, 'utf8') : (reply.body ?? new Uint8Array(0));
  const type = typeof reply.body === 'string' ? TEXT : 'application/octet-stream';
  const given = reply.headers ?? {};
  const hasType = Object.keys(given).some((n) => n.toLowerCase() === 'content-type');
  return httpResponse(status, hasType ? given : { 'Content-Type': type, ...given }, body, omitBody);
}
