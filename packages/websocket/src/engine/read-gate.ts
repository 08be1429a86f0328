/**
 * Whether a link reads its socket. It stops reading for two reasons, each lifted on its own: the
 * hooks are behind (their queue is full) and, with I/O threads, what this thread relays to another
 * waits there beyond relayLimit. TCP then slows the peer, as websocket.zig's one-message-at-a-time
 * does. Once our close frame is out, input is only drained: unread input would turn our TCP close
 * into a reset.
 */
import type { Socket } from 'node:net';

/** What the gate asks of its link. */
export interface GatedLink {
  readonly socket: Socket;
  /** Past the 101, socket still there. */
  isOpen(): boolean;
  /** Our close frame went out. */
  closeSent(): boolean;
}

/** Why a link is not read: bits of {@link ReadGate}'s `held`. */
const HOOKS = 1;
const RELAY = 2;

/** Pauses and resumes one link's socket. */
export class ReadGate {
  private readonly link: GatedLink;
  /** The reasons reading is held back ({@link HOOKS}, {@link RELAY}); the socket reads when none is left. */
  private held = 0;
  /** Made on the first congestion, then kept: what a congested relay calls to pause and resume this link. */
  private relayCallbacks: [pause: () => void, resume: () => void] | null = null;

  constructor(link: GatedLink) {
    this.link = link;
  }

  /** Whether reading is held back (then the peer's silence is not its own). */
  get paused(): boolean {
    return this.held !== 0;
  }

  /**
   * After a publish, broadcast or sendTo, with I/O threads: when what this thread relays to another
   * waits there beyond `relayLimit`, the publishing link is not read until it is taken, so TCP slows
   * its client as when one thread does everything.
   */
  throttle(relay: { throttle(pause: () => void, resume: () => void): boolean }): void {
    if ((this.held & RELAY) !== 0) return;
    const [pause, resume] = (this.relayCallbacks ??= [() => this.pauseForRelay(), () => this.resumeForRelay()]);
    relay.throttle(pause, resume);
  }

  pauseForRelay(): void {
    this.hold(RELAY);
  }

  resumeForRelay(): void {
    this.release(RELAY);
  }

  pauseForHooks(): void {
    this.hold(HOOKS);
  }

  resumeForHooks(): void {
    this.release(HOOKS);
  }

  /** The 101 went out (the socket was paused while `init` ran): read, unless the hooks are behind already. */
  opened(): void {
    if ((this.held & HOOKS) === 0) this.link.socket.resume();
  }

  /** Our close frame went out: what the peer still sends is read and dropped. */
  drain(): void {
    if (this.held !== 0) this.link.socket.resume();
  }

  /** Once closing, input is only drained: it is never paused again. */
  private hold(reason: number): void {
    this.held |= reason;
    if (!this.link.closeSent()) this.link.socket.pause();
  }

  private release(reason: number): void {
    this.held &= ~reason;
    if (this.held === 0 && this.link.isOpen()) this.link.socket.resume();
  }
}
