/**
 * The opening handshake of one accepted socket (RFC 6455 4.2): the upgrade request read (or handed
 * over by an http server), origins and extensions checked, `init` run, then either the 101 (handed
 * to the link, which reads frames from then on) or an HTTP refusal. Bounded by handshake.timeout.
 */
import type { Socket } from 'node:net';
import type { Conn } from '../handler/conn.js';
import { Handshake } from '../handler/handshake.js';
import { answerPlain, bodyLength } from '../handler/plain-http.js';
import type { Logger } from '../logging/log.js';
import { HandshakeError, refusalFor } from '../protocol/errors.js';
import {
  errorResponse,
  headerValue,
  invalidHeader,
  PlainRequest,
  switchingProtocolsResponse,
} from '../protocol/handshake.js';
import { negotiateDeflate, parseExtensions } from '../protocol/permessage-deflate.js';
import { ConnectionDeflate } from './deflate.js';
import { RequestReader } from './request-reader.js';
import type { ServerCore } from './server-core.js';
import { publishRefused, type LinkRecord } from './link-events.js';

/** What the opening handshake needs from the link it opens. */
export interface OpeningHost {
  readonly id: number;
  readonly server: ServerCore;
  readonly socket: Socket;
  readonly conn: Conn;
  /** The connection's record (its start times the handshake). */
  readonly closing: { readonly record: LinkRecord };
  /** The handshake agreed on permessage-deflate: the link compresses and inflates with `deflate`. */
  agreed(deflate: ConnectionDeflate): void;
  /**
   * The request is valid: the connection counts against maxConn from here, and the link runs the
   * handler's `init` (through its dispatcher) and returns what it returned.
   */
  init(handshake: Handshake): void | Promise<void>;
  /**
   * `init` accepted the connection: the link writes `response` (the 101), then reads `leftover` (frames
   * pipelined behind the request) and the socket. The link knows whether its socket is still there.
   */
  open(protocol: string | undefined, response: string, leftover: Buffer[] | null, url: string): void;
  /** The connection was refused, or `init` refused it: it no longer counts against maxConn. */
  uncount(): void;
  /** Refused with an HTTP answer: nothing more is read or written as WebSocket. */
  refused(): void;
}

const EMPTY = Buffer.alloc(0);

const enum Stage {
  Request,
  /** Reading the body of a plain HTTP request for `static httpRequest`. */
  Body,
  Init,
  Done,
}

function originAllowed(allowed: (origin: string) => boolean, origin: string, log: Logger): boolean {
  try {
    return allowed(origin) === true;
  } catch (error) {
    log.warn(`allowedOrigins threw for origin ${JSON.stringify(origin)}; refusing it`, error);
    return false;
  }
}

/** One link's opening handshake, from the first byte to the 101 or the refusal. */
export class Opening {
  private readonly host: OpeningHost;
  private stage = Stage.Request;
  private timer: NodeJS.Timeout | null;
  private request: RequestReader | null;
  private leftover: Buffer[] | null = null;
  private key = '';
  private handshake: Handshake | null = null;
  private deflate: ConnectionDeflate | null = null;
  private gone = false;
  /** A plain HTTP request whose body is being read, and the body so far. */
  private plain: { request: PlainRequest; length: number; chunks: Buffer[]; got: number } | null = null;

  /**
   * @param readRequest read the upgrade request from the socket; false when it arrives parsed,
   *   through {@link Opening.requested} (an http server's 'upgrade' event)
   * @param deadline when the handshake (TLS, request and init) must be done, as a Date.now() value
   */
  constructor(host: OpeningHost, readRequest: boolean, deadline: number) {
    this.host = host;
    this.request = readRequest ? new RequestReader(host.server.config.handshake.maxSize, host.server) : null;
    this.timer = setTimeout(() => this.timedOut(), Math.max(0, deadline - Date.now()));
  }

  /** A chunk read before the 101. */
  data(chunk: Buffer): void {
    if (this.stage === Stage.Request) {
      const read = this.request!.push(chunk);
      if (read instanceof HandshakeError) this.refuse(read);
      else if (read) this.upgrade(read.upgrade, read.rest);
    } else if (this.stage === Stage.Body) {
      this.bodyRead(chunk);
    } else if (this.stage === Stage.Init) {
      (this.leftover ??= []).push(chunk); // arrived before pause took effect
    }
  }

