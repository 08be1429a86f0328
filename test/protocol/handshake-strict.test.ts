import { describe, expect, it } from 'vitest';
import { errorResponse, HandshakeError, parseRequestHead, validateUpgrade, type UpgradeRequest } from 'wsz/protocol';
import { clientRequest } from '../../packages/websocket/src/protocol/client-handshake.js';

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
function request(target = '/', extra: string[] = [], host: string[] = ['Host: example.com']): string {
  return [
    `GET ${target} HTTP/1.1`,
    ...host,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${KEY}`,
    'Sec-WebSocket-Version: 13',
    ...extra,
  ].join('\r\n');
}
function upgrade(head: string): UpgradeRequest | HandshakeError {
  const parsed = parseRequestHead(head);
  return parsed instanceof HandshakeError ? parsed : validateUpgrade(parsed);
}
function status(head: string): number {
  const u = upgrade(head);
  return u instanceof HandshakeError ? u.status : 101;
}

describe('request header values (RFC 9110 5.5, 5.6.3)', () => {
  it('refuses a value holding a bare LF, a bare CR or a NUL with 400', () => {
    expect(status(request('/', ['X-Echo: a\nSet-Cookie: session=attacker']))).toBe(400);
    expect(status(request('/', ['X-Echo: a\rb']))).toBe(400);
    expect(status(request('/', ['X-Echo: a\0b']))).toBe(400);
  });

  it('trims only spaces and tabs around a value: NBSP, VT and FF stay and do not match', () => {
    expect(
      status(request('/', [], ['Host: example.com']).replace('Connection: Upgrade', 'Connection: \xa0Upgrade')),
    ).toBe(400);
    expect(status(request('/').replace('Connection: Upgrade', 'Connection: \x0bUpgrade'))).toBe(400);
    expect(status(request('/').replace('Connection: Upgrade', 'Connection: \t Upgrade \t'))).toBe(101);
  });
});

describe('Host (RFC 9112 3.2)', () => {
  it('refuses two Host fields with 400', () => {
    expect(status(request('/', [], ['Host: a.example', 'Host: b.example']))).toBe(400);
  });

  it('refuses an invalid Host value with 400', () => {
    expect(status(request('/', [], ['Host: a b']))).toBe(400);
    expect(status(request('/', [], ['Host: a/b']))).toBe(400);
    expect(status(request('/', [], ['Host: ']))).toBe(400);
  });

  it('accepts names, ports and IP literals', () => {
    expect(status(request('/', [], ['Host: example.com:8080']))).toBe(101);
    expect(status(request('/', [], ['Host: [::1]:9001']))).toBe(101);
    expect(status(request('/', [], ['Host: 127.0.0.1']))).toBe(101);
  });
});

describe('request target (RFC 6455 4.2.1, RFC 9112 3.2)', () => {
  it('reduces an absolute-form target to its resource name', () => {
    const u = upgrade(request('http://example.com/chat?room=1')) as UpgradeRequest;
    expect(u.target).toBe('/chat?room=1');
    expect((upgrade(request('ws://example.com')) as UpgradeRequest).target).toBe('/');
  });

  it('refuses *, authority-form, relative targets and paths starting with //', () => {
    for (const target of ['*', 'example.com:80', 'chat', '//evil.com/a/../b', 'ftp://example.com/x'])
      expect(status(request(target)), target).toBe(400);
  });

  it('refuses control characters and raw non-ASCII bytes (send them percent-encoded)', () => {
    expect(status(request('/a\x01b'))).toBe(400);
    expect(status(request(Buffer.from('/café', 'utf8').toString('latin1')))).toBe(400);
    expect((upgrade(request('/caf%C3%A9')) as UpgradeRequest).target).toBe('/caf%C3%A9');
  });
});

describe('refusal responses', () => {
  it('writes the body as UTF-8 with its length in bytes', () => {
    const r = errorResponse(403, 'accès refusé €');
    const body = Buffer.from('accès refusé €\n', 'utf8');
    expect(r.toString('latin1')).toContain(`Content-Length: ${body.length}\r\n`);
    expect(r.subarray(r.length - body.length).equals(body)).toBe(true);
  });

  it('leaves out headers whose value is not visible ASCII, so no line can be injected', () => {
    const r = errorResponse(401, 'no', {
      'X-Echo': 'a\nSet-Cookie: session=attacker',
      'X-Ok': 'fine',
      'X-Wide': 'v\u010d\u010aX-Evil: 1',
      'Bad Name': 'x',
    }).toString('latin1');
    expect(r).not.toMatch(/Set-Cookie|X-Evil|X-Echo|Bad Name/);
    expect(r).toContain('\r\nX-Ok: fine\r\n');
  });
});

describe('the client request (RFC 6455 4.1)', () => {
  const base = { target: '/', host: 'example.com', key: KEY };

  it('refuses subprotocols that are not tokens', () => {
    expect(() => clientRequest({ ...base, protocols: ['chat\r\nX-Evil: 1'] })).toThrow(TypeError);
    expect(() => clientRequest({ ...base, protocols: ['a b'] })).toThrow(/subprotocol/);
    expect(() => clientRequest({ ...base, protocols: ['chat', 'chat'] })).toThrow(/unique/);
  });

  it('refuses header values with characters other than visible ASCII, space and tab', () => {
    expect(() => clientRequest({ ...base, headers: [['X-A', 'v\u010d\u010aX-Evil: 1']] })).toThrow(TypeError);
    expect(() => clientRequest({ ...base, headers: [['X-A', 'caf\u00e9']] })).toThrow(/visible ASCII/);
    expect(() => clientRequest({ ...base, headers: [['X-A', 'a\nb']] })).toThrow(TypeError);
    expect(clientRequest({ ...base, headers: [['X-A', 'tab\there ok']] })).toContain('\r\nX-A: tab\there ok\r\n');
  });

  it('refuses the headers it writes itself, and lets Host be overridden', () => {
    for (const name of [
      'Upgrade',
      'connection',
      'Sec-WebSocket-Key',
      'Sec-WebSocket-Version',
      'Sec-WebSocket-Extensions',
      'Sec-WebSocket-Protocol',
    ]) {
      expect(() => clientRequest({ ...base, headers: [[name, 'x']] }), name).toThrow(/written by the client itself/);
    }
    const r = clientRequest({ ...base, headers: [['host', 'other.example']] });
    expect(r.match(/host:/gi)).toHaveLength(1);
    expect(r).toContain('\r\nHost: other.example\r\n');
  });
});
