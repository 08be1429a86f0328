import { Handler, type HttpReply, type HttpRequest } from 'wsz';

/** Echoes messages, and answers plain HTTP GETs (test/deployment/plain-http). */
export class WithPage extends Handler<{ name: string }> {
  static module = import.meta.url;

  static httpRequest(request: HttpRequest, app: { name: string }): HttpReply | undefined {
    if (request.path === '/health') return { body: `ok ${app.name} ${request.query.get('v') ?? ''}` };
    if (request.path === '/page') return { headers: { 'Content-Type': 'text/html; charset=utf-8', 'X-Agent': request.headers['user-agent'] ?? '' }, body: '<p>hi</p>' };
    if (request.path === '/bytes') return { status: 202, body: new Uint8Array([1, 2, 3]) };
    if (request.path === '/boom') throw new Error('boom');
    return undefined; // the default: 426, this is a WebSocket endpoint
  }

  clientMessage(data: Buffer): void {
    this.conn.write(data);
  }
}