  /** A plain HTTP request with a body: read it (bounded by handshake.maxBodySize and the handshake's deadline). */
  private readBody(request: PlainRequest, length: number): void {
    this.stage = Stage.Body;
    this.request?.release();
    this.request = null;
    this.plain = { request, length, chunks: [], got: 0 };
    for (const chunk of request.rest) this.bodyRead(chunk);
  }

  private bodyRead(chunk: Buffer): void {
    const plain = this.plain!;
    const take = Math.min(chunk.length, plain.length - plain.got);
    plain.chunks.push(take === chunk.length ? chunk : chunk.subarray(0, take));
    plain.got += take;
    if (plain.got === plain.length && this.stage === Stage.Body) {
      this.plain = null;
      this.finish(plain.request, Buffer.concat(plain.chunks, plain.length));
    }
  }

  /**
   * The upgrade request, parsed elsewhere (an http server's 'upgrade' event), with the bytes that
   * followed it: the same step a request read from the socket takes next.
   */
  requested(upgrade: Handshake['request'] | HandshakeError, rest: Buffer): void {
    if (this.stage === Stage.Done) return; // already refused (over maxConn): init never runs
    if (upgrade instanceof HandshakeError) return this.refuse(upgrade);
    this.upgrade(upgrade, rest.length > 0 ? [rest] : []);
  }

  /** The server is at maxConn: answer 503 at once, without reading the request, and close. */
  overCapacity(): void {
    const max = this.host.server.config.maxConn;
    const retry = { 'Retry-After': '1' };
    this.refuse(
      new HandshakeError(503, `server at its limit of ${max} connections; try again later`, retry, 'WSZ_ERR_MAX_CONN'),
    );
  }

  /** The socket is gone before the 101: release what the handshake holds. */
  socketGone(): void {
    this.gone = true;
    this.stage = Stage.Done;
    this.clearTimer();
    this.release();
  }

  private upgrade(upgrade: Handshake['request'], rest: Buffer[]): void {
    this.request = null;
    const host = this.host;
    const server = host.server;
    const refusal = this.check(upgrade);
    if (refusal !== null) return this.refuse(refusal);
    if (rest.length > 0) this.leftover = rest; // frames the client pipelined after its request
    this.key = upgrade.key;
    const maxHeaders = server.config.handshake.maxHeaders;
    if (upgrade.headers.length > maxHeaders) {
      server.log.warn(
        `connection ${host.id}: the request has ${upgrade.headers.length} headers; init sees the first ${maxHeaders} (raise handshake.maxHeaders)`,
      );
    }
    const handshake = new Handshake(upgrade, host.conn.remoteAddress, host.conn.remotePort, maxHeaders);
    this.handshake = handshake;
    this.stage = Stage.Init;
    let pending: void | Promise<void>;
    try {
      pending = host.init(handshake);
    } catch (error) {
      return this.initRefused(error);
    }
    if (pending) {
      host.socket.pause();
      server.trackInit(
        pending.then(
          () => this.initDone(),
          (error: unknown) => this.initRefused(error),
        ),
      );
    } else {
      this.initDone();
    }
  }

  /** Origins (RFC 6455 10.2) and permessage-deflate (RFC 7692): a refusal, or null to go on. */
  private check(upgrade: Handshake['request']): HandshakeError | null {
    const { host } = this;
    const { config, log } = host.server;
    const allowed = config.allowedOrigins;
    if (allowed !== null) {
      // Browsers say where the page came from; other clients send no Origin and are let through.
      const origin = headerValue(upgrade.headers, 'origin');
      if (origin !== undefined && !originAllowed(allowed, origin, log)) {
        log.debug(`connection ${host.id}: origin ${JSON.stringify(origin)} not allowed`);
        return new HandshakeError(403, `origin ${origin} is not allowed to connect`, {}, 'WSZ_ERR_ORIGIN');
      }
    }
    const deflateConfig = config.perMessageDeflate;
    if (deflateConfig !== null && upgrade.extensions !== '') {
      const offers = parseExtensions(upgrade.extensions);
      if (offers === null) {
        const header = upgrade.extensions.slice(0, 100);
        return new HandshakeError(
          400,
          `invalid Sec-WebSocket-Extensions header: ${header}`,
          {},
          'WSZ_ERR_EXTENSIONS_HEADER',
        );
      }
      // Offers we cannot accept are declined (the connection goes on uncompressed), never refused.
      const agreement = negotiateDeflate(offers, deflateConfig);
      if (agreement !== null) {
        this.deflate = new ConnectionDeflate(agreement, host.server.codecs, deflateConfig);
        host.agreed(this.deflate);
      }
    }
    return null;
  }

