/**
 * `static httpRequest` with I/O threads: a plain HTTP request arrives on the I/O thread that owns its socket, and is
 * answered on the main thread, where the `Server` is (the handler's third argument: metrics, connections, control).
 * The I/O thread reads the request and its body, sends them over (one thread message), and writes the reply that
 * comes back; the main thread runs the handler, bounded by handshake.timeout, and always answers.
 */
import {
  callPlain,
  PLAIN_FAILURE,
  type HttpReply,
  type HttpRequest,
  type PlainHttpHandler,
} from '../handler/plain-http.js';
import type { Logger } from '../logging/log.js';

/** A plain request as it crosses to the main thread (its query is rebuilt there). */
export interface ForwardedRequest {
  method: string;
  url: string;
  path: string;
  headers: Record<string, string>;
  version: string;
  body: Uint8Array;
}

/** The I/O thread's side: a handler that sends each request to the main thread and waits for its reply. */
export class HttpForwarder {
  private readonly waiting = new Map<number, (reply: HttpReply | null) => void>();
  private next = 1;
  private readonly post: (ask: number, request: ForwardedRequest) => void;

  constructor(post: (ask: number, request: ForwardedRequest) => void) {
    this.post = post;
  }

  readonly handler: PlainHttpHandler = (request) =>
    new Promise<HttpReply | null>((resolve) => {
      const ask = this.next++;
      this.waiting.set(ask, resolve);
      const { method, url, path, version, body } = request;
      this.post(ask, { method, url, path, headers: { ...request.headers }, version, body });
    });

  /** The main thread's reply to request `ask`. */
  answered(ask: number, reply: HttpReply | null): void {
    const resolve = this.waiting.get(ask);
    this.waiting.delete(ask);
    resolve?.(reply);
  }
}

/**
 * The main thread's side: runs `handler` for a forwarded request (see callPlain: a 500, logged, when it throws,
 * rejects or takes longer than `timeout` ms).
 */
export async function answerForwarded(
  handler: PlainHttpHandler,
  forwarded: ForwardedRequest,
  app: unknown,
  server: unknown,
  timeout: number,
  log: Logger,
): Promise<HttpReply | null> {
  const q = forwarded.url.indexOf('?');
  const body = forwarded.body;
  const request: HttpRequest = {
    ...forwarded,
    headers: Object.assign(Object.create(null) as Record<string, string>, forwarded.headers),
    query: new URLSearchParams(q < 0 ? '' : forwarded.url.slice(q + 1)),
    body: Buffer.from(body.buffer, body.byteOffset, body.length),
  };
  return (await callPlain(handler, request, app, server, timeout, log)) ?? null;
}

/**
 * Answers a forwarded request with `handler` (null: the default refusal) and hands the reply to `send`; a reply
 * that cannot cross to the other thread (not a structured-clone value) is logged and replaced by a 500.
 */
export function replyForwarded(
  handler: PlainHttpHandler | null,
  request: ForwardedRequest,
  server: { app: unknown; facade: unknown; timeout: number; log: Logger },
  send: (reply: HttpReply | null) => void,
): void {
  const reply = handler
    ? answerForwarded(handler, request, server.app, server.facade, server.timeout, server.log)
    : Promise.resolve(null);
  void reply.then((r) => {
    try {
      send(r);
    } catch (error) {
      server.log.error(
        `static httpRequest's reply to ${request.method} ${request.url} cannot be sent; answering 500`,
        error,
      );
      send(PLAIN_FAILURE);
    }
  });
}
