import { acceptDeflateResponse, type DeflateAgreement, type DeflateOffer } from './permessage-deflate.js';
import { randomBytes } from 'node:crypto';
import { acceptKey, headerNameIsValid, headerTokens, headerValue, headerValueIsVisible, trimOws } from './handshake.js';

/** What a {@link ClientHandshakeError} is about, one code per subclass, stable across releases. */
export type ClientHandshakeErrorCode =
  | 'WSZ_ERR_HANDSHAKE_STATUS'
  | 'WSZ_ERR_HANDSHAKE_UPGRADE'
  | 'WSZ_ERR_HANDSHAKE_CONNECTION'
  | 'WSZ_ERR_HANDSHAKE_ACCEPT'
  | 'WSZ_ERR_HANDSHAKE_EXTENSION'
  | 'WSZ_ERR_HANDSHAKE_PROTOCOL'
  | 'WSZ_ERR_HANDSHAKE_TIMEOUT'
  | 'WSZ_ERR_HANDSHAKE_RESPONSE';

/** Base class of every way a server's answer to our upgrade request can be wrong. */
export class ClientHandshakeError extends Error {
  /** Which check failed, for programs; each subclass has its own. */
  readonly code: ClientHandshakeErrorCode = 'WSZ_ERR_HANDSHAKE_RESPONSE';
  /** `name` is the subclass's name, so logs say which check failed. */
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The server answered with a status other than 101 (its body is kept: it usually says why). */
export class HandshakeStatusError extends ClientHandshakeError {
  /** The HTTP status the server answered with (401, 403, 426, 503, ...). */
  readonly status: number;
  /** The response body, which usually says why. */
  readonly body: string;
  /** The response headers, names lower-cased. */
  readonly headers: ReadonlyArray<[string, string]>;
  override readonly code = 'WSZ_ERR_HANDSHAKE_STATUS';
  /** Made by the client from the server's answer. */
  constructor(status: number, statusText: string, body: string, headers: ReadonlyArray<[string, string]>) {
    super(`server refused the upgrade: ${status} ${statusText}${body ? `: ${body.trim()}` : ''}`);
    this.status = status;
    this.body = body;
    this.headers = headers;
  }
}
/** The 101 lacked `Upgrade: websocket`. */
export class HandshakeUpgradeError extends ClientHandshakeError {
  override readonly code = 'WSZ_ERR_HANDSHAKE_UPGRADE';
}
/** The 101 lacked `Connection: Upgrade`. */
export class HandshakeConnectionError extends ClientHandshakeError {
  override readonly code = 'WSZ_ERR_HANDSHAKE_CONNECTION';
}
/** Sec-WebSocket-Accept was missing or not the hash of our key. */
export class HandshakeAcceptError extends ClientHandshakeError {
  override readonly code = 'WSZ_ERR_HANDSHAKE_ACCEPT';
}
/** The server chose an extension we did not offer. */
export class HandshakeExtensionError extends ClientHandshakeError {
  override readonly code = 'WSZ_ERR_HANDSHAKE_EXTENSION';
}
/** The server chose a subprotocol we did not offer. */
export class HandshakeProtocolError extends ClientHandshakeError {
  override readonly code = 'WSZ_ERR_HANDSHAKE_PROTOCOL';
}
/** No complete answer within the handshake timeout. */
export class HandshakeTimeoutError extends ClientHandshakeError {
  override readonly code = 'WSZ_ERR_HANDSHAKE_TIMEOUT';
}
/** The answer was not HTTP, or was too large. */
export class HandshakeResponseError extends ClientHandshakeError {
  override readonly code = 'WSZ_ERR_HANDSHAKE_RESPONSE';
}

/** A fresh Sec-WebSocket-Key: 16 random bytes in base64 (RFC 6455 4.1). */
export function generateKey(): string {
  return randomBytes(16).toString('base64');
}

/** What goes into a client's upgrade request. */
export interface ClientRequestOptions {
  /** Request target: path and query, e.g. `/chat?room=1`. */
  target: string;
  /** Host header value (host, plus `:port` when not the scheme's default). */
  host: string;
  key: string;
  protocols?: readonly string[];
  headers?: Iterable<readonly [string, string]>;
  /** The Sec-WebSocket-Extensions offer, written by the client itself (permessage-deflate). */
  extensions?: string;
}

/** Headers the client writes itself: given in `headers` they would be sent twice. Host may be overridden. */
const RESERVED_REQUEST_HEADERS = new Set([
  'upgrade',
  'connection',
  'sec-websocket-key',
  'sec-websocket-version',
  'sec-websocket-extensions',
  'sec-websocket-protocol',
]);

/**
 * The upgrade request (RFC 6455 4.1). Only visible ASCII, space and tab reach the request: a
 * subprotocol that is not a token, a header name that is not a token, a value with any other
 * character (CR, LF, NUL, or anything above U+007E), or a header the client writes itself
 * (Upgrade, Connection, Sec-WebSocket-*) is a TypeError. `Host` in `headers` replaces the default.
 */
export function clientRequest(o: ClientRequestOptions): string {
  let host = o.host;
  let extra = '';
  for (const [name, value] of o.headers ?? []) {
    if (typeof name !== 'string' || !headerNameIsValid(name))
      throw new TypeError(
        `invalid request header name ${JSON.stringify(name)}: use an HTTP token (letters, digits, !#$%&'*+-.^_\`|~)`,
      );
    if (typeof value !== 'string' || !headerValueIsVisible(value)) {
      throw new TypeError(
        `invalid value for request header '${name}': only visible ASCII, space and tab are allowed (encode other text, e.g. with encodeURIComponent)`,
      );
    }
    const lower = name.toLowerCase();
    if (RESERVED_REQUEST_HEADERS.has(lower)) {
      throw new TypeError(
        `request header '${name}' is written by the client itself: ${lower === 'sec-websocket-protocol' ? 'pass subprotocols in the `protocols` option' : 'remove it from `headers`'}`,
      );
    }
    if (lower === 'host') host = value;
    else extra += `${name}: ${value}\r\n`;
  }
  for (const p of o.protocols ?? []) {
    if (typeof p !== 'string' || !headerNameIsValid(p))
      throw new TypeError(`invalid subprotocol ${JSON.stringify(p)}: a subprotocol is an HTTP token (RFC 6455 4.1)`);
  }
  if (new Set(o.protocols).size !== (o.protocols?.length ?? 0))
    throw new TypeError('subprotocols must be unique (RFC 6455 4.1)');
  if (!headerValueIsVisible(o.target) || /[ \t]/.test(o.target))
    throw new TypeError(`invalid request target ${JSON.stringify(o.target)}`);
  let out = `GET ${o.target} HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${o.key}\r\nSec-WebSocket-Version: 13\r\n`;
  if (o.protocols && o.protocols.length > 0) out += `Sec-WebSocket-Protocol: ${o.protocols.join(', ')}\r\n`;
  if (o.extensions) out += `Sec-WebSocket-Extensions: ${o.extensions}\r\n`;
  return `${out}${extra}\r\n`;
}

/** A parsed response head. */
export interface ResponseHead {
  status: number;
  statusText: string;
  headers: Array<[string, string]>;
}

/** Parses `HTTP/1.1 101 Switching Protocols` and its header lines. */
export function parseResponseHead(head: string): ResponseHead | HandshakeResponseError {
  const lines = head.split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(lines[0]!);
  if (!m)
    return new HandshakeResponseError(`server did not answer with HTTP: ${JSON.stringify(lines[0]!.slice(0, 60))}`);
  const headers: Array<[string, string]> = [];
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0)
      return new HandshakeResponseError(
        `malformed header line in the server's answer: ${JSON.stringify(line.slice(0, 60))}`,
      );
    headers.push([trimOws(line.slice(0, colon)).toLowerCase(), trimOws(line.slice(colon + 1))]);
  }
  return { status: Number(m[1]), statusText: m[2] ?? '', headers };
}

