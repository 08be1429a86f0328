import { HandshakeError } from '../protocol/errors.js';
import { headerNameIsValid, headerValueIsVisible, type UpgradeRequest } from '../protocol/handshake.js';

/** The request headers of a handshake: names are case-insensitive, repeated fields are joined. */
export class RequestHeaders implements Iterable<[string, string]> {
  private readonly fields: ReadonlyArray<[string, string]>;

  /** @param fields header fields in order, names lower-cased */
  constructor(fields: ReadonlyArray<[string, string]>) {
    this.fields = fields;
  }

  /** The value of header `name`, repeated fields joined with ", ", or undefined when absent. */
  get(name: string): string | undefined {
    const key = name.toLowerCase();
    let value: string | undefined;
    for (const [n, v] of this.fields) if (n === key) value = value === undefined ? v : `${value}, ${v}`;
    return value;
  }

  /** Every value of header `name`, one per field. */
  getAll(name: string): string[] {
    const key = name.toLowerCase();
    return this.fields.filter(([n]) => n === key).map(([, v]) => v);
  }

  /** Whether header `name` is present. */
  has(name: string): boolean {
    const key = name.toLowerCase();
    return this.fields.some(([n]) => n === key);
  }

  /** How many header fields were kept (see `handshake.maxHeaders`). */
  get size(): number {
    return this.fields.length;
  }

  /** `[name, value]` pairs in request order, names lower-cased. */
  [Symbol.iterator](): Iterator<[string, string]> {
    return this.fields[Symbol.iterator]();
  }
}

/**
 * The client's opening handshake, given to a handler's `init`. `init` may choose a subprotocol
 * with {@link Handshake.selectProtocol} and add response headers with {@link Handshake.setHeader};
 * to refuse the upgrade it throws (see {@link HandshakeError}).
 */
export class Handshake {
  /** The request method (always GET for a handshake that reaches `init`). */
  readonly method: string;
  /**
   * The request target reduced to its resource name, path and query (not percent-decoded), e.g.
   * `/chat?room=1`; an absolute target such as `http://host/chat?room=1` reads `/chat?room=1`.
   */
  readonly url: string;
  /** The path part of the target, not percent-decoded, e.g. `/chat`. */
  readonly path: string;
  /** The raw query string without its '?', or ''. */
  readonly rawQuery: string;
  /** Request headers (at most `handshake.maxHeaders` of them). */
  readonly headers: RequestHeaders;
  /** Subprotocols the client offered in Sec-WebSocket-Protocol, in its order of preference. */
  readonly protocols: readonly string[];
  /** The client's Sec-WebSocket-Extensions offers, raw, or ''. */
  readonly extensions: string;
  /** The peer's IP address (or '' on a Unix socket). */
  readonly remoteAddress: string;
  /** The peer's port (0 on a Unix socket). */
  readonly remotePort: number;

  private queryParams: URLSearchParams | undefined;
  /** The subprotocol chosen by `init`, sent back in the 101. */
  protocol: string | undefined;
  /** Extra headers `init` added to the 101 response. */
  readonly responseHeaders: Array<[string, string]> = [];

  /** @internal The request this handshake was built from (sent to a worker thread as is). */
  readonly request: UpgradeRequest;

  /** Built by the server from a validated upgrade request. */
  constructor(request: UpgradeRequest, remoteAddress: string, remotePort: number, maxHeaders: number) {
    this.request = request;
    this.method = request.method;
    this.url = request.target;
    const q = request.target.indexOf('?');
    this.path = q < 0 ? request.target : request.target.slice(0, q);
    this.rawQuery = q < 0 ? '' : request.target.slice(q + 1);
    this.headers = new RequestHeaders(request.headers.slice(0, maxHeaders));
    this.protocols = request.protocols;
    this.extensions = request.extensions;
    this.remoteAddress = remoteAddress;
    this.remotePort = remotePort;
  }

  /** Query parameters of the target, decoded. */
  get query(): URLSearchParams {
    return (this.queryParams ??= new URLSearchParams(this.rawQuery));
  }

  /** Accepts `protocol`, which must be one the client offered, as the connection's subprotocol. */
  selectProtocol(protocol: string): void {
    if (!this.protocols.includes(protocol)) {
      throw new HandshakeError(
        500,
        `cannot select subprotocol '${protocol}': the client offered ${this.protocols.length ? this.protocols.join(', ') : 'none'}`,
        {},
        'WSZ_ERR_SUBPROTOCOL',
      );
    }
    this.protocol = protocol;
  }

  /** Adds a header to the 101 response. Throws on a name or value that is not valid HTTP. */
  setHeader(name: string, value: string): void {
    if (!headerNameIsValid(name)) throw new TypeError(`invalid response header name '${name}'`);
    if (typeof value !== 'string' || !headerValueIsVisible(value))
      throw new TypeError(
        `invalid value for response header '${name}': only visible ASCII, space and tab are allowed (encode other text, e.g. with encodeURIComponent)`,
      );
    this.responseHeaders.push([name, value]);
  }
}
