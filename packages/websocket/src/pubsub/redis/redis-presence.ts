import type { Member } from '../../delivery/wire.js';
import type { RedisRoute } from './redis-route.js';
import type { Reply } from './resp.js';

/**
 * Presence across servers in Redis (docs/delivery.md): a hash per topic, `<base>:p:{<topic>}`, holds who is present
 * (field `<server>:<connection id>`, value the info as JSON), and each server keeps a key `<base>:alive:<server>`
 * that expires when the server stops refreshing it (on a Redis Cluster one per topic it has members in, in the
 * topic's slot where the scripts may read it: `<base>:p:{<topic>}:alive:<server>`). Joins and leaves are published
 * on the topic's channel, once each, by the scripts that change the hash; a server that dies without saying goodbye
 * leaves its members in the hash until a live server lists or sweeps the topic, which removes them and publishes
 * their leaves.
 */

/** How often a server refreshes its alive key, and how long the key lives without it (ms). */
export const ALIVE_EVERY = 2000;
export const ALIVE_FOR = 6000;

const TRACK_SCRIPT = `
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call(ARGV[6], ARGV[3], ARGV[4] .. 'join\\n' .. ARGV[5] .. '\\n' .. ARGV[2])
return 1
`;

const UNTRACK_SCRIPT = `
local info = redis.call('HGET', KEYS[1], ARGV[1])
if not info then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call(ARGV[5], ARGV[2], ARGV[3] .. 'leave\\n' .. ARGV[4] .. '\\n' .. info)
return 1
`;

/** Lists the members of live servers; removes those of dead ones, publishing their leaves. */
const MEMBERS_SCRIPT = `
local all = redis.call('HGETALL', KEYS[1])
local alive = {}
local out = {}
for i = 1, #all, 2 do
  local field = all[i]
  local server = string.match(field, '^([^:]+):')
  if alive[server] == nil then alive[server] = redis.call('EXISTS', ARGV[1] .. server) == 1 end
  if alive[server] then
    out[#out + 1] = field
    out[#out + 1] = all[i + 1]
  else
    redis.call('HDEL', KEYS[1], field)
    local id = string.match(field, ':(.*)$')
    redis.call(ARGV[4], ARGV[2], ARGV[3] .. 'leave\\n' .. id .. '\\n' .. all[i + 1])
  end
end
return out
`;

/** A presence event on a topic channel, once its head is off: `join|leave\nid\ninfo`. */
export interface PresenceMessage {
  kind: 'join' | 'leave';
  id: number;
  info: string;
}

/** Reads a presence message's body (after the head); null when it is not one. */
export function parsePresence(body: Buffer): PresenceMessage | null {
  const text = body.toString('utf8');
  const first = text.indexOf('\n');
  const second = text.indexOf('\n', first + 1);
  if (first < 0 || second < 0) return null;
  const kind = text.slice(0, first);
  const id = text.slice(first + 1, second);
  if ((kind !== 'join' && kind !== 'leave') || !/^[0-9]{1,16}$/.test(id)) return null;
  return { kind, id: Number(id), info: text.slice(second + 1) };
}

/** Runs the presence scripts through the backplane's route, and keeps this server alive. */
export class RedisPresence {
  private timer: NodeJS.Timeout | null = null;

  /**
   * @param server this server's name in the hash (its origin tag, as hex)
   * @param topics the topics this server has members in (on a cluster, each has its own alive key)
   */
  constructor(
    private readonly route: () => RedisRoute,
    private readonly base: string,
    private readonly server: string,
    private readonly topics: () => Iterable<string>,
  ) {}

  private key(topic: string): string {
    return `${this.base}:p:{${topic}}`;
  }

  /** Where the alive keys of `topic`'s servers are: one per server, or on a cluster one per server and topic. */
  private alivePrefix(topic: string): string {
    return this.route().tagged ? `${this.key(topic)}:alive:` : `${this.base}:alive:`;
  }

  /** Keeps this server's alive keys fresh from now on (once presence is used). */
  private keepAlive(topic: string): void {
    const set = (t: string): void => {
      const key = this.alivePrefix(t) + this.server;
      this.route().ask(key, ['SET', key, '1', 'PX', String(ALIVE_FOR)], null);
    };
    if (this.route().tagged) set(topic);
    if (this.timer !== null) return;
    const refresh = (): void => {
      if (!this.route().tagged) return set('');
      for (const t of this.topics()) set(t);
    };
    refresh();
    this.timer = setInterval(refresh, ALIVE_EVERY);
    this.timer.unref();
  }

  /** Connection `id` of this server is present in `topic` with `info` (JSON); its join is published with `head`. */
  track(topic: string, id: number, info: string, channel: string, head: Buffer): void {
    this.keepAlive(topic);
    const route = this.route();
    const key = this.key(topic);
    const field = `${this.server}:${id}`;
    route.send(key, ['EVAL', TRACK_SCRIPT, '1', key, field, info, channel, head, String(id), route.publishCommand]);
  }

  untrack(topic: string, id: number, channel: string, head: Buffer): void {
    const route = this.route();
    const key = this.key(topic);
    const field = `${this.server}:${id}`;
    route.send(key, ['EVAL', UNTRACK_SCRIPT, '1', key, field, channel, head, String(id), route.publishCommand]);
  }

  /** Who is present in `topic` on every live server (null: Redis could not answer). */
  members(topic: string, channel: string, head: Buffer): Promise<Member[] | null> {
    return new Promise((resolve) => {
      const route = this.route();
      const key = this.key(topic);
      const sent = route.send(
        key,
        ['EVAL', MEMBERS_SCRIPT, '1', key, this.alivePrefix(topic), channel, head, route.publishCommand],
        (reply) => resolve(readMembers(reply)),
      );
      if (!sent) resolve(null);
    });
  }

  /** This server stops: its alive key goes (its members' leaves were published as its connections closed). */
  close(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }
}

function readMembers(reply: Reply): Member[] | null {
  if (!Array.isArray(reply)) return null;
  const out: Member[] = [];
  for (let i = 0; i + 1 < reply.length; i += 2) {
    const field = reply[i];
    const info = reply[i + 1];
    if (!Buffer.isBuffer(field) || !Buffer.isBuffer(info)) return null;
    const id = Number(field.toString('latin1').split(':')[1]);
    try {
      out.push({ id, info: JSON.parse(info.toString('utf8')) as unknown });
    } catch {
      return null;
    }
  }
  return out.sort((a, b) => a.id - b.id);
}
