import { randomBytes } from 'node:crypto';
import type { Position, ResolvedHistoryRule } from '../../delivery/history.js';
import type { BrokerHistory } from '../backplane.js';
import type { RedisRoute } from './redis-route.js';
import type { Reply } from './resp.js';

/**
 * Topic history in Redis (docs/delivery.md): for each topic with history a hash `<base>:h:{<topic>}` holds its
 * epoch and last offset, and a stream `<base>:h:{<topic>}:s` its last messages, entry ids `0-<offset>` (so the two
 * keys of a topic share a cluster slot). A publish runs one script: the next offset, the entry (the stream capped at
 * the rule's count), and the PUBLISH that carries it live to every server, stamped; so every server, and every
 * client that resumes on any of them, sees one order. A topic whose keys are gone (never used, expired after twice
 * the rule's age, or a Redis restarted without persistence) starts again under a new epoch.
 *
 * A publish is safe to run twice: it carries this server's origin and a number that grows with each publish, the hash
 * keeps the last number it ran per origin (`p:<origin>`), and a number already run is skipped. So a publish whose
 * connection was lost before its reply is sent again on the next one (it may or may not have run): never lost,
 * never twice.
 */

const PUBLISH_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'epoch', ARGV[1], 'last', 0)
end
local ran = 'p:' .. ARGV[10]
if tonumber(redis.call('HGET', KEYS[1], ran) or '0') >= tonumber(ARGV[11]) then return 0 end
redis.call('HSET', KEYS[1], ran, ARGV[11])
local n = redis.call('HINCRBY', KEYS[1], 'last', 1)
local epoch = redis.call('HGET', KEYS[1], 'epoch')
local t = redis.call('TIME')
local ms = tostring(t[1]) .. string.format('%03d', math.floor(tonumber(t[2]) / 1000))
redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[2], '0-' .. n, 'b', ARGV[6], 'at', ms, 'd', ARGV[8])
if ARGV[3] ~= '0' then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
end
redis.call(ARGV[9], ARGV[4], ARGV[5] .. n .. '\\n' .. epoch .. '\\n' .. ARGV[7] .. '\\n' .. ARGV[6] .. '\\n' .. ARGV[8])
return n
`;

const SINCE_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'epoch', ARGV[1], 'last', 0)
  if ARGV[4] ~= '0' then redis.call('PEXPIRE', KEYS[1], ARGV[4]) end
end
local epoch = redis.call('HGET', KEYS[1], 'epoch')
local last = tonumber(redis.call('HGET', KEYS[1], 'last'))
if ARGV[2] == '' or ARGV[3] ~= epoch then return {epoch, last} end
local since = tonumber(ARGV[2])
if since >= last then return {epoch, last} end
return {epoch, last, redis.call('XRANGE', KEYS[2], '0-' .. (since + 1), '0-' .. last)}
`;

/** A stamped message on a topic channel, once its 12-byte head is off: `offset\nepoch\nexcept\ntype\npayload`. */
export interface StampedMessage {
  position: Position;
  except: number;
  binary: boolean;
  payload: Buffer;
}

/** Reads a stamped message's body (after the head); null when it is not one. */
export function parseStamped(body: Buffer): StampedMessage | null {
  const fields: string[] = [];
  let at = 0;
  for (let i = 0; i < 4; i++) {
    const end = body.indexOf(0x0a, at);
    if (end < 0 || end - at > 64) return null;
    fields.push(body.toString('latin1', at, end));
    at = end + 1;
  }
  const [offset, epoch, except, type] = fields as [string, string, string, string];
  if (!/^[0-9]{1,15}$/.test(offset) || !/^[0-9]{1,16}$/.test(except) || (type !== '1' && type !== '2')) return null;
  return {
    position: { offset: Number(offset), epoch },
    except: Number(except),
    binary: type === '2',
    payload: body.subarray(at),
  };
}

