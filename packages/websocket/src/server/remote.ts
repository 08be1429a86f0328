/**
 * Control across processes on a backplane (issue 23): each server joins the backplane as a node, and its connection
 * ids carry that node's number (`node * 2^32 + n`), so an id names one connection among every server. A call for
 * an id of another node (`server.close(id)`, `signal`, `sendTo`, ...) travels to that server over the backplane and
 * is carried out there with the same checks; `server.report()` asks every server for its connections and topics and
 * waits, bounded, for the answers it knows to expect (Redis tells how many servers heard the question).
 *
 * Messages between servers are structured clones (node:v8 serialize), checked field by field when they arrive: a
 * message that is not one of ours is counted and dropped, never acted on in part.
 */
import { deserialize, serialize } from 'node:v8';
import type { ConnectionInfo, ControlAction, EngineReport } from '../engine/engine.js';
import type { Logger } from '../logging/log.js';
import type { Backplane } from '../pubsub/backplane.js';

/** Ids a node may give: node `k` gives `k * NODE_SPAN + 1` onwards. */
export const NODE_SPAN = 2 ** 32;

/** The node number in a connection id (0: a server without one). */
export function nodeOf(id: number): number {
  return Math.floor(id / NODE_SPAN);
}

/** What arrives from another server. */
type Told =
  | { op: 'control'; id: number; action: ControlAction }
  | { op: 'send'; id: number; binary: boolean; data: Uint8Array | string }
  | { op: 'report'; request: number; from: number }
  | { op: 'reported'; request: number; report: EngineReport };

/** What the server does for a message from another server (the same calls, and checks, as its own). */
export interface RemoteHost {
  /** Carries out `action` on local connection `id`; throws a TypeError or RangeError for an invalid one. */
  act(id: number, action: ControlAction): boolean;
  sendTo(id: number, data: Uint8Array | string, binary: boolean): boolean;
  /** This server's own connections and topics (every thread's). */
  report(): Promise<EngineReport>;
}

/** The answers of a {@link RemoteControl.gather}. */
export interface Gathered {
  reports: EngineReport[];
  /** Other servers that answered. */
  answered: number;
  /** Whether every server that heard the question answered in time (false also when the broker was away). */
  complete: boolean;
}

type Joinable = Backplane & Required<Pick<Backplane, 'join' | 'tell'>>;

/** Whether `backplane` can carry control between servers. */
export function canJoin(backplane: Backplane | null | undefined): backplane is Joinable {
  return typeof backplane?.join === 'function' && typeof backplane.tell === 'function';
}

/** This server's side of control across processes. */
export class RemoteControl {
  /** This server's node number (0 until joined). */
  node = 0;
  /** Messages from other servers that were not ours, or asked for something invalid. */
  refused = 0;
  private readonly backplane: Joinable;
  private readonly host: RemoteHost;
  private readonly log: Logger;
  private readonly waiting = new Map<number, (report: EngineReport) => void>();
  private nextRequest = 1;

  constructor(backplane: Joinable, host: RemoteHost, log: Logger) {
    this.backplane = backplane;
    this.host = host;
    this.log = log;
  }

  /** Joins the backplane; resolves with the first connection id this server gives. */
  async join(): Promise<number> {
    this.backplane.onTell = (payload) => this.told(payload);
    const node = await this.backplane.join();
    if (!Number.isSafeInteger(node) || node < 1 || node >= 2 ** 21) {
      throw new TypeError(`backplane.join() must resolve with a node number from 1 to 2^21 - 1, got ${node}`);
    }
    this.node = node;
    return node * NODE_SPAN + 1;
  }

  /** Whether connection `id` is another server's. */
  elsewhere(id: number): boolean {
    const node = nodeOf(id);
    return node !== this.node && node !== 0;
  }

  /** Sends `action` to the server that owns connection `id`; false when the backplane is not connected. */
  control(id: number, action: ControlAction): boolean {
    return this.tell(nodeOf(id), { op: 'control', id, action });
  }

