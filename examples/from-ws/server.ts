/**
 * The wsz version of ws-server.mjs (see README.md):  PORT=9001 TOKEN=secret pnpm from-ws
 * maxPayload becomes maxMessageSize, the ping/terminate loop the heartbeat config.
 */
import { Server } from 'wsz';
import { Room } from './handler.ts';

const server = new Server(Room, {
  port: Number(process.env.PORT ?? 9001),
  maxMessageSize: 64 * 1024,
  // A ping after 30 s of silence; no answer within 30 s more closes the connection.
  heartbeat: { interval: 30_000, timeout: 30_000 },
});
const address = await server.listen({ token: process.env.TOKEN ?? 'secret' });
console.log(`wsz room listening on ${typeof address === 'string' ? address : `${address.address}:${address.port}`}`);
process.once('SIGINT', () => server.stop().then(() => process.exit(0)));
