import { afterEach, describe, expect, it } from 'vitest';
import { RawClient, closeBody, frame } from '../helpers/raw-client.js';
import { MODES, inMode, openGate, serve, serveAndOpen } from '../helpers/modes.js';
import { CloseRecorder, PingRecorder, PongRecorder } from '../helpers/recorder.js';
import { eventually, freshStats } from '../helpers/server.js';
import type { HandlerClass, HandlerHooks, ServerConfig } from 'wsz';

const cat = (...b: Buffer[]) => Buffer.concat(b);

describe.each(MODES)('frames and hooks ($name)', ({ threads, workers }) => {
  inMode(workers);
  let cleanup: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanup) await c(); // clients first, then servers
    cleanup = [];
  });

  const open = (behaviour?: string, config?: ServerConfig, handler?: HandlerClass<HandlerHooks<any>>) =>
    serveAndOpen(cleanup, threads, behaviour, config, handler);
  const messages = (events: string[]) => events.filter((e) => e.startsWith('message'));

  describe('messages', () => {
    it('echoes text as text and binary as binary, unmasked, in order', async () => {
      const { client } = await open();
      client.sendFrame(1, 'héllo');
      client.sendFrame(2, Buffer.from([0, 255]));
      expect(await client.nextFrame()).toEqual({
        fin: true,
        rsv: 0,
        opcode: 1,
        masked: false,
        payload: Buffer.from('héllo'),
      });
      expect(await client.nextFrame()).toEqual({
        fin: true,
        rsv: 0,
        opcode: 2,
        masked: false,
        payload: Buffer.from([0, 255]),
      });
    });

    it('handles every length encoding: 0, 125, 126, 65535, 65536 bytes', async () => {
      const { client, events } = await open(undefined, { maxMessageSize: 70000 });
      for (const n of [0, 125, 126, 65535, 65536]) {
        client.sendFrame(2, Buffer.alloc(n, n & 0xff));
        const f = await client.nextFrame();
        expect(f.payload.length).toBe(n);
        expect(f.payload.equals(Buffer.alloc(n, n & 0xff))).toBe(true);
      }
      await eventually('5 messages', () => messages(events).length === 5);
    });

    it('reassembles a fragmented message with pings and pongs between the fragments', async () => {
      const { client, events } = await open();
      client.send(
        cat(
          frame(1, 'frag', { fin: false }),
          frame(9, 'p1'),
          frame(0, 'men', { fin: false }),
          frame(10, 'x'),
          frame(0, 'ted'),
        ),
      );
      expect(await client.nextFrame()).toMatchObject({ opcode: 10, payload: Buffer.from('p1') });
      expect((await client.nextFrame()).payload.toString()).toBe('fragmented');
      await eventually('message', () => events.includes('message text fragmented'));
    });

    it('delivers the same messages when every byte arrives in its own packet', async () => {
      const { client, events } = await open();
      await client.trickle(
        cat(frame(1, 'slow'), frame(2, Buffer.alloc(130, 1), { fin: false }), frame(0, Buffer.alloc(2, 2))),
      );
      expect((await client.nextFrame()).payload.toString()).toBe('slow');
      expect((await client.nextFrame()).payload.length).toBe(132);
      await eventually('messages', () => messages(events).length === 2);
      expect(messages(events)).toEqual(['message text slow', 'message binary 132 bytes']);
    });

    it('runs hooks one at a time in arrival order, even when they are async', async () => {
      const { client, events } = await open('asyncDelayed');
      client.send(cat(frame(1, 'a'), frame(1, 'b'), frame(1, 'c')));
      const got = [await client.nextFrame(), await client.nextFrame(), await client.nextFrame()].map((f) =>
        f.payload.toString(),
      );
      expect(got).toEqual(['a', 'b', 'c']);
      await eventually('messages', () => messages(events).length === 3);
      expect(events).toEqual(['init /', 'afterInit', 'message text a', 'message text b', 'message text c']);
    });

    it('sends several writes from one hook in order', async () => {
      const { client } = await open('threeWrites');
      client.sendFrame(1, 'go');
      const frames = [await client.nextFrame(), await client.nextFrame(), await client.nextFrame()];
      expect(frames.map((f) => [f.opcode, f.payload.toString()])).toEqual([
        [1, '1'],
        [2, '2'],
        [1, '3'],
      ]);
    });

    it('writes a fragmented message with writeFrame and fin: false', async () => {
      const { client } = await open('fragmentedWrite');
      client.sendFrame(1, 'go');
      expect(await client.nextFrame()).toMatchObject({ fin: false, opcode: 1, payload: Buffer.from('ab') });
      expect(await client.nextFrame()).toMatchObject({ fin: true, opcode: 0, payload: Buffer.from('cd') });
    });

    it('sends a large binary message (1 MiB) intact', async () => {
      const big = Buffer.alloc(1 << 20);
      for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
      const { client } = await open('bigWrite');
      client.sendFrame(1, 'go');
      expect((await client.nextFrame()).payload.equals(big)).toBe(true);
    });

    it('refuses writes from init (before the 101) with a clear error', async () => {
      const { events } = await open('writeInInit');
      await eventually('init write error', () => events.some((e) => e.startsWith('init write:')));
      expect(events.find((e) => e.startsWith('init write:'))).toMatch(/cannot write before the handshake completes/);
    });
  });

  describe('control frames', () => {
    it('answers a ping with a pong carrying the same payload when clientPing is absent', async () => {
      const { client } = await open();
      client.sendFrame(9, 'are you there');
      expect(await client.nextFrame()).toMatchObject({ opcode: 10, payload: Buffer.from('are you there') });
    });

    it('calls clientPing instead, which answers itself', async () => {
      const { client, events } = await open('pongPlus', undefined, PingRecorder);
      client.sendFrame(9, 'hi');
      expect(await client.nextFrame()).toMatchObject({ opcode: 10, payload: Buffer.from('hi!') });
      await eventually('ping', () => events.includes('ping hi'));
    });

    it('calls clientPong for a pong and sends nothing back', async () => {
      const { client, events } = await open(undefined, undefined, PongRecorder);
      client.sendFrame(10, 'beat');
      await eventually('clientPong', () => events.includes('pong beat'));
      client.sendFrame(9, 'x');
      expect((await client.nextFrame()).opcode).toBe(10);
    });

    it('sends pings from conn.writePing', async () => {
      const { client } = await open('pingBack');
      client.sendFrame(1, 'go');
      expect(await client.nextFrame()).toMatchObject({ opcode: 9, payload: Buffer.from('srv') });
    });
  });

  describe('close handshake', () => {
    it('client-initiated: echoes the code, ends TCP, runs close once', async () => {
      const { client, events } = await open();
      client.sendFrame(8, closeBody(4001, 'done'));
      expect((await client.readClose()).code).toBe(4001);
      expect(await client.waitClosed()).toBe(true);
      await eventually('close hook', () => events.includes('close'));
      await new Promise((r) => setTimeout(r, 50));
      expect(events.filter((e) => e === 'close')).toHaveLength(1);
    });

    it('client-initiated after messages: their replies go out before the answering close', async () => {
      const { client } = await open('asyncRandom');
      client.send(cat(frame(1, 'one'), frame(1, 'last words'), frame(8, closeBody(1000))));
      const c = await client.readClose();
      expect(c.code).toBe(1000);
      expect(c.before.map((f) => f.payload.toString())).toEqual(['one', 'last words']);
      expect(await client.waitClosed()).toBe(true);
    });

    it('client-initiated without a code: answers with an empty close', async () => {
      const { client } = await open();
      client.sendFrame(8);
      expect(await client.nextFrame()).toMatchObject({ opcode: 8, payload: Buffer.alloc(0) });
    });

    it('calls clientClose, which answers with its own code', async () => {
      const { client, events } = await open('answerClose', undefined, CloseRecorder);
      client.sendFrame(8, closeBody(1001, 'leaving'));
      expect(await client.readClose()).toMatchObject({ code: 1000, reason: 'see you' });
      await eventually('close', () => events.includes('close'));
      expect(events.slice(2)).toEqual(['clientClose 1001 leaving', 'close']);
    });

    it('answers the close after clientClose when the hook did not', async () => {
      const { client } = await open(undefined, undefined, CloseRecorder);
      client.sendFrame(8, closeBody(1000));
      expect((await client.readClose()).code).toBe(1000);
    });

    it('server-initiated: sends code and reason, waits for the answer, then ends TCP', async () => {
      const { client, events } = await open('closeOnMessage');
      client.sendFrame(1, 'close me');
      expect(await client.readClose()).toMatchObject({ code: 4000, reason: 'bye now' });
      expect(client.idle).toBe(true);
      client.sendFrame(8, closeBody(4000));
      expect(await client.waitClosed()).toBe(true);
      await eventually('close', () => events.includes('close'));
    });

    it('server-initiated: drops a peer that never answers after closeTimeout', async () => {
      const { client, events } = await open('closeDefault', { closeTimeout: 200 });
      client.sendFrame(1, 'x');
      expect((await client.readClose()).code).toBe(1000);
      expect(await client.waitClosed(3000)).toBe(true);
      await eventually('close', () => events.includes('close'));
    });

    it('ignores data frames that arrive after the server sent its close', async () => {
      const { client, events } = await open('closeOnStop');
      client.send(cat(frame(1, 'stop'), frame(1, 'ignored')));
      await client.readClose();
      client.sendFrame(8, closeBody(1000));
      await client.waitClosed();
      await eventually('close', () => events.includes('close'));
      expect(events).not.toContain('message text ignored');
    });

    it('conn.close validates its code and reason', async () => {
      const { client, events } = await open('closeValidation');
      client.sendFrame(1, 'x');
      expect((await client.nextFrame()).payload.toString()).toBe('still open');
      await eventually('errors', () => events.some((e) => e.startsWith('errors')));
      expect(events).toContain('errors RangeError,RangeError,RangeError,RangeError,RangeError');
    });

    it('writes after close return false and send nothing; isClosed turns true', async () => {
      const { client, events } = await open('writesAfterClose');
      client.sendFrame(1, 'x');
      expect((await client.readClose()).before).toEqual([]);
      await eventually('results', () => events.some((e) => e.startsWith('results')));
      expect(events).toContain('results [false,true,false,false]');
    });
  });

  describe('protocol violations: close code, then TCP end, then close hook', () => {
    const cases: Array<[string, Buffer, number]> = [
      ['unmasked frame', frame(1, 'x', { mask: false }), 1002],
      ['RSV1 without extension', frame(1, 'x', { rsv: 4 }), 1002],
      ['unknown opcode 5', frame(5), 1002],
      ['fragmented ping', frame(9, '', { fin: false }), 1002],
      ['ping over 125 bytes', frame(9, Buffer.alloc(126)), 1002],
      ['continuation without start', frame(0, 'x'), 1002],
      ['new message inside a fragmented one', cat(frame(1, 'a', { fin: false }), frame(2, 'b')), 1002],
      ['1-byte close payload', frame(8, Buffer.from([1])), 1002],
      ['invalid close code 1005', frame(8, closeBody(1005)), 1002],
      ['invalid UTF-8 text', frame(1, Buffer.from([0x80])), 1007],
      ['invalid UTF-8 in a close reason', frame(8, cat(closeBody(1000), Buffer.from([0xc0]))), 1007],
      ['message above maxMessageSize', frame(2, Buffer.alloc(70000)), 1009],
      [
        'fragments summing above maxMessageSize',
        cat(frame(2, Buffer.alloc(40000), { fin: false }), frame(0, Buffer.alloc(40000))),
        1009,
      ],
    ];
    for (const [what, bytes, code] of cases) {
      it(`${what} -> ${code}`, async () => {
        const { client, events } = await open();
        client.send(bytes);
        const c = await client.readClose();
        expect(c.code).toBe(code);
        expect(c.reason.length).toBeGreaterThan(0);
        expect(await client.waitClosed()).toBe(true);
        await eventually('close hook', () => events.includes('close'));
        expect(events.filter((e) => e === 'close')).toHaveLength(1);
        expect(messages(events)).toEqual([]);
      });
    }

    // As in websocket.zig, where one connection's messages are handled one at a time in order: the
    // replies to the messages before a violation are sent, then the close.
    it('sends the replies to the messages before a violation, then the close', async () => {
      const { client, events } = await open();
      client.send(cat(frame(1, 'first'), frame(1, 'second'), frame(5), frame(1, 'never read')));
      const c = await client.readClose();
      expect(c.code).toBe(1002);
      expect(c.before.map((f) => f.payload.toString())).toEqual(['first', 'second']);
      expect(await client.waitClosed()).toBe(true);
      await eventually('messages', () => messages(events).length === 2);
      expect(messages(events)).toEqual(['message text first', 'message text second']);
    });

    it('waits for async hooks too: their replies precede the close', async () => {
      const { client } = await open('asyncRandom');
      client.send(cat(frame(1, 'a'), frame(1, 'b'), frame(1, 'c'), frame(1, Buffer.from([0xff]))));
      const c = await client.readClose();
      expect(c.code).toBe(1007);
      expect(c.before.map((f) => f.payload.toString())).toEqual(['a', 'b', 'c']);
    });

    it('waits no longer than closeTimeout for a hook that does not settle', async () => {
      const { client, shared } = await open('gatedMessages', { closeTimeout: 300 });
      cleanup.unshift(() => openGate(shared)); // even if an expectation fails: stop() waits for the hook
      const started = Date.now();
      client.send(cat(frame(1, 'held'), frame(5)));
      const c = await client.readClose();
      expect(c.code).toBe(1002);
      expect(c.before).toEqual([]);
      expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    });

    it('fails invalid UTF-8 in the first fragment before the rest of the message is sent', async () => {
      const { client } = await open();
      client.sendFrame(1, Buffer.from([0x61, 0xf5]), { fin: false });
      expect((await client.readClose()).code).toBe(1007);
    });

    it('fails invalid UTF-8 mid-frame before the rest of the frame is sent', async () => {
      const { client } = await open();
      const whole = frame(1, cat(Buffer.from('ok '), Buffer.from([0xed, 0xa0, 0x80]), Buffer.alloc(100, 0x61)));
      client.send(whole.subarray(0, 6 + 3 + 3));
      expect((await client.readClose()).code).toBe(1007);
    });

    it('fails a too-large frame from its header, before its payload arrives', async () => {
      const { client } = await open(undefined, { maxMessageSize: 1000 });
      client.send(frame(2, Buffer.alloc(5000)).subarray(0, 8));
      expect((await client.readClose()).code).toBe(1009);
    });
  });

  describe('the peer misbehaving at the TCP level', () => {
    it('vanishing (reset): cleaned up, close hook once', async () => {
      const { client, events, server } = await open();
      client.socket.resetAndDestroy();
      await eventually('close', () => events.includes('close'));
      await eventually('cleanup', () => server.stats().connections === 0);
    });

    it('half-closing: the server ends its side, close hook once', async () => {
      const { client, events } = await open();
      client.socket.end();
      expect(await client.waitClosed()).toBe(true);
      await eventually('close', () => events.includes('close'));
    });

    it('vanishing mid-frame: cleaned up', async () => {
      const { client, events, server } = await open();
      client.send(frame(2, Buffer.alloc(1000)).subarray(0, 500));
      await new Promise((r) => setTimeout(r, 20));
      client.destroy();
      await eventually('close', () => events.includes('close'));
      expect((await freshStats(server)).upgraded).toBe(0);
    });

    it('garbage after the close frame is ignored', async () => {
      const { client, events } = await open();
      client.send(cat(frame(8, closeBody(1000)), Buffer.from('garbage garbage garbage'), frame(1, 'nope')));
      expect((await client.readClose()).code).toBe(1000);
      expect(await client.waitClosed()).toBe(true);
      await eventually('close', () => events.includes('close'));
      expect(messages(events)).toEqual([]);
    });
  });

  describe('handler failures', () => {
    it('a throwing clientMessage closes that connection with 1011; the server goes on', async () => {
      const { client, events, port } = await open('throws');
      client.sendFrame(1, 'x');
      expect((await client.readClose()).code).toBe(1011);
      await client.waitClosed();
      const other = await RawClient.open(port);
      cleanup.unshift(() => other.destroy());
      other.sendFrame(9, 'alive?');
      expect((await other.nextFrame()).opcode).toBe(10);
      await eventually('close', () => events.includes('close'));
    });

    it('a rejecting async hook closes with 1011 too', async () => {
      const { client } = await open('rejects');
      client.sendFrame(1, 'x');
      expect((await client.readClose()).code).toBe(1011);
    });

    it('a throwing close hook is logged and does not crash the server', async () => {
      const { client, events, port } = await open('closeThrows');
      client.destroy();
      await eventually('close', () => events.includes('close'));
      const other = await RawClient.open(port);
      other.destroy();
    });
  });

  describe('server.stop()', () => {
    it('sends 1001 to every connection, runs every close hook, and resolves; twice is fine', async () => {
      const s = await serve(threads);
      const a = await RawClient.open(s.port);
      const b = await RawClient.open(s.port);
      await eventually('both open', () => s.events.filter((e) => e === 'afterInit').length === 2);
      const answer = async (c: RawClient) => {
        const got = await c.readClose();
        c.sendFrame(8, closeBody(got.code));
        return got.code;
      };
      const codes = Promise.all([answer(a), answer(b)]);
      const first = s.server.stop();
      const second = s.server.stop();
      expect(await codes).toEqual([1001, 1001]);
      await Promise.all([first, second]);
      await eventually('close hooks', () => s.events.filter((e) => e === 'close').length === 2);
      expect(s.server.stats().connections).toBe(0);
    });
  });
});
