import { createHash } from 'node:crypto';
import { Handler } from 'wsz';

/** SHA-256 rounds per message (env ROUNDS, default 500): about a millisecond of CPU. */
const ROUNDS = Number(process.env.ROUNDS ?? 500);

/**
 * CPU-bound work per message: hashes the message ROUNDS times and answers with the hex digest.
 * On the I/O thread (THREADS=0) every message waits for the one before it on any connection; on
 * worker threads, connections owned by different workers hash at the same time.
 */
export class Hasher extends Handler {
  static module = import.meta.url;

  clientMessage(data: Buffer): void {
    this.conn.write(stretch(data, ROUNDS));
  }
}

/** `rounds` chained SHA-256 hashes of `data`, as hex. */
export function stretch(data: Uint8Array, rounds: number): string {
  let digest: Uint8Array = data;
  for (let i = 0; i < rounds; i++) digest = createHash('sha256').update(digest).digest();
  return Buffer.from(digest).toString('hex');
}
