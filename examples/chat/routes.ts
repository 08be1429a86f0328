/**
 * The chat's plain HTTP routes, the same whichever server carries them (wsz's own listener through
 * `Chat.httpRequest`, or the app's node:http server): the page, a health check, Prometheus metrics, and the admin
 * route that kicks a user on every thread and every chat process sharing the Redis backplane.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { timingSafeEqual } from 'node:crypto';
import { METRICS_CONTENT_TYPE, type HttpReply, type HttpRequest, type ServerControl } from 'wsz';

let page: Buffer | null = null;
let module: Buffer | null = null;

/** What the routes need of the chat server: its metrics, its connections, and closing one. */
export type ChatServer = Pick<ServerControl, 'connections' | 'close'> & { metrics(): string };

/** The answer to a plain HTTP request (`ADMIN_TOKEN`: the admin route's token; none: no admin route). */
export async function route(request: HttpRequest, chat: ChatServer, adminToken?: string): Promise<HttpReply> {
  const { path, method } = request;
  if (path === '/admin/kick') return kick(request, chat, adminToken);
  if (method !== 'GET' && method !== 'HEAD')
    return { status: 405, headers: { Allow: 'GET, HEAD' }, body: 'GET only\n' };
  if (path === '/' || path === '/index.html') {
    page ??= readFileSync(new URL('./page.html', import.meta.url));
    return { headers: { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-cache' }, body: page };
  }
  // wsz's browser module (plain ESM): the page's socket that reconnects and resumes.
  if (path === '/wsz-reconnecting.js') {
    module ??= readFileSync(createRequire(import.meta.url).resolve('wsz/browser'));
    return { headers: { 'Content-Type': 'text/javascript; charset=utf-8', 'Cache-Control': 'no-cache' }, body: module };
  }
  if (path === '/health') return { body: 'ok\n' };
  // The chat's counters for Prometheus (see docs/operations.md).
  if (path === '/metrics') return { headers: { 'Content-Type': METRICS_CONTENT_TYPE }, body: chat.metrics() };
  return { status: 404, body: 'not found\n' };
}

/**
 * POST /admin/kick?user=NAME with `Authorization: Bearer $ADMIN_TOKEN`: closes every connection of that user with
 * 4001, wherever its hooks run and on every chat process on the backplane, and answers 200 with how many. Without
 * ADMIN_TOKEN the route does not exist (404); a wrong token gets 401.
 */
async function kick(request: HttpRequest, chat: ChatServer, token: string | undefined): Promise<HttpReply> {
  if (!token) return { status: 404, body: 'not found\n' };
  if (request.method !== 'POST') return { status: 405, headers: { Allow: 'POST' }, body: 'POST only\n' };
  const given = Buffer.from(request.headers.authorization ?? '');
  const expected = Buffer.from(`Bearer ${token}`);
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    return { status: 401, body: 'wrong token\n' };
  const user = request.query.get('user');
  if (!user) return { status: 400, body: 'say who: /admin/kick?user=NAME\n' };
  const sessions = await chat.connections((c) => new URL(c.url, 'http://x').searchParams.get('user') === user);
  let closed = 0;
  for (const c of sessions) if (chat.close(c.id, 4001, 'kicked by an admin')) closed++;
  return { body: `${closed}\n` };
}
