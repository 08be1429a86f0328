import { describe, expect, it } from 'vitest';
import {
  acceptKey,
  errorResponse,
  HandshakeError,
  parseRequestHead,
  switchingProtocolsResponse,
  validateUpgrade,
  type RequestHead,
} from 'wsz/protocol';

function head(lines: string[]): RequestHead | HandshakeError {
  return parseRequestHead(lines.join('\r\n'));
}
const good = [
  'GET /chat?room=1 HTTP/1.1',
  'Host: example.com',
  'Upgrade: websocket',
  'Connection: Upgrade',
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
  'Sec-WebSocket-Version: 13',
];
function upgrade(lines: string[]) {
  const h = head(lines);
  return h instanceof HandshakeError ? h : validateUpgrade(h);
}
function without(name: string) {
  return good.filter((l) => !l.toLowerCase().startsWith(name.toLowerCase()));
}

describe('opening handshake (RFC 6455 4.2)', () => {
  it('computes Sec-WebSocket-Accept as in RFC 6455 1.3', () => {
    expect(acceptKey('dGhlIHNhbXBsZSBub25jZQ==')).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });

  it('parses method, target, version and headers with names case-insensitive', () => {
    const h = head(['GET /a?b=c HTTP/1.1', 'HOST: x', 'X-Thing:  spaced  ']) as RequestHead;
    expect(h).toEqual({
      method: 'GET',
      target: '/a?b=c',
      version: '1.1',
      headers: [
        ['host', 'x'],
        ['x-thing', 'spaced'],
      ],
    });
  });

  it('accepts a valid upgrade with header names and tokens in any case', () => {
    const u = upgrade([
      'GET / HTTP/1.1',
      'host: h',
      'UPGRADE: WebSocket',
      'connection: keep-alive, Upgrade',
      'sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==',
      'SEC-WEBSOCKET-VERSION: 13',
    ]);
    expect(u).not.toBeInstanceOf(HandshakeError);
  });

  it('joins repeated headers, so a repeated Connection still finds Upgrade', () => {
    const u = upgrade([...without('connection'), 'Connection: keep-alive', 'Connection: Upgrade']);
    expect(u).not.toBeInstanceOf(HandshakeError);
  });

  it('collects offered subprotocols across repeated headers, in order', () => {
    const u = upgrade([...good, 'Sec-WebSocket-Protocol: chat, superchat', 'Sec-WebSocket-Protocol: v2']);
    expect((u as { protocols: string[] }).protocols).toEqual(['chat', 'superchat', 'v2']);
  });

  const refusals: Array<[string, string[], number]> = [
    ['a POST', ['POST / HTTP/1.1', ...good.slice(1)], 405],
    ['HTTP/1.0', ['GET / HTTP/1.0', ...good.slice(1)], 505],
    ['a malformed request line', ['GET /', ...good.slice(1)], 400],
    ['a malformed header line', [...good, 'no colon here'], 400],
    ['a missing Host', without('host'), 400],
    ['a missing Upgrade', without('upgrade'), 426],
    ['Upgrade: h2c', [...without('upgrade'), 'Upgrade: h2c'], 400],
    ['a missing Connection', without('connection'), 400],
    ['Connection: keep-alive only', [...without('connection'), 'Connection: keep-alive'], 400],
    ['a missing key', without('sec-websocket-key'), 400],
    ['a key that is not base64', [...without('sec-websocket-key'), 'Sec-WebSocket-Key: not base64 at all!!!!!!'], 400],
    ['a key of 15 bytes', [...without('sec-websocket-key'), 'Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAA'], 400],
    ['two keys', [...good, 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=='], 400],
    ['version 8', [...without('sec-websocket-version'), 'Sec-WebSocket-Version: 8'], 426],
    ['a missing version', without('sec-websocket-version'), 426],
    ['an invalid subprotocol token', [...good, 'Sec-WebSocket-Protocol: a b'], 400],
  ];
  for (const [what, lines, status] of refusals) {
    it(`refuses ${what} with ${status}`, () => {
      const u = upgrade(lines);
      expect(u).toBeInstanceOf(HandshakeError);
      expect((u as HandshakeError).status).toBe(status);
      expect((u as HandshakeError).message).not.toBe('');
    });
  }

  it('names the supported version on a 426', () => {
    const u = upgrade(without('sec-websocket-version')) as HandshakeError;
    expect(u.headers).toEqual({ 'Sec-WebSocket-Version': '13' });
    expect(errorResponse(u.status, u.message, u.headers).toString()).toContain('\r\nSec-WebSocket-Version: 13\r\n');
  });

  it('builds the 101 with accept, chosen subprotocol and extra headers', () => {
    const r = switchingProtocolsResponse('dGhlIHNhbXBsZSBub25jZQ==', 'chat', [['X-Id', '7']]);
    expect(r).toBe(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\nX-Id: 7\r\n\r\n',
    );
  });

  it('builds an error response whose body is the reason', () => {
    expect(errorResponse(400, 'bad key').toString('latin1')).toBe(
      'HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 8\r\n\r\nbad key\n',
    );
  });
});
