import { createHash } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import { HandshakeError } from './errors.js';

/** RFC 6455 1.3: the GUID appended to the client's key before hashing. */
const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** A parsed HTTP request head: the request line and the header fields in order. */
export interface RequestHead {
  method: string;
  /** The raw request target, e.g. `/chat?room=1`. */
  target: string;
  /** HTTP version as `major.minor`. */
  version: string;
  /** Header fields in order, names lower-cased, values with surrounding white space removed. */
  headers: Array<[name: string, value: string]>;
}

/** What an upgrade request asked for, once it is known to be valid. */
export interface UpgradeRequest extends RequestHead {
  key: string;
  /** Subprotocols offered in Sec-WebSocket-Protocol, in order of preference. */
  protocols: string[];
  /** The raw Sec-WebSocket-Extensions offers (all occurrences joined), or ''. */
  extensions: string;
}

/** Index just past the blank line that ends a request head in `buf[0..length)`, or -1. */
export function findHeadEnd(buf: Buffer, from: number, length: number): number {
  const at = buf.subarray(0, length).indexOf('\r\n\r\n', Math.max(0, from - 3), 'latin1');
  return at < 0 ? -1 : at + 4;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const REQUEST_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([\x21-\x7e]+) HTTP\/(\d)\.(\d)$/;
const BASE64_16_BYTES = /^[A-Za-z0-9+/]{21}[AQgw]==$/;
/** RFC 9110 5.5: a field value holds no CR, LF or NUL; other controls and obs-text are refused too. */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
/** What we write in a header: visible ASCII, space and tab only (RFC 9110 5.5 without obs-text). */
const VISIBLE_VALUE = /^[\t\x20-\x7e]*$/;
/** RFC 9110 7.2: Host = uri-host [ ":" port ], uri-host a reg-name or an IP literal in brackets. */
const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~%!$&'()*+,;=]+)(?::\d{0,5})?$/;

/** Removes optional white space (RFC 9110 5.6.3: SP and HTAB only) from both ends. */
export function trimOws(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && (value.charCodeAt(start) === 0x20 || value.charCodeAt(start) === 0x09)) start++;
  while (end > start && (value.charCodeAt(end - 1) === 0x20 || value.charCodeAt(end - 1) === 0x09)) end--;
  return start === 0 && end === value.length ? value : value.slice(start, end);
}

/**
 * Reduces a request target to the resource name RFC 6455 4.2.1 speaks of (path and query):
 * origin-form is kept, absolute-form (`http://host/path?q`, RFC 9112 3.2.2) loses its scheme and
 * authority. Returns null for anything else: `*`, authority-form, relative targets, and a path
 * starting with `//` (which URL resolution would read as another host).
 */
export function resourceName(target: string): string | null {
  if (target.charCodeAt(0) === 0x2f) return target.charCodeAt(1) === 0x2f ? null : target;
  if (!/^(?:https?|wss?):\/\//i.test(target)) return null;
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return null;
  }
  const path = `${url.pathname || '/'}${url.search}`;
  return path.startsWith('//') ? null : path;
}

/** Parses a request head (without its final blank line) into method, target and headers. */
export function parseRequestHead(head: string): RequestHead | HandshakeError {
  const lines = head.split('\r\n');
  const m = REQUEST_LINE.exec(lines[0]!);
  if (!m) return new HandshakeError(400, 'malformed HTTP request line', {}, 'WSZ_ERR_MALFORMED_REQUEST');
  const fields: Array<[string, string]> = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') continue;
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon) : '';
    if (!TOKEN.test(name)) return new HandshakeError(400, 'malformed header line', {}, 'WSZ_ERR_MALFORMED_REQUEST');
    fields.push([name, line.slice(colon + 1)]);
  }
  return requestHead(m[1]!, Number(m[3]), Number(m[4]), m[2]!, fields);
}

/**
 * A request head from its parts, however they were read (our own reader, or node:http's parser):
 * the version is at least HTTP/1.0 (an upgrade needs 1.1: see validateUpgrade), the target is reduced to its resource
 * name, field
 * values hold no CR, LF, NUL or other control (RFC 9110 5.5) and lose only SP and HTAB around them.
 */