  /** Sends a message for connection `id` to the server that owns it; false when the backplane is not connected. */
  sendTo(id: number, data: Uint8Array | string, binary: boolean): boolean {
    return this.tell(nodeOf(id), { op: 'send', id, binary, data });
  }

  private tell(node: number | null, message: Told): boolean {
    if (!this.backplane.stats().connected) return false;
    void this.backplane.tell(node, serialize(message));
    return true;
  }

  /** Asks every other server for its report; waits up to `timeout` ms for those that heard the question. */
  gather(timeout: number): Promise<Gathered> {
    const request = this.nextRequest++;
    const reports: EngineReport[] = [];
    let expected = -1;
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiting.delete(request);
        const complete = expected >= 0 && reports.length >= expected && reports.every((r) => !r.missing);
        resolve({ reports, answered: reports.length, complete });
      };
      const timer = setTimeout(done, timeout);
      this.waiting.set(request, (report) => {
        reports.push(report);
        if (expected >= 0 && reports.length >= expected) done();
      });
      if (!this.backplane.stats().connected) return done();
      void this.backplane.tell(null, serialize({ op: 'report', request, from: this.node } satisfies Told)).then((n) => {
        expected = n;
        if (reports.length >= n && this.waiting.has(request)) done();
      });
    });
  }

  /** A message from another server. */
  private told(payload: Buffer): void {
    let message: unknown;
    try {
      message = deserialize(payload);
    } catch {
      message = null;
    }
    if (!isTold(message)) {
      this.refused++;
      this.log.warn('backplane: a control message from another server was not one wsz sends; ignored');
      return;
    }
    try {
      switch (message.op) {
        case 'control':
          if (!this.elsewhere(message.id)) this.host.act(message.id, message.action);
          return;
        case 'send':
          if (!this.elsewhere(message.id)) this.host.sendTo(message.id, message.data, message.binary);
          return;
        case 'report':
          void this.host
            .report()
            .then((report) =>
              this.backplane.tell(message.from, serialize({ op: 'reported', request: message.request, report })),
            );
          return;
        case 'reported':
          this.waiting.get(message.request)?.(message.report);
          return;
      }
    } catch (error) {
      this.refused++;
      this.log.warn(`backplane: another server's ${message.op} request was refused here`, error);
    }
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
const isId = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) > 0;
const isString = (v: unknown): v is string => typeof v === 'string';

function isAction(a: unknown): a is ControlAction {
  if (!isObject(a)) return false;
  const keys = Object.keys(a);
  if (keys.length !== 1) return false;
  const close = a.close;
  if (keys[0] === 'close') return isObject(close) && Number.isInteger(close.code) && isString(close.reason);
  if (keys[0] === 'terminate') return a.terminate === true;
  if (keys[0] === 'subscribe') return isString(a.subscribe);
  if (keys[0] === 'unsubscribe') return isString(a.unsubscribe);
  return keys[0] === 'signal';
}

function isInfo(c: unknown): c is ConnectionInfo {
  return (
    isObject(c) &&
    isId(c.id) &&
    isString(c.remoteAddress) &&
    isString(c.url) &&
    Array.isArray(c.topics) &&
    c.topics.every(isString) &&
    isObject(c.presence)
  );
}

function isReport(r: unknown): r is EngineReport {
  return (
    isObject(r) &&
    Array.isArray(r.connections) &&
    r.connections.every(isInfo) &&
    Array.isArray(r.topics) &&
    r.topics.every((t) => Array.isArray(t) && isString(t[0]) && Number.isInteger(t[1]))
  );
}

function isTold(m: unknown): m is Told {
  if (!isObject(m)) return false;
  switch (m.op) {
    case 'control':
      return isId(m.id) && isAction(m.action);
    case 'send':
      return isId(m.id) && typeof m.binary === 'boolean' && (isString(m.data) || m.data instanceof Uint8Array);
    case 'report':
      return Number.isSafeInteger(m.request) && isId(m.from);
    case 'reported':
      return Number.isSafeInteger(m.request) && isReport(m.report);
    default:
      return false;
  }
}