/**
 * Checks a 101 against RFC 6455 4.1 (the client's side): Upgrade, Connection, the accept hash,
 * and that any extension or subprotocol chosen was offered. Returns the subprotocol, or the error.
 */
export function validateResponse(
  res: ResponseHead,
  key: string,
  offered: readonly string[],
  deflate: DeflateOffer | null = null,
): { protocol: string | undefined; deflate: DeflateAgreement | null } | ClientHandshakeError {
  const h = res.headers;
  if (!headerTokens(headerValue(h, 'upgrade')).some((t) => t.toLowerCase() === 'websocket')) {
    return new HandshakeUpgradeError("server's 101 lacks 'Upgrade: websocket'");
  }
  if (!headerTokens(headerValue(h, 'connection')).some((t) => t.toLowerCase() === 'upgrade')) {
    return new HandshakeConnectionError("server's 101 lacks 'Connection: Upgrade'");
  }
  const accept = headerValue(h, 'sec-websocket-accept');
  if (accept !== acceptKey(key)) {
    return new HandshakeAcceptError(
      accept === undefined
        ? "server's 101 lacks Sec-WebSocket-Accept"
        : `Sec-WebSocket-Accept ${accept} is not the hash of our key`,
    );
  }
  const extensions = headerValue(h, 'sec-websocket-extensions');
  let agreement: DeflateAgreement | null = null;
  if (extensions !== undefined && extensions !== '') {
    if (deflate === null)
      return new HandshakeExtensionError(`server chose extension(s) '${extensions}' that were not offered`);
    const answer = acceptDeflateResponse(extensions, deflate);
    if (typeof answer === 'string') return new HandshakeExtensionError(answer);
    agreement = answer;
  }
  const protocol = headerValue(h, 'sec-websocket-protocol');
  if (protocol !== undefined && !offered.includes(protocol)) {
    return new HandshakeProtocolError(
      `server chose subprotocol '${protocol}', which was not offered${offered.length ? ` (offered: ${offered.join(', ')})` : ''}`,
    );
  }
  return { protocol, deflate: agreement };
}