export function requestHead(
  method: string,
  major: number,
  minor: number,
  rawTarget: string,
  fields: Iterable<readonly [string, string]>,
): RequestHead | HandshakeError {
  // HTTP/1.0 may still be a plain GET or HEAD (a health check); validateUpgrade refuses it an upgrade.
  if (major < 1) return new HandshakeError(505, 'a WebSocket upgrade needs HTTP/1.1', {}, 'WSZ_ERR_HTTP_VERSION');
  const target = resourceName(rawTarget);
  if (target === null)
    return new HandshakeError(
      400,
      'invalid request target: expected a path such as /chat (or an absolute http:// URL)',
      {},
      'WSZ_ERR_INVALID_TARGET',
    );
  const headers: Array<[string, string]> = [];
  for (const [name, raw] of fields) {
    const value = trimOws(raw);
    if (!FIELD_VALUE.test(value))
      return new HandshakeError(
        400,
        `invalid character in header ${name}: CR, LF, NUL and other controls are not allowed`,
        {},
        'WSZ_ERR_INVALID_HEADER',
      );
    headers.push([name.toLowerCase(), value]);
  }
  return { method, target, version: `${major}.${minor}`, headers };
}

/** All values of header `name` (lower-case) joined with ", " as RFC 9110 5.3 allows, or undefined. */
export function headerValue(headers: ReadonlyArray<readonly [string, string]>, name: string): string | undefined {
  let value: string | undefined;
  for (const [n, v] of headers) {
    if (n === name) value = value === undefined ? v : `${value}, ${v}`;
  }
  return value;
}

/** Comma-separated tokens of a header value, trimmed, empty elements dropped. */
export function headerTokens(value: string | undefined): string[] {
  if (!value) return [];
  return value
    .split(',')
    .map(trimOws)
    .filter((t) => t !== '');
}

/**
 * A request without `Upgrade`: plain HTTP (a browser opening the page, a health check, an admin POST). The refusal is
 * 426 naming the protocol this endpoint speaks for a GET or HEAD, as ws answers, and 405 for other methods, unless
 * the handler class answers plain requests itself (`static httpRequest`).
 */
export class PlainRequest extends HandshakeError {
  /** The request, for a handler that answers plain HTTP. */
  readonly head: RequestHead;
  /** Bytes read after the head (the start of a body). */
  rest: Buffer[] = [];

  /** A GET or HEAD is answered 426 without a handler; any other method 405, as an upgrade must be a GET. */
  constructor(head: RequestHead) {
    if (head.method === 'GET' || head.method === 'HEAD')
      super(426, 'this is a WebSocket endpoint: send an upgrade request (Upgrade: websocket)', {
        Upgrade: 'websocket',
      });
    else
      super(
        405,
        `method ${head.method} not allowed: a WebSocket upgrade is a GET`,
        { Allow: 'GET, HEAD' },
        'WSZ_ERR_METHOD',
      );
    this.head = head;
  }
}

/**
 * Checks an opening handshake against RFC 6455 4.2.1. Returns the upgrade or the refusal:
 * 405 for an upgrade with a method other than GET, a {@link PlainRequest} for a request without
 * Upgrade (plain HTTP), 426 for a version other than 13, 505 for an upgrade over HTTP/1.0, 400 for
 * anything else.
 */
export function validateUpgrade(head: RequestHead): UpgradeRequest | HandshakeError {
  const h = head.headers;
  const upgrade = headerValue(h, 'upgrade');
  const http10 = head.version === '1.0';
  if (head.method !== 'GET' && upgrade !== undefined) {
    return new HandshakeError(
      405,
      `method ${head.method} not allowed: a WebSocket upgrade is a GET`,
      { Allow: 'GET, HEAD' },
      'WSZ_ERR_METHOD',
    );
  }
  // RFC 9112 3.2: exactly one Host field, with a valid value (HTTP/1.0 may leave it out).
  const hosts = h.filter(([n]) => n === 'host');
  if (hosts.length === 0 && !http10) return new HandshakeError(400, 'missing Host header', {}, 'WSZ_ERR_HOST');
  if (hosts.length > 1) return new HandshakeError(400, 'more than one Host header', {}, 'WSZ_ERR_HOST');
  if (hosts.length === 1 && !HOST.test(hosts[0]![1]))
    return new HandshakeError(400, 'invalid Host header', {}, 'WSZ_ERR_HOST');
  if (upgrade === undefined) {
    // A plain HTTP request (a health check, a browser typing the URL): say what this endpoint speaks, as ws does.
    return new PlainRequest(head);
  }
  if (http10) return new HandshakeError(505, 'a WebSocket upgrade needs HTTP/1.1', {}, 'WSZ_ERR_HTTP_VERSION');
  if (!headerTokens(upgrade).some((t) => t.toLowerCase() === 'websocket')) {
    return new HandshakeError(400, "invalid Upgrade header: expected 'websocket'", {}, 'WSZ_ERR_UPGRADE_HEADER');
  }
  if (!headerTokens(headerValue(h, 'connection')).some((t) => t.toLowerCase() === 'upgrade')) {
    return new HandshakeError(
      400,
      "missing or invalid Connection header: expected 'Upgrade'",
      {},
      'WSZ_ERR_CONNECTION_HEADER',
    );
  }
  if (headerValue(h, 'sec-websocket-version') !== '13') {
    return new HandshakeError(
      426,
      'unsupported Sec-WebSocket-Version: this server speaks version 13',
      {
        'Sec-WebSocket-Version': '13',
      },
      'WSZ_ERR_VERSION',
    );
  }
  const key = headerValue(h, 'sec-websocket-key');
  if (key === undefined || !BASE64_16_BYTES.test(key)) {
    return new HandshakeError(
      400,
      'missing or invalid Sec-WebSocket-Key: expected 16 bytes in base64',
      {},
      'WSZ_ERR_KEY',
    );
  }
  const protocols = headerTokens(headerValue(h, 'sec-websocket-protocol'));
  if (!protocols.every((p) => TOKEN.test(p)) || new Set(protocols).size !== protocols.length) {
    return new HandshakeError(400, 'invalid Sec-WebSocket-Protocol header', {}, 'WSZ_ERR_PROTOCOL_HEADER');
  }
  return { ...head, key, protocols, extensions: headerValue(h, 'sec-websocket-extensions') ?? '' };
}

