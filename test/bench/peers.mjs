// The yardsticks: ws and uWebSockets.js, installed at run time into a cache folder (never dependencies of
// this project), each with a small server for the benchmark scenarios. `peers()` returns how to start them.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

const WS = 'ws@8.18.3';
// uWebSockets.js is not on npm; this build of it is, with native binaries up to Node 22's ABI.
const UWS = '@trufflesuite/uws-js-unofficial@20.30.0-unofficial.0';

// MODE: echo | fanout (every message to every connection) | deflate (echo with permessage-deflate).
const WS_SERVER = `import { WebSocketServer } from 'ws';
const mode = process.env.MODE ?? 'echo';
const wss = new WebSocketServer({ port: +process.env.PORT, host: '127.0.0.1', perMessageDeflate: mode === 'deflate', maxPayload: 64 * 1024 * 1024 });
wss.on('connection', (ws) => {
  ws.on('error', () => {});
  ws.on('message', mode === 'fanout'
    ? (data, binary) => { for (const c of wss.clients) c.send(data, { binary }); }
    : (data, binary) => ws.send(data, { binary }));
});
wss.on('listening', () => console.log('listening on 127.0.0.1:' + process.env.PORT));
`;

const UWS_SERVER = `const uWS = require('@trufflesuite/uws-js-unofficial');
const mode = process.env.MODE ?? 'echo';
const app = uWS.App().ws('/*', {
  compression: mode === 'deflate' ? uWS.SHARED_COMPRESSOR : uWS.DISABLED,
  maxPayloadLength: 64 * 1024 * 1024, maxBackpressure: 64 * 1024 * 1024, idleTimeout: 0,
  open: (ws) => { if (mode === 'fanout') ws.subscribe('all'); },
  message: (ws, m, binary) => { if (mode === 'fanout') app.publish('all', m, binary); else ws.send(m, binary, mode === 'deflate'); },
}).listen('127.0.0.1', +process.env.PORT, (t) => console.log(t ? 'listening on 127.0.0.1:' + process.env.PORT : 'failed'));
`;

/** The cache folder with ws and uWS installed and their servers written; installs on first use. */
export function peers() {
  const dir = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'wsz-bench');
  mkdirSync(dir, { recursive: true });
  if (
    !existsSync(join(dir, 'node_modules', 'ws')) ||
    !existsSync(join(dir, 'node_modules', '@trufflesuite', 'uws-js-unofficial'))
  ) {
    writeFileSync(join(dir, 'package.json'), '{ "name": "wsz-bench-peers", "private": true }\n');
    console.error(`installing ${WS} and ${UWS} into ${dir} ...`);
    execFileSync(
      'npm',
      ['install', '--no-audit', '--no-fund', '--no-package-lock', WS, 'bufferutil', 'utf-8-validate', UWS],
      { cwd: dir, stdio: 'ignore', timeout: 300_000 },
    );
  }
  writeFileSync(join(dir, 'ws-server.mjs'), WS_SERVER);
  writeFileSync(join(dir, 'uws-server.cjs'), UWS_SERVER);
  let uwsLoads = true;
  try {
    execFileSync(process.execPath, ['-e', "require('@trufflesuite/uws-js-unofficial').App()"], {
      cwd: dir,
      stdio: 'ignore',
    });
  } catch {
    uwsLoads = false; // no native binary for this Node's ABI
  }
  return {
    ws: { command: [process.execPath, join(dir, 'ws-server.mjs')] },
    uws: uwsLoads ? { command: [process.execPath, join(dir, 'uws-server.cjs')] } : null,
  };
}
