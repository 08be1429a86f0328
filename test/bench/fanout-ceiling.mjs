// The ceiling of Node stream writes under the fanout scenario (see docs/benchmarks.md, "Fan-out"): no framework, no
// checks; it parses only small masked frames and writes one pre-framed buffer to every socket with socket.write.
// Not a server to use: PORT=9601 node test/bench/fanout-ceiling.mjs, then compare.sh with SCEN=fanout.
import { createServer } from 'node:net';
import { createHash } from 'node:crypto';
const socks = [];
createServer({ noDelay: true }, (s) => {
  let open = false;
  s.on('error', () => {});
  s.on('close', () => {
    const i = socks.indexOf(s);
    if (i >= 0) socks.splice(i, 1);
  });
  s.on('data', (d) => {
    if (!open) {
      const key = /Sec-WebSocket-Key: (.*)\r\n/i.exec(d.toString())[1];
      const acc = createHash('sha1')
        .update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11')
        .digest('base64');
      s.write(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acc}\r\n\r\n`,
      );
      open = true;
      socks.push(s);
      return;
    }
    // assume whole masked frames of < 126 bytes
    let at = 0;
    while (at + 6 <= d.length) {
      const len = d[at + 1] & 0x7f;
      const mask = d.subarray(at + 2, at + 6);
      const out = Buffer.allocUnsafe(2 + len);
      out[0] = d[at];
      out[1] = len;
      for (let i = 0; i < len; i++) out[2 + i] = d[at + 6 + i] ^ mask[i & 3];
      for (const c of socks) c.write(out);
      at += 6 + len;
    }
  });
}).listen(+process.env.PORT, '127.0.0.1', () => console.log('listening'));
