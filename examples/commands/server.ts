/** Command server (see handler.ts):  PORT=9003 pnpm commands */
import { Server } from 'wsz';
import { Commands } from './handler.ts';

const server = new Server(Commands, { port: Number(process.env.PORT ?? 9003) });
const address = await server.listen({ name: 'the command server' });
console.log(
  `command server listening on ${typeof address === 'string' ? address : `${address.address}:${address.port}`}`,
);
process.once('SIGINT', () => server.stop().then(() => process.exit(0)));
