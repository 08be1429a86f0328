import { RedisConnection } from '../redis-connection.js';
import type { OnReply, RedisRoute, RouteEvents, RouteSettings, RouteStats } from '../redis-route.js';
import { RedisReplyError, type Argument, type Reply } from '../resp.js';
import { hashSlot, parseClusterSlots, parseRedirection, SLOTS } from './slots.js';

/** One master of the cluster: a publisher connection (commands) and a subscriber connection (sharded pub/sub). */
interface ClusterNode {
  readonly address: string;
  readonly pub: RedisConnection;
  readonly sub: RedisConnection;
  /** The subscriber has resubscribed since it last connected (its PING came back): publishes flow. */
  subscribed: boolean;
  /** Channels subscribed on this node now. */
  readonly channels: Set<string>;
}

/** A command redirected more often than this in a row fails (a cluster that does not settle). */
const MAX_REDIRECTS = 5;
/** Wait before asking again after TRYAGAIN or CLUSTERDOWN (ms, doubled each time). */
const RETRY_AFTER = 100;

/**
 * A Redis Cluster (Redis 7): the seed node tells the slot map (CLUSTER SLOTS), and each master gets a publisher and a
 * subscriber connection. A command goes to the master of its key's slot; a channel is subscribed (SSUBSCRIBE) on the
 * master of its slot and published to there (SPUBLISH), so a message crosses one shard, not the whole cluster. A
 * MOVED reply updates the map, is followed, and the map is asked again; ASK is followed once. A subscriber whose slot
 * moved away (resharding: Redis unsubscribes it) or whose master went away (a restart, a failover) makes the route
 * ask for the map again and subscribe where the slot lives now. Publishes to a master wait (bounded) while its
 * subscriber is away, as on a single Redis.
 */
export class ClusterRoute implements RedisRoute {
  readonly publishCommand = 'SPUBLISH';
  readonly tagged = true;
  private readonly nodes = new Map<string, ClusterNode>();
  private readonly owners: Array<ClusterNode | undefined> = new Array<ClusterNode | undefined>(SLOTS);
  private readonly seed: ClusterNode;
  private mapped = false;
  private refreshing: NodeJS.Timeout | null = null;
  private again = false;
  private pending: NodeJS.Timeout | null = null;
  private closed = false;
  private redirects = 0;
  private malformed = 0;
  /** Counters of the connections of masters that left (failed over and not back). */
  private readonly retired = { lost: 0, errors: 0, reconnects: 0, resent: 0 };

  constructor(
    private readonly url: URL,
    private readonly settings: RouteSettings,
    private readonly events: RouteEvents,
  ) {
    this.seed = this.node(url.hostname.replace(/^\[|\]$/g, ''), Number(url.port || 6379));
  }

  /** Whether the slot map is known. */
  get ready(): boolean {
    return this.mapped;
  }

  private node(host: string, port: number): ClusterNode {
    const address = `${host}:${port}`;
    const known = this.nodes.get(address);
    if (known) return known;
    const u = new URL(this.url);
    u.hostname = host.includes(':') ? `[${host}]` : host;
    u.port = String(port);
    const { maxQueue, ...common } = this.settings;
    const redirected = (): void => this.refreshSoon();
    const node: ClusterNode = {
      address,
      subscribed: false,
      channels: new Set(),
      pub: new RedisConnection(
        u,
        { ready: () => void (this.mapped || this.refresh()), reply: () => {}, down: () => {} },
        { ...common, name: `publisher ${address}`, maxQueue, ordered: true, held: true, redirected },
      ),
      sub: new RedisConnection(
        u,
        {
          ready: () => this.resubscribe(node),
          reply: (r) => this.pushed(node, r),
          down: () => {
            node.subscribed = false;
            node.channels.clear();
            node.pub.hold();
            this.refreshSoon(1000); // a failover may have moved its slots
          },
        },
        { ...common, name: `subscriber ${address}`, maxQueue: 0, ordered: false, redirected },
      ),
    };
    this.nodes.set(address, node);
    return node;
  }

  private ownerOf(key: string): ClusterNode {
    return this.owners[hashSlot(key)] ?? this.seed;
  }

  /** Subscribes `node`'s subscriber to the channels its slots hold (one command each: one slot per SSUBSCRIBE). */
  private resubscribe(node: ClusterNode): void {
    node.channels.clear();
    for (const c of this.events.channels()) if (this.ownerOf(c) === node) this.ssubscribe(node, c);
    node.sub.sendIfReady(['PING']);
  }

  private ssubscribe(node: ClusterNode, channel: string): void {
    node.channels.add(channel);
    node.sub.sendIfReady(['SSUBSCRIBE', channel]);
  }

  private pushed(node: ClusterNode, reply: Reply): void {
    // A subscriber with no channels (yet) is not in subscribed mode: its PING is answered with a plain PONG.
    if (reply === 'PONG') return this.pushed(node, [Buffer.from('pong'), Buffer.alloc(0)]);
    if (!Array.isArray(reply) || reply.length < 2 || !Buffer.isBuffer(reply[0])) return void this.malformed++;
    const kind = reply[0].toString('latin1');
    if (kind === 'pong') {
      if (!node.subscribed) {
        node.subscribed = true;
        node.pub.release();
      }
    } else if (kind === 'smessage') {
      const [, channel, payload] = reply;
      if (reply.length !== 3 || !Buffer.isBuffer(channel) || !Buffer.isBuffer(payload)) return void this.malformed++;
      this.events.message(channel.toString('utf8'), payload);
    } else if (kind === 'sunsubscribe' && Buffer.isBuffer(reply[1])) {
      // Not asked for (ours were forgotten when sent): the slot moved to another master.
      const channel = reply[1].toString('utf8');
      if (node.channels.delete(channel)) this.refreshSoon();
    }
  }

