import { Handler, type HttpReply, type HttpRequest, type Server } from 'wsz';

/** Echoes messages, and answers plain HTTP requests (test/deployment/plain-http). */
export class WithPage extends Handler<{ name: string }> {
  static module = import.meta.url;

  static httpRequest(
    request: HttpRequest,
    app: { name: string },
    server: Server<WithPage>,
  ): HttpReply | undefined | Promise<HttpReply | undefined> {
    if (request.path === '/post')
      return { body: `${request.method} ${request.body.length} ${request.body.toString()}` };
    if (request.path === '/server')
      return { body: `${typeof server.metrics} ${server.stats().upgraded} ${server.config.maxMessageSize}` };
    if (request.method !== 'GET' && request.method !== 'HEAD') return undefined; // the default: 405
    if (request.path === '/status') return { status: JSON.parse(request.query.get('s')!) as number, body: 'x' };
    if (request.path === '/inject')
      return { status: '200 OK\r\nSet-Cookie: session=stolen\r\nX-A:' as unknown as number, body: 'x' };
    if (request.path === '/async')
      return new Promise((resolve) =>
        setTimeout(() => resolve({ body: `later ${request.method} ${request.version}` }), 20),
      );
    if (request.path === '/async-boom') return Promise.reject(new Error('boom'));
    if (request.path === '/never') return new Promise(() => {});
    if (request.path === '/proto')
      return {
        body: JSON.stringify([
          request.headers['constructor'] ?? null,
          request.headers['__proto__'] ?? null,
          request.headers['tostring'] ?? null,
        ]),
      };
    if (request.path === '/health') return { body: `ok ${app.name} ${request.query.get('v') ?? ''}` };
    if (request.path === '/page')
      return {
        headers: { 'Content-Type': 'text/html; charset=utf-8', 'X-Agent': request.headers['user-agent'] ?? '' },
        body: '<p>hi</p>',
      };
    if (request.path === '/bytes') return { status: 202, body: new Uint8Array([1, 2, 3]) };
    if (request.path === '/boom') throw new Error('boom');
    return undefined; // the default: 426, this is a WebSocket endpoint
  }

  clientMessage(data: Buffer): void {
    this.conn.write(data);
  }
}
