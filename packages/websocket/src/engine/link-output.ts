/**
 * What a link's {@link FrameSender} asks of the engine: its limits, whether memory is reused, where
 * backlogs, drains and drops are reported (to the hooks, through the dispatcher), and the counters.
 * The link answers only what depends on its own state: whether it may write, and what happens
 * over the backpressure limit.
 */
import type { Socket } from 'node:net';
import type { ResolvedConfig } from '../config/config.js';
import type { IoTarget } from '../handler/dispatcher.js';
import type { SenderHost } from '../sender/sender-host.js';
import type { ConnectionDeflate } from './deflate.js';
import type { ServerCore } from './server-core.js';

/** The link a {@link LinkOutput} writes for. */
export interface OutputLink extends IoTarget {
  readonly id: number;
  readonly server: ServerCore;
  readonly socket: Socket;
  readonly deflate: ConnectionDeflate | null;
  /** The peer's address and port, for log lines. */
  readonly peer: string;
  /** Bytes queued and not yet taken by the kernel. */
  readonly bufferedAmount: number;
  /** Whether frames may go out now: throws before the handshake completes, false once closing. */
  canWrite(): boolean;
  /** The backpressure limit was hit under the 'close' policy. */
  overLimit(): void;
}

/** The sender's host for one link of an engine. */
export class LinkOutput implements SenderHost {
  private readonly link: OutputLink;
  private readonly server: ServerCore;
  readonly socket: Socket;
  /** maxBackpressure and backpressurePolicy, from the server's config. */
  readonly limits: ResolvedConfig;
  /** Server frames are not masked. */
  readonly masked = false;

  constructor(link: OutputLink) {
    this.link = link;
    this.server = link.server;
    this.socket = link.socket;
    this.limits = link.server.config;
  }

  get deflate(): ConnectionDeflate | null {
    return this.link.deflate;
  }

  canWrite(): boolean {
    return this.link.canWrite();
  }

  overLimit(): void {
    const link = this.link;
    this.server.backpressureCloses++;
    this.server.log.info(
      `connection ${link.id} (${link.peer}): ${link.bufferedAmount} bytes queued, over maxBackpressure; closing with 1008`,
    );
    link.overLimit();
  }

  reused(data: Uint8Array): boolean {
    return this.server.pool.owns(data) || data.buffer instanceof SharedArrayBuffer;
  }

  backlogged(bytes: number): void {
    this.server.dispatcher.buffered(this.link, bytes);
  }

  drainedBacklog(): void {
    this.server.dispatcher.drain(this.link);
  }

  droppedMessages(count: number): void {
    this.server.dispatcher.dropped(this.link, count);
  }

  countWrite(bytes: number): void {
    this.server.writes++;
    this.server.tally.bytesOut += bytes;
  }

  countDrop(): void {
    this.server.backpressureDrops++;
  }
}
