import type { Reply } from '../resp.js';

/**
 * Redis Cluster's key space (the cluster specification, "Key distribution model"): 16384 slots, a key's slot the
 * CRC16 (XMODEM) of the key, or of its hash tag (the bytes between the first `{` and the next `}`, when not empty),
 * modulo 16384. Channels of sharded pub/sub map to slots the same way.
 */
export const SLOTS = 16384;

const TABLE = new Uint16Array(256);
for (let i = 0; i < 256; i++) {
  let c = i << 8;
  for (let j = 0; j < 8; j++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff;
  TABLE[i] = c;
}

function crc16(bytes: Buffer, start: number, end: number): number {
  let crc = 0;
  for (let i = start; i < end; i++) crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ bytes[i]!) & 0xff]!;
  return crc;
}

/** The slot of a key or a channel. */
export function hashSlot(key: string): number {
  const bytes = Buffer.from(key, 'utf8');
  const open = bytes.indexOf(0x7b); // {
  if (open >= 0) {
    const close = bytes.indexOf(0x7d, open + 1); // }
    if (close > open + 1) return crc16(bytes, open + 1, close) % SLOTS;
  }
  return crc16(bytes, 0, bytes.length) % SLOTS;
}

/** One range of slots and the address of the master that serves it. */
export interface SlotRange {
  start: number;
  end: number;
  host: string;
  port: number;
}

/**
 * Reads CLUSTER SLOTS' reply: `[[start, end, [host, port, id, ...], replicas...], ...]` (the master first). Ranges
 * with an empty host (a node that does not know its own address) are left out; null when the reply is not one.
 */
export function parseClusterSlots(reply: Reply): SlotRange[] | null {
  if (!Array.isArray(reply)) return null;
  const ranges: SlotRange[] = [];
  for (const entry of reply) {
    if (!Array.isArray(entry) || entry.length < 3) return null;
    const [start, end, master] = entry;
    if (typeof start !== 'number' || typeof end !== 'number' || !Array.isArray(master)) return null;
    const [host, port] = master;
    if (!Buffer.isBuffer(host) || typeof port !== 'number') return null;
    const name = host.toString('latin1');
    if (name === '' || name === '?') continue;
    ranges.push({ start, end, host: name, port });
  }
  return ranges;
}

/** A redirection (`MOVED 3999 127.0.0.1:6381`, `ASK ...`): its kind, slot and address; null for other errors. */
export function parseRedirection(message: string): { ask: boolean; slot: number; host: string; port: number } | null {
  const m = /^(MOVED|ASK) (\d+) (.+):(\d+)$/.exec(message.trim());
  if (m === null) return null;
  return { ask: m[1] === 'ASK', slot: Number(m[2]), host: m[3]!, port: Number(m[4]) };
}
