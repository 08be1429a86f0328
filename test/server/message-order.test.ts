/**
 * MessageOrder: what reaches the transport when writers interleave (RFC 6455 5.4), with a transport
 * that records frames.
 */
import { describe, expect, it } from 'vitest';
import { Conn } from '../../packages/websocket/src/handler/conn.js';
import { type ConnTransport } from '../../packages/websocket/src/handler/transport.js';
import { type WriteData } from '../../packages/websocket/src/sender/write-data.js';

function recording(maxBackpressure = 0): { conn: Conn; sent: string[]; state: { closed: boolean } } {
  const sent: string[] = [];
  const state = { closed: false };
  const text = (d: WriteData | readonly Uint8Array[]) =>
    typeof d === 'string'
      ? d
      : Array.isArray(d)
        ? Buffer.concat(d as Uint8Array[]).toString()
        : Buffer.from(d as Uint8Array).toString();
  const transport: ConnTransport = {
    sendFrame: (op, data, fin) => (sent.push(`${op}${fin ? '' : '+'}:${text(data)}`), true),
    sendParts: (op, parts, _length, fin) => (sent.push(`${op}${fin ? '' : '+'}:${text(parts)}`), true),
    sendFramed: (bytes) => (sent.push(`framed:${bytes.length}`), true),
    sendClose: () => void sent.push('close'),
    get closed() {
      return state.closed;
    },
    opened: true,
    bufferedAmount: 0,
    maxBackpressure,
    topicLimits: { maxTopicsPerConnection: 4, maxTopicLength: 16 },
    subscribe: (topic) => void sent.push(`subscribe:${topic}`),
    unsubscribe: (topic) => void sent.push(`unsubscribe:${topic}`),
    publish: (topic, op, data, self) =>
      void sent.push(`publish ${topic}${self ? '' : ' (not self)'} ${op}:${text(data)}`),
    broadcast: (op, data, self) => void sent.push(`broadcast${self ? '' : ' (not self)'} ${op}:${text(data)}`),
    sendTo: (id, op, data) => void sent.push(`to ${id} ${op}:${text(data)}`),
    subscriberCount: async () => 0,
    track: () => {},
    untrack: () => {},
    members: async () => [],
  };
  return { conn: new Conn(1, '', 0, transport), sent, state };
}

describe('message order', () => {
  it("passes a whole message written while the handler's own fragmented message is open on to the connection, whose sender holds it (one queue with publishes)", () => {
    const { conn, sent } = recording();
    conn.writeFrame(1, 'a', { fin: false });
    expect(conn.write('whole')).toBe(true);
    conn.writePing('p');
    conn.writeFrame(0, 'b', { fin: true });
    // The wire order (whole after b) is the sender's: see test/pubsub "one order for every member".
    expect(sent).toEqual(['1+:a', '1:whole', '9:p', '0:b']);
    expect(conn.bufferedAmount).toBe(0);
  });

  it("keeps a held writer's own fragments together, after the open message", () => {
    const { conn, sent } = recording();
    const w1 = conn.writeBuffer('text', { fragmentSize: 2 });
    w1.write('ab');
    const w2 = conn.writeBuffer('binary', { fragmentSize: 2 });
    w2.write('xy');
    conn.write('t');
    w2.write('z');
    w2.flush();
    w1.flush();
    expect(sent).toEqual(['1+:ab', '0:', '2+:xy', '0:z', '1:t']);
  });

  it('copies held data: the caller may reuse its buffer at once', () => {
    const { conn, sent } = recording();
    const w = conn.writeBuffer('text', { fragmentSize: 1 });
    w.write('a'); // a Writer's fragmented message is open
    const mine = Buffer.from('keep');
    conn.writeFrame(2, mine, { fin: false }); // another writer's: held
    mine.fill(0);
    w.flush();
    conn.writeFrame(0, '', { fin: true });
    expect(sent).toEqual(['1+:a', '0:', '2+:keep', '0:']);
  });

  it('refuses a continuation with no message open, and a new message inside an open one', () => {
    const { conn } = recording();
    expect(() => conn.writeFrame(0, 'x')).toThrow(/no fragmented message is open/);
    conn.writeFrame(1, 'a', { fin: false });
    expect(() => conn.writeFrame(1, 'b')).toThrow(/inside a fragmented one/);
  });

  it('drops what is held once the connection closes, and writes return false', () => {
    const { conn, sent, state } = recording();
    const w = conn.writeBuffer('text', { fragmentSize: 1 });
    w.write('a');
    conn.writeFrame(2, 'held', { fin: false });
    state.closed = true;
    expect(conn.write('late')).toBe(false);
    expect(sent).toEqual(['1+:a']);
  });

  it('held writes count against maxBackpressure: a message past it is refused, with its later fragments', () => {
    const { conn, sent } = recording(10);
    const first = conn.writeBuffer('text', { fragmentSize: 1 });
    first.write('a');
    conn.writeFrame(2, '12345678', { fin: false }); // 8 bytes held behind the open message
    expect(conn.write('xyz')).toBe(false); // 11 > 10
    const w = conn.writeBuffer('binary', { fragmentSize: 3 });
    w.write('big'); // a new message's start, refused
    w.write('gerr');
    expect(w.flush()).toBe(false);
    first.flush();
    conn.writeFrame(0, '', { fin: true });
    expect(sent).toEqual(['1+:a', '0:', '2+:12345678', '0:']);
  });

  it('a Writer discarded after its first fragment ends its message, so held writes go out', () => {
    const { conn, sent } = recording();
    const w = conn.writeBuffer('text', { fragmentSize: 1 });
    w.write('a');
    conn.write('next'); // on to the sender, which holds it until the message ends
    w.discard();
    expect(sent).toEqual(['1+:a', '1:next', '0:']);
  });
});
