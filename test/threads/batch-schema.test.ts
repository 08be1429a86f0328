/**
 * The batches between the I/O thread and hook workers, and between the main thread and I/O threads,
 * each follow one schema that the writing and the reading side share.
 */
import { describe, expect, it } from 'vitest';
import {
  BatchWriter,
  forEachRecord,
  FromWorker,
  FromWorkerField,
  ToWorker,
  ToWorkerField,
} from '../../packages/websocket/src/threads/messages.js';
import { readRelay, RelayWriter } from '../../packages/websocket/src/io/relay-batch.js';

describe('hook-worker batches', () => {
  it('give every kind its own code and name each field of its record', () => {
    for (const codes of [ToWorker, FromWorker])
      expect(new Set(Object.values(codes)).size).toBe(Object.keys(codes).length);
    expect(ToWorkerField.Message).toEqual({ id: 0, binary: 1, offset: 2, length: 3 });
    expect(FromWorkerField.Publish).toEqual({ id: 0, self: 1, topic: 2, offset: 3, length: 4 });
  });

  it('are read back record by record, each field where the schema puts it', () => {
    const out = new BatchWriter('toWorker');
    out.add(ToWorker.Message, 7, 1, 100, 32);
    out.add(ToWorker.ClientClose, 7, 1000, out.attach('bye'));
    out.add(ToWorker.End, 4096);
    const { batch } = out.take();
    expect(out.empty).toBe(true);
    const seen: unknown[] = [];
    forEachRecord('toWorker', batch.records, (kind, at) => {
      const r = batch.records;
      if (kind === ToWorker.Message)
        seen.push(['message', r[at + ToWorkerField.Message.id], r[at + ToWorkerField.Message.length]]);
      if (kind === ToWorker.ClientClose)
        seen.push([
          'close',
          r[at + ToWorkerField.ClientClose.code],
          batch.extra[r[at + ToWorkerField.ClientClose.reason]!],
        ]);
      if (kind === ToWorker.End) seen.push(['end', r[at + ToWorkerField.End.position]]);
    });
    expect(seen).toEqual([
      ['message', 7, 32],
      ['close', 1000, 'bye'],
      ['end', 4096],
    ]);
  });

  it('refuse a record with the wrong number of fields, and an unknown kind', () => {
    expect(() => new BatchWriter('fromWorker').add(FromWorker.Frame, 1, 2, 3)).toThrow(
      'thread batch: record 3 takes 5 fields, got 3',
    );
    expect(() => forEachRecord('fromWorker', [99, 1], () => {})).toThrow('thread batch: unknown record 99 at 0');
  });
});

describe('relay batches (I/O threads)', () => {
  it('carry frames by offset in one moved buffer, and read back in order', () => {
    const out = new RelayWriter();
    out.publish('room', Buffer.from('abc'));
    out.subscribers('room', 2);
    out.sendTo(42, Buffer.from('xy'));
    out.closed(5);
    const { batch, transfer } = out.take();
    expect(transfer).toEqual([batch.frames]);
    const seen: unknown[] = [];
    readRelay(batch, {
      publish: (topic, frame) => seen.push(['publish', topic, frame.toString()]),
      subscribers: (topic, n) => seen.push(['subscribers', topic, n]),
      sendTo: (id, frame) => seen.push(['sendTo', id, frame.toString()]),
      closed: (id) => seen.push(['closed', id]),
    });
    expect(seen).toEqual([
      ['publish', 'room', 'abc'],
      ['subscribers', 'room', 2],
      ['sendTo', 42, 'xy'],
      ['closed', 5],
    ]);
  });

  it('follow the checked schema the hook threads use: an unknown record is refused, not misread', () => {
    expect(() => readRelay({ records: [99, 1, 2], extra: [], frames: null }, {})).toThrow(/unknown record 99/);
  });

  it('give a large frame memory of its own when the batch is much larger, so a slow subscriber pins only its bytes', () => {
    const out = new RelayWriter();
    out.broadcast(0, Buffer.alloc(2000, 1));
    out.broadcast(0, Buffer.alloc(30_000, 2));
    const { batch } = out.take();
    const frames: Buffer[] = [];
    readRelay(batch, { broadcast: (_except, frame) => frames.push(frame) });
    expect(frames[0]!.buffer).not.toBe(batch.frames);
    expect(frames[0]!.buffer.byteLength).toBe(2000);
    expect(frames[1]!.buffer).toBe(batch.frames); // most of the batch: shared as it is
  });
});
