/**
 * Stable error codes (issue 21): every ProtocolError, HandshakeError, client handshake error and
 * config error carries a machine-readable `code`, so programs (and these tests) match codes rather
 * than message text. The protocol violations' codes are in receive.test.ts, beside their close codes.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, HandshakeError, ProtocolError, resolveConfig, type ServerConfig } from 'wsz';
import { parseRequestHead, validateUpgrade, type HandshakeErrorCode } from 'wsz/protocol';
import { HandshakeAcceptError, HandshakeStatusError, HandshakeTimeoutError } from 'wsz/client';

const good = [
  'GET /chat HTTP/1.1',
  'Host: example.com',
  'Upgrade: websocket',
  'Connection: Upgrade',
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
  'Sec-WebSocket-Version: 13',
];
const replace = (name: string, line: string | null): string[] => {
  const rest = good.filter((l) => !l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
  return line === null ? rest : [...rest, line];
};

function refusal(lines: string[]): HandshakeError {
  const head = parseRequestHead(lines.join('\r\n'));
  const result = head instanceof HandshakeError ? head : validateUpgrade(head);
  expect(result).toBeInstanceOf(HandshakeError);
  return result as HandshakeError;
}

describe('handshake refusals carry a status and a code', () => {
  const cases: Array<[string, string[], number, HandshakeErrorCode]> = [
    ['a request line that is not HTTP', ['GET /chat', ...good.slice(1)], 400, 'WSZ_ERR_MALFORMED_REQUEST'],
    ['a header line without a colon', [...good, 'no colon here'], 400, 'WSZ_ERR_MALFORMED_REQUEST'],
    ['an upgrade over HTTP/1.0', ['GET /chat HTTP/1.0', ...good.slice(1)], 505, 'WSZ_ERR_HTTP_VERSION'],
    ['a POST upgrade', ['POST /chat HTTP/1.1', ...good.slice(1)], 405, 'WSZ_ERR_METHOD'],
    ['no Host', replace('host', null), 400, 'WSZ_ERR_HOST'],
    ['two Hosts', [...good, 'Host: other'], 400, 'WSZ_ERR_HOST'],
    ['Upgrade: h2c', replace('upgrade', 'Upgrade: h2c'), 400, 'WSZ_ERR_UPGRADE_HEADER'],
    ['Connection: close', replace('connection', 'Connection: close'), 400, 'WSZ_ERR_CONNECTION_HEADER'],
    ['version 8', replace('sec-websocket-version', 'Sec-WebSocket-Version: 8'), 426, 'WSZ_ERR_VERSION'],
    ['a short key', replace('sec-websocket-key', 'Sec-WebSocket-Key: c2hvcnQ='), 400, 'WSZ_ERR_KEY'],
    ['a malformed subprotocol list', [...good, 'Sec-WebSocket-Protocol: a b'], 400, 'WSZ_ERR_PROTOCOL_HEADER'],
  ];
  for (const [what, lines, status, code] of cases) {
    it(`${what} -> ${status} ${code}`, () => {
      const e = refusal(lines);
      expect(e.status).toBe(status);
      expect(e.code).toBe(code);
    });
  }

  it("a HandshakeError an application makes (init's refusal) is WSZ_ERR_REFUSED unless it says otherwise", () => {
    expect(new HandshakeError(401, 'who are you').code).toBe('WSZ_ERR_REFUSED');
    expect(new HandshakeError(503, 'busy', {}, 'WSZ_ERR_UNAVAILABLE').code).toBe('WSZ_ERR_UNAVAILABLE');
  });

  it('a ProtocolError made without a code is WSZ_ERR_PROTOCOL', () => {
    expect(new ProtocolError(1002, 'x').code).toBe('WSZ_ERR_PROTOCOL');
  });
});

describe('config errors carry a code (and stay TypeErrors)', () => {
  const fails = (config: unknown): ConfigError => {
    try {
      resolveConfig(config as ServerConfig);
    } catch (error) {
      expect(error).toBeInstanceOf(TypeError);
      expect(error).toBeInstanceOf(ConfigError);
      return error as ConfigError;
    }
    throw new Error('resolveConfig accepted it');
  };

  it('a value a known field does not take: WSZ_ERR_INVALID_CONFIG', () => {
    expect(fails({ maxConn: -1 }).code).toBe('WSZ_ERR_INVALID_CONFIG');
    expect(fails({ backpressurePolicy: 'ignore' }).code).toBe('WSZ_ERR_INVALID_CONFIG');
    expect(fails({ heartbeat: { interval: 'often' } }).code).toBe('WSZ_ERR_INVALID_CONFIG');
  });

  it('a field wsz does not know: WSZ_ERR_UNKNOWN_CONFIG', () => {
    expect(fails({ maxPayload: 1024 }).code).toBe('WSZ_ERR_UNKNOWN_CONFIG');
    expect(fails({ heartbeat: { every: 5 } }).code).toBe('WSZ_ERR_UNKNOWN_CONFIG');
  });
});

describe('client handshake errors carry the code of the check that failed', () => {
  it('one code per kind', () => {
    expect(new HandshakeStatusError(403, 'Forbidden', '', []).code).toBe('WSZ_ERR_HANDSHAKE_STATUS');
    expect(new HandshakeAcceptError('bad accept').code).toBe('WSZ_ERR_HANDSHAKE_ACCEPT');
    expect(new HandshakeTimeoutError('slow').code).toBe('WSZ_ERR_HANDSHAKE_TIMEOUT');
  });
});
