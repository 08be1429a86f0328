// Opens N connections to 127.0.0.1:PORT offering permessage-deflate as browsers do; each sends one
// compressible 2 KiB text message and reads its echo; then they stay open HOLD seconds.
//   node test/bench/deflate-clients.mjs PORT N HOLD
// Prints "ready N accepted=K" once every echo is back (K: connections that agreed on deflate).
import { connect } from 'node:net';
import { randomBytes } from 'node:crypto';
import { constants, deflateRawSync } from 'node:zlib';

const [port, n, hold] = process.argv.slice(2).map(Number);
const text = Buffer.from(
  JSON.stringify(Array.from({ length: 40 }, (_, i) => ({ id: i, name: `item ${i}`, ok: true }))),
).subarray(0, 2048);
// One message compressed as RFC 7692 7.2.1 says: deflate, sync flush, the 00 00 ff ff tail removed.
const compressed = deflateRawSync(text, { finishFlush: constants.Z_SYNC_FLUSH }).subarray(0, -4);
function frame(payload, rsv1) {
  const key = randomBytes(4);
  const head = Buffer.from([0x81 | (rsv1 ? 0x40 : 0), 0x80 | 126, payload.length >> 8, payload.length & 0xff]);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i] ^= key[i & 3];
  return Buffer.concat([head, key, body]);
}
let done = 0;
let accepted = 0;
const sockets = [];
function open(i) {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    sockets.push(s);
    let buf = Buffer.alloc(0);
    let upgraded = false;
    s.on('error', () => resolve());
    s.on('connect', () =>
      s.write(
        `GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n`,
      ),
    );
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (!upgraded) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString();
        upgraded = true;
        const agreed = /sec-websocket-extensions: permessage-deflate/i.test(head);
        if (agreed) accepted++;
        buf = buf.subarray(end + 4);
        s.write(agreed ? frame(compressed, true) : frame(text, false));
      }
      if (upgraded && buf.length >= 2) {
        buf = Buffer.alloc(0);
        done++;
        resolve();
      }
    });
  });
}
for (let i = 0; i < n; i += 200) await Promise.all(Array.from({ length: Math.min(200, n - i) }, (_, k) => open(i + k)));
console.log(`ready ${done} accepted=${accepted}`);
setTimeout(() => {
  for (const s of sockets) s.destroy();
  process.exit(0);
}, hold * 1000);