/** RFC 6455 4.2.2: the Sec-WebSocket-Accept value for a client's key. */
export function acceptKey(key: string): string {
  return createHash('sha1')
    .update(key + WEBSOCKET_GUID)
    .digest('base64');
}

/** True when `value` may stand in an HTTP header field (no CR, LF or NUL). */
export function headerValueIsSafe(value: string): boolean {
  return !/[\r\n\0]/.test(value);
}

/**
 * True when `value` may be written in a header we send: visible ASCII, space and tab only, so the
 * bytes written are the characters given (no latin1 or UTF-8 surprise) and no line can be injected.
 */
export function headerValueIsVisible(value: string): boolean {
  return VISIBLE_VALUE.test(value);
}

/** True when `name` is a valid HTTP header field name (an RFC 9110 token). */
export function headerNameIsValid(name: string): boolean {
  return TOKEN.test(name);
}

/** The first header that may not be written (invalid name, or a value that is not visible ASCII), or undefined. */
export function invalidHeader(headers: Iterable<readonly [string, string]>): string | undefined {
  for (const [name, value] of headers) {
    if (typeof name !== 'string' || !TOKEN.test(name) || typeof value !== 'string' || !VISIBLE_VALUE.test(value))
      return String(name);
  }
  return undefined;
}

function headerLines(headers: Iterable<readonly [string, string]>): string {
  let out = '';
  for (const [name, value] of headers) out += `${name}: ${value}\r\n`;
  return out;
}

/** The 101 Switching Protocols response that completes a handshake. */
export function switchingProtocolsResponse(
  key: string,
  protocol?: string,
  headers: Iterable<readonly [string, string]> = [],
): string {
  return (
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    `Sec-WebSocket-Accept: ${acceptKey(key)}\r\n` +
    (protocol ? `Sec-WebSocket-Protocol: ${protocol}\r\n` : '') +
    headerLines(headers) +
    '\r\n'
  );
}

/**
 * A complete HTTP error response whose plain-text body is the reason (UTF-8, Content-Length in
 * bytes); the connection then closes. Headers that may not be written (see {@link invalidHeader})
 * are left out: check them first to report them.
 */
export function errorResponse(
  status: number,
  reason: string,
  headers: Record<string, string> = {},
  omitBody = false,
): Buffer {
  return httpResponse(
    status,
    { 'Content-Type': 'text/plain; charset=utf-8', ...headers },
    Buffer.from(`${reason}\n`, 'utf8'),
    omitBody,
  );
}

/**
 * A complete HTTP/1.1 response that closes the connection: `headers` (a Content-Type among them)
 * with Content-Length added; header fields that are not visible ASCII are left out. `status` must be
 * an integer from 100 to 599 (callers check what users give them).
 */
export function httpResponse(
  status: number,
  headers: Record<string, string>,
  body: Uint8Array,
  omitBody = false,
): Buffer {
  const fields = Object.entries(headers).filter(
    ([n, v]) => invalidHeader([[n, v]]) === undefined && !/^(content-length|connection|transfer-encoding)$/i.test(n),
  );
  const type = fields.filter(([n]) => n.toLowerCase() === 'content-type');
  const rest = fields.filter(([n]) => n.toLowerCase() !== 'content-type');
  const head =
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Status'}\r\nConnection: close\r\n` +
    `${headerLines(type)}Content-Length: ${body.length}\r\n${headerLines(rest)}\r\n`;
  // A HEAD response has the headers a GET would have, Content-Length included, and no body (RFC 9110 9.3.2).
  return omitBody ? Buffer.from(head, 'latin1') : Buffer.concat([Buffer.from(head, 'latin1'), body]);
}