  /** Asks for the slot map again, at most one question at a time (`delay` ms from now). */
  private refreshSoon(delay = 0): void {
    if (this.closed || this.pending !== null) return;
    this.pending = setTimeout(() => {
      this.pending = null;
      this.refresh();
    }, delay);
    this.pending.unref();
  }

  private refresh(): void {
    if (this.closed) return;
    if (this.refreshing !== null) return void (this.again = true);
    const asked = [this.seed, ...this.nodes.values()].find((n) => n.pub.connected);
    if (asked === undefined) return this.refreshSoon(500);
    const done = (): void => {
      if (this.refreshing !== null) clearTimeout(this.refreshing);
      this.refreshing = null;
      if (this.again) {
        this.again = false;
        this.refreshSoon();
      }
    };
    // An answer that never comes (an error reply is not given to us) frees the next question after pingTimeout.
    this.refreshing = setTimeout(done, this.settings.pingTimeout);
    this.refreshing.unref();
    asked.pub.ask(['CLUSTER', 'SLOTS'], (reply) => {
      const ranges = reply instanceof RedisReplyError ? null : parseClusterSlots(reply);
      if (ranges !== null && ranges.length > 0) this.apply(ranges);
      else if (!(reply instanceof RedisReplyError)) this.malformed++;
      done();
    });
  }

  private apply(ranges: Array<{ start: number; end: number; host: string; port: number }>): void {
    this.owners.fill(undefined);
    for (const r of ranges) {
      const n = this.node(r.host, r.port);
      this.owners.fill(n, r.start, r.end + 1);
    }
    this.mapped = true;
    const masters = new Set(this.owners);
    for (const [address, n] of this.nodes) {
      if (masters.has(n) || n === this.seed || n.pub.connected) continue;
      // A master that failed over and is not back: what waits for it is dropped (counted), its connections closed.
      n.pub.discardQueue();
      this.retired.lost += n.pub.lost;
      this.retired.resent += n.pub.resent;
      this.retired.errors += n.pub.errors + n.sub.errors;
      this.retired.reconnects += n.pub.reconnects + n.sub.reconnects;
      n.pub.close();
      n.sub.close();
      this.nodes.delete(address);
    }
    // While a master is unreachable, the map is asked again every second: a replica may take its place.
    for (const n of masters) if (n !== undefined && !n.pub.connected) this.refreshSoon(1000);
    // Channels subscribed where their slot no longer lives move to its master now.
    for (const n of this.nodes.values())
      for (const c of n.channels)
        if (this.ownerOf(c) !== n) {
          n.channels.delete(c);
          n.sub.sendIfReady(['SUNSUBSCRIBE', c]);
        }
    for (const c of this.events.channels()) {
      const owner = this.ownerOf(c);
      if (owner.sub.connected && !owner.channels.has(c)) this.ssubscribe(owner, c);
    }
  }

  send(key: string, args: readonly Argument[], onReply: OnReply = null, resend = false): boolean {
    return this.sendTo(this.ownerOf(key), args, onReply, 0, false, resend);
  }

  ask(key: string, args: readonly Argument[], onReply: OnReply): boolean {
    return this.sendTo(this.ownerOf(key), args, onReply, 0, true);
  }

  /** Sends to `node`, following what a redirection says (a redirected question is queued: it was asked already). */
  private sendTo(
    node: ClusterNode,
    args: readonly Argument[],
    onReply: OnReply,
    tries: number,
    now: boolean,
    resend = false,
  ): boolean {
    const replied = (reply: Reply): void => {
      if (!(reply instanceof RedisReplyError) || tries >= MAX_REDIRECTS) return onReply?.(reply);
      const to = parseRedirection(reply.message);
      if (to !== null) {
        this.redirects++;
        const target = this.node(to.host, to.port);
        if (to.ask) target.pub.send(['ASKING']);
        else {
          this.owners[to.slot] = target;
          this.refreshSoon();
        }
        this.sendTo(target, args, onReply, tries + 1, false, resend);
      } else if (/^(TRYAGAIN|CLUSTERDOWN) /.test(reply.message)) {
        const t = setTimeout(() => this.sendTo(node, args, onReply, tries + 1, false, resend), RETRY_AFTER << tries);
        t.unref();
      } else onReply?.(reply);
    };
    return now ? node.pub.ask(args, replied) : node.pub.send(args, replied, resend);
  }

  subscribe(channels: string[]): void {
    for (const c of channels) {
      const owner = this.ownerOf(c);
      if (owner.sub.connected) this.ssubscribe(owner, c);
    }
  }

  unsubscribe(channels: string[]): void {
    for (const c of channels)
      for (const n of this.nodes.values()) if (n.channels.delete(c)) n.sub.sendIfReady(['SUNSUBSCRIBE', c]);
  }

  stats(): RouteStats {
    const masters = new Set(this.owners);
    let connected = this.mapped;
    let { lost, reconnects, resent } = this.retired;
    let errors = this.malformed + this.retired.errors;
    for (const n of this.nodes.values()) {
      if (masters.has(n) && !(n.pub.connected && n.sub.connected && n.subscribed)) connected = false;
      lost += n.pub.lost;
      resent += n.pub.resent;
      errors += n.pub.errors + n.sub.errors;
      reconnects += n.pub.reconnects + n.sub.reconnects;
    }
    return { connected, lost, errors, reconnects, redirects: this.redirects, resent };
  }

  close(): void {
    this.closed = true;
    if (this.pending !== null) clearTimeout(this.pending);
    if (this.refreshing !== null) clearTimeout(this.refreshing);
    for (const n of this.nodes.values()) {
      n.pub.close();
      n.sub.close();
    }
  }
}
