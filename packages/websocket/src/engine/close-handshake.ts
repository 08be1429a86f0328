/**
 * The server side of the close handshake (RFC 6455 7.1) around a link's {@link Session}: the
 * session says what is due; this writes it, in order with the hooks, and bounds every wait with a
 * timer. Replies of hooks already running go out before our close frame; the peer has closeTimeout
 * to answer our close; after both close frames the server ends TCP.
 */
import type { Socket } from 'node:net';
import type { ProtocolError } from '../protocol/errors.js';
import { Opcode } from '../protocol/opcodes.js';
import { AfterClose, type Session } from '../protocol/session.js';
import { awaitPeerClose } from '../sender/close-timer.js';
import type { FrameSender } from '../sender/frame-sender.js';
import type { ServerCore } from './server-core.js';
import { LinkRecord } from './link-events.js';

/** What the close handshake needs from its link. */
export interface CloseHost {
  readonly id: number;
  readonly socket: Socket;
  readonly sender: FrameSender;
  readonly server: ServerCore;
  /** Past the 101 and the socket still there: close frames may be written. */
  isOpen(): boolean;
  /** The peer's address and port, for log lines. */
  readonly peer: string;
  /** Whether the handler has a clientClose hook. */
  readonly hasClientCloseHook: boolean;
  /** Runs the clientClose hook (which may answer with a close of its own). */
  clientCloseHook(code: number, reason: string): void;
  /** Our close frame is queued: the link leaves its topics, tells the hooks, and drains what the peer still sends. */
  closeQueued(): void;
}

/** One link's close handshake: its timer, and the hooks it waits for. */
export class CloseHandshake {
  private readonly host: CloseHost;
  private readonly session: Session;
  /** The wait under way: the peer's answer, the clientClose hook, or hooks settling before our close. */
  private timer: NodeJS.Timeout | null = null;
  /** Hook events not settled yet (see DispatchTarget). */
  private hooksPending = 0;
  /** Who closed first and how, for the `wsz:connection:*` events. */
  readonly record = new LinkRecord();
  /** A close of ours waiting for the hooks already running to settle: their replies go out first. */
  private deferredClose: (() => void) | null = null;

  constructor(host: CloseHost, session: Session) {
    this.host = host;
    this.session = session;
  }

  /** The peer's close frame arrived. */
  peerClosed(code: number, reason: string): void {
    this.record.peer(code, reason);
    if (this.session.peerClosed()) return this.endTcp(); // the answer to our close
    const closeTimeout = this.host.server.config.closeTimeout;
    if (this.host.hasClientCloseHook) {
      // The hook may answer with its own close; closeTimeout bounds how long the peer waits for one.
      this.wait(closeTimeout, () => this.answer(code));
      this.host.clientCloseHook(code, reason);
    } else this.afterHooks(() => this.answer(code));
  }

  /** Completes the close handshake the peer started, echoing its code (RFC 6455 5.5.1). */
  answer(code: number): void {
    if (this.host.isOpen()) this.closeWith(this.session.answer(code));
  }

  /** Our close frame with `payload` (nothing if one went already). */
  close(payload: Buffer): void {
    if (this.host.isOpen()) this.closeWith(this.session.closing(payload));
  }

  /**
   * Fails the connection (RFC 6455 7.1.7): close frame with the error's code, then end TCP. Input
   * stops at once; replies to the messages received before the error still go out first.
   */
  fail(error: ProtocolError): void {
    const { host } = this;
    // A close the server decides is worth a line at info: an operator sees why a client was cut off.
    host.server.log.info(`connection ${host.id} (${host.peer}): closing with ${error.closeCode}: ${error.message}`);
    this.afterHooks(() => {
      if (host.isOpen()) this.closeWith(this.session.fail(error));
      this.endTcp();
    });
  }

  /** Events handed to the hooks have not all settled (a hook may be running, or messages waiting). */
  get hooksRunning(): boolean {
    return this.hooksPending > 0;
  }

  /** A hook event was handed to the hooks. */
  eventStarted(): void {
    this.hooksPending++;
  }

  /** A hook event settled: a close waiting for it goes out. */
  eventSettled(): void {
    if (--this.hooksPending === 0 && this.deferredClose) {
      this.clearTimer();
      this.runDeferredClose();
    }
  }

  /** The socket is gone: no more waits. */
  socketGone(): void {
    this.deferredClose = null;
    this.clearTimer();
  }

  /**
   * Runs `close` (a close of ours answering the peer's input) once the hooks already given events
   * have settled, so what they write precedes our close frame, as when hooks run one message at a
   * time in order (websocket.zig). Hooks that take longer than closeTimeout do not hold it longer.
   */
  private afterHooks(close: () => void): void {
    if (this.hooksPending === 0 || !this.host.isOpen()) return close();
    this.deferredClose = close;
    this.wait(this.host.server.config.closeTimeout, () => this.runDeferredClose());
  }

  private runDeferredClose(): void {
    const close = this.deferredClose;
    this.deferredClose = null;
    close?.();
  }

  /** Sends our close frame (null: none is due, one went already) and waits for the peer's, or ends TCP. */
  private closeWith(payload: Buffer | null): void {
    if (payload === null) return;
    this.record.ours(payload);
    const { sender } = this.host;
    sender.frame(Opcode.Close, payload, true);
    this.host.closeQueued();
    sender.flush();
    if (this.session.afterClose() === AfterClose.EndTcp) this.endTcp();
    else this.armCloseTimer(); // the peer has closeTimeout to answer
  }

  /**
   * Drops the connection once the peer has had closeTimeout to answer since our close frame reached
   * the kernel. While bytes queued before the frame still wait in our socket, a peer that reads them
   * (slowly) keeps the connection: each closeTimeout with progress starts the wait anew; one with
   * none cuts off a peer that stopped reading.
   */
  private armCloseTimer(): void {
    this.clearTimer();
    const { sender, socket } = this.host;
    awaitPeerClose(
      this.host.server.config.closeTimeout,
      () => sender.bufferedAmount,
      () => socket.destroy(),
      (timer) => (this.timer = timer),
    );
  }

  /** Half-closes TCP after our close frame; the peer's FIN (or the close timeout) finishes it. */
  private endTcp(): void {
    if (!this.session.endingTcp()) return;
    // The FIN follows everything queued, our close frame included.
    const socket = this.host.socket;
    this.host.sender.afterOutbox(() => socket.end());
    this.armCloseTimer();
  }

  private wait(ms: number, then: () => void): void {
    this.clearTimer();
    this.timer = setTimeout(() => {
      this.timer = null;
      then();
    }, ms);
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
