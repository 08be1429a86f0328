// One server of the scale run (test/bench/scale/run.mjs): members join the room their path names (/r12: room r12)
// and every binary message is published to the room its bytes 8-11 name (little-endian), through Redis when
// REDIS_URL is set. Env: THREADS (hook threads, default 0), REDIS_URL. Tells its parent its port, then serves until
// the parent ends it.
import { Handler, RedisBackplane, Server } from '../../../packages/websocket/dist/index.js';

export class Member extends Handler {
  static module = import.meta.url;
  room = '';

  init(handshake) {
    this.room = handshake.path.slice(1);
  }

  afterInit() {
    this.conn.subscribe(this.room);
  }

  clientMessage(data) {
    if (data.length >= 12) this.conn.publish(`r${data.readUInt32LE(8)}`, data, { binary: true });
  }
}

if (process.send) {
  const url = process.env.REDIS_URL;
  const server = new Server(Member, {
    port: 0,
    address: '127.0.0.1',
    logLevel: 'warn',
    maxConn: 20_000,
    handshake: { timeout: 30_000 },
    threadPool: { count: Number(process.env.THREADS ?? 0) },
    ...(url ? { backplane: new RedisBackplane(url, { prefix: 'scale' }) } : {}),
  });
  const { port } = await server.listen();
  process.send({ port });
  process.on('message', async (m) => {
    if (m === 'stats') process.send({ stats: server.stats() });
  });
  process.on('disconnect', () => process.exit(0));
}