  private initDone(): void {
    this.clearTimer();
    const handshake = this.handshake!;
    this.handshake = null;
    const deflate = this.deflate;
    this.deflate = null;
    const headers =
      deflate === null
        ? handshake.responseHeaders
        : [...handshake.responseHeaders, ['Sec-WebSocket-Extensions', deflate.agreement.header] as [string, string]];
    const response = this.gone ? '' : switchingProtocolsResponse(this.key, handshake.protocol, headers);
    this.key = ''; // a slice of the request head: keeping it would keep the whole head alive
    const leftover = this.leftover;
    this.leftover = null;
    this.stage = Stage.Done;
    this.host.open(handshake.protocol, response, leftover, handshake.url);
  }

  private initRefused(error: unknown): void {
    this.host.uncount();
    if (this.gone) return;
    const { refusal, explicit } = refusalFor(error);
    const log = this.host.server.log;
    const id = this.host.id;
    if (explicit) log.debug(`connection ${id}: init refused the upgrade with ${refusal.status}: ${refusal.message}`);
    else log.warn(`connection ${id}: init threw; refusing the upgrade with 400`, error);
    this.refuse(refusal);
  }

  /**
   * Answers the request with an HTTP error and closes; a plain HTTP request goes to `static httpRequest` when the
   * handler class has one, once its body (if any) is read.
   */
  private refuse(error: HandshakeError): void {
    const { server } = this.host;
    if (error instanceof PlainRequest && server.plainHttp !== null) {
      const length = bodyLength(error.head, server.config.handshake.maxBodySize);
      if (length instanceof HandshakeError) return this.finish(length, EMPTY);
      if (length > 0) return this.readBody(error, length);
    }
    this.finish(error, EMPTY);
  }

  /** Answers with `error`'s refusal, or (a plain HTTP request) with what `static httpRequest` returns. */
  private finish(error: HandshakeError, body: Buffer): void {
    const { host } = this;
    const { server, socket, id } = host;
    const log = server.log;
    if (error.status === 431)
      log.warn(`connection ${id}: handshake refused, 431: ${error.message} (raise handshake.maxSize)`);
    else log.debug(`connection ${id}: handshake refused, ${error.status}: ${error.message}`);
    this.stage = Stage.Done;
    host.refused();
    this.clearTimer();
    this.release();
    const bad = invalidHeader(Object.entries(error.headers));
    if (bad !== undefined)
      log.warn(
        `connection ${id}: refusal header '${bad}' left out: header values may hold only visible ASCII, space and tab`,
      );
    const head = error instanceof PlainRequest ? error.head : null;
    const refusal = (): Buffer => errorResponse(error.status, error.message, error.headers, head?.method === 'HEAD');
    const plain =
      head !== null && server.plainHttp !== null ? answerPlain(server.plainHttp, head, body, server, log) : null;
    // A plain HTTP request the app answers (httpRequest) is not a refused upgrade.
    if (plain === null) publishRefused(error, host.conn.remoteAddress, server.tally, host.closing.record.startedAt);
    socket.resume(); // read (and drop) until the peer closes, so its FIN is seen
    if (plain instanceof Promise) {
      // An async httpRequest: the socket waits for its answer (answerPlain bounds the wait).
      void plain.then((bytes) => {
        if (socket.destroyed) return;
        if (socket.writable) socket.end(bytes ?? refusal());
        this.dropAfter(server.config.closeTimeout);
      });
      return;
    }
    if (socket.writable) socket.end(plain ?? refusal());
    this.dropAfter(server.config.closeTimeout);
  }

  private timedOut(): void {
    this.timer = null;
    const { host } = this;
    const { remoteAddress, remotePort } = host.conn;
    host.server.log.info(
      `connection ${host.id} (${remoteAddress}:${remotePort}): no complete handshake within ${host.server.config.handshake.timeout} ms; dropping it`,
    );
    host.socket.destroy();
  }

  /** After a refusal, the peer has `ms` to close before the socket is dropped. */
  private dropAfter(ms: number): void {
    if (this.gone) return;
    this.clearTimer();
    this.timer = setTimeout(() => {
      this.timer = null;
      this.host.socket.destroy();
    }, ms);
  }

  private release(): void {
    this.plain = null;
    this.request?.release();
    this.request = null;
    this.leftover = null;
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