/**
 * Runs the history scripts through the backplane's route (on a cluster, on the master of the topic's slot; the script
 * publishes with SPUBLISH there).
 */
export class RedisHistory {
  private readonly route: () => RedisRoute;
  private readonly base: string;
  /** This server's publishes, to the script (see the class comment): who, and how many so far. */
  private readonly origin = randomBytes(8).toString('hex');
  private published = 0;

  constructor(route: () => RedisRoute, base: string) {
    this.route = route;
    this.base = base;
  }

  private keys(topic: string): [string, string] {
    const meta = `${this.base}:h:{${topic}}`;
    return [meta, `${meta}:s`];
  }

  /**
   * Gives the message its position and keeps it, and publishes it stamped on `channel` with `head` before it; false
   * when it could not even be queued (counted as lost by the connection).
   */
  publish(
    topic: string,
    rule: ResolvedHistoryRule,
    channel: string,
    head: Buffer,
    binary: boolean,
    payload: Buffer,
    except: number,
  ): boolean {
    const ttl = rule.seconds > 0 ? String(rule.seconds * 2000) : '0';
    const route = this.route();
    const keys = this.keys(topic);
    return route.send(
      keys[0],
      [
        'EVAL',
        PUBLISH_SCRIPT,
        '2',
        ...keys,
        epoch(),
        String(rule.messages),
        ttl,
        channel,
        head,
        binary ? '2' : '1',
        String(except),
        payload,
        route.publishCommand,
        this.origin,
        String(++this.published),
      ],
      null,
      true,
    );
  }

  /**
   * The topic's epoch and last offset, and with `since` (of the same epoch, behind the last) the entries after it
   * that the stream still holds. Resolves null when Redis could not answer (away, or the connection dropped first):
   * a subscriber is not kept waiting for a Redis that is away (it is told its resume is `unavailable`).
   */
  since(topic: string, since: Position | null, rule: ResolvedHistoryRule): Promise<BrokerHistory | null> {
    const ttl = rule.seconds > 0 ? String(rule.seconds * 2000) : '0';
    return new Promise((resolve) => {
      const keys = this.keys(topic);
      const sent = this.route().ask(
        keys[0],
        [
          'EVAL',
          SINCE_SCRIPT,
          '2',
          ...keys,
          epoch(),
          since === null ? '' : String(since.offset),
          since === null ? '' : since.epoch,
          ttl,
        ],
        (reply) => resolve(readSince(reply)),
      );
      if (!sent) resolve(null);
    });
  }
}

/** A new epoch: 9 bytes of randomness, as base64url (12 characters). */
function epoch(): string {
  return randomBytes(9).toString('base64url');
}

function readSince(reply: Reply): BrokerHistory | null {
  if (!Array.isArray(reply) || reply.length < 2) return null;
  const [epochBytes, last, entries] = reply;
  if (!Buffer.isBuffer(epochBytes) || typeof last !== 'number') return null;
  const history: BrokerHistory = { epoch: epochBytes.toString('latin1'), last, entries: null };
  if (!Array.isArray(entries)) return history;
  history.entries = [];
  for (const entry of entries) {
    // [id, [field, value, ...]]
    if (!Array.isArray(entry) || !Buffer.isBuffer(entry[0]) || !Array.isArray(entry[1])) return null;
    const id = entry[0].toString('latin1');
    const fields = entry[1];
    let binary = false;
    let at = 0;
    let payload: Buffer | null = null;
    for (let i = 0; i + 1 < fields.length; i += 2) {
      const name = (fields[i] as Buffer).toString('latin1');
      const value = fields[i + 1] as Buffer;
      if (name === 'b') binary = value.toString('latin1') === '2';
      else if (name === 'at') at = Number(value.toString('latin1'));
      else if (name === 'd') payload = value;
    }
    if (!id.startsWith('0-') || payload === null) return null;
    history.entries.push({ offset: Number(id.slice(2)), binary, at, payload });
  }
  return history;
}
