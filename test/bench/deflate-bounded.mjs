// The echo handler with dedicated, bounded compression state (context takeover both ways, 10-bit
// windows, memLevel 4), for test/bench/deflate-memory.sh:
//   bash test/bench/deflate-memory.sh 'exec node --import tsx --conditions=wsz-source test/bench/deflate-bounded.mjs'
import { Server } from 'wsz';
import { Echo } from '../../examples/echo/handler.ts';

const deflate = {
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 10,
  clientMaxWindowBits: 10,
  memLevel: 4,
};
const server = new Server(Echo, {
  port: Number(process.env.PORT),
  threadPool: { count: 0 },
  maxConn: 100_000,
  perMessageDeflate: deflate,
});
await server.listen({ broadcast: false });
console.log('listening');
