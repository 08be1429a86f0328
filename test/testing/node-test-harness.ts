// Run by harness.test.ts with `node --test`: the harness needs no vitest.
import { test } from 'node:test';
import { Handler } from 'wsz';
import * as testing from 'wsz/testing';

class Upper extends Handler {
  clientMessage(data: Buffer) {
    this.conn.write(data.toString().toUpperCase());
  }
}

test('testing.init works under node:test', async () => {
  const t = await testing.init();
  t.conn.write('plain');
  await t.expectMessage('text', 'plain');
  await t.deinit();
});

test('testing.handler works under node:test', async () => {
  const h = await testing.handler(Upper);
  h.send('shout');
  await h.expectMessage('text', 'SHOUT');
  await h.deinit();
});
