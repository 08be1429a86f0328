import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Handler, Server, type MessageType } from 'wsz';
import { frame, upgradeRequest } from '../helpers/raw-client.js';

class Echo extends Handler {
  clientMessage(data: Buffer, type: MessageType) {
    type === 'text' ? this.conn.writeText(data) : this.conn.writeBin(data);
  }
}

describe('unixPath', () => {
  it('listens on a Unix socket, replacing a stale file, and echoes', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'wsz-')), 'ws.sock');
    writeFileSync(path, 'stale');
    const server = new Server(Echo, { unixPath: path, logLevel: 'silent', threadPool: { count: 0 } });
    expect(await server.listen()).toBe(path);
    const socket = connect(path);
    let got = Buffer.alloc(0);
    socket.on('data', (d) => (got = Buffer.concat([got, d])));
    socket.write(Buffer.concat([Buffer.from(upgradeRequest()), frame(1, 'over unix')]));
    const deadline = Date.now() + 3000;
    while (!got.includes('over unix') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(got.toString('latin1')).toMatch(/^HTTP\/1.1 101 /);
    expect(got.subarray(-11)).toEqual(Buffer.from([0x81, 9, ...Buffer.from('over unix')]));
    socket.destroy();
    await server.stop();
  });
});
