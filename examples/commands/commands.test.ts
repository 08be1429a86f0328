// The Commands handler, unit-tested with the wsz testing harness: real connections, no mocks.
import { afterEach, describe, expect, it } from 'vitest';
import { HandshakeStatusError } from 'wsz/client';
import * as testing from 'wsz/testing';
import { Commands } from './handler.js';

const app = { name: 'test server' };
let h: testing.TestHandler<Commands> | undefined;
afterEach(() => h?.deinit());

describe('Commands', () => {
  it('refuses a connection without ?user= with 401', async () => {
    const err = await testing.handler(Commands, { app }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HandshakeStatusError);
    expect((err as HandshakeStatusError).status).toBe(401);
  });

  it('greets the user by name', async () => {
    h = await testing.handler(Commands, { app, query: { user: 'ann' } });
    await h.expectMessage('text', 'welcome to test server, ann');
  });

  it('runs /echo, /upper and /whoami', async () => {
    h = await testing.handler(Commands, { app, query: { user: 'bob' } });
    await h.expectMessage('text');
    h.send('/echo hi there');
    h.send('/upper loud');
    h.send('/whoami');
    await h.expectMessage('text', 'hi there');
    await h.expectMessage('text', 'LOUD');
    await h.expectMessage('text', 'bob');
  });

  it('explains an unknown command', async () => {
    h = await testing.handler(Commands, { app, query: { user: 'cy' } });
    await h.expectMessage('text');
    h.send('/dance');
    await h.expectMessage('text', 'unknown command "/dance"; try /echo, /upper, /whoami, /quit');
  });

  it('closes with 1000 on /quit, and the close hook runs', async () => {
    h = await testing.handler(Commands, { app, query: { user: 'di' } });
    h.send('/quit');
    await h.expectClose(1000, 'bye di');
    await h.waitClosed();
    expect(h.closed).toBe(true);
  });

  it('refuses binary messages with 1003', async () => {
    h = await testing.handler(Commands, { app, query: { user: 'ed' } });
    h.sendBin(Buffer.from([1, 2]));
    await h.expectClose(1003, 'text commands only');
  });
});
