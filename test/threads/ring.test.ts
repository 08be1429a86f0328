import { describe, expect, it } from 'vitest';
import { RingReader, RingWriter } from '../../packages/websocket/src/threads/ring.js';

function ring(size: number) {
  const buffer = new SharedArrayBuffer(size);
  const control = new SharedArrayBuffer(8);
  return { writer: new RingWriter(buffer, control), reader: new RingReader(buffer, control) };
}

describe('shared-memory ring', () => {
  it('hands out consecutive space and reads it back in place', () => {
    const { writer, reader } = ring(64);
    const a = writer.allocate(10);
    writer.bytesView.write('0123456789', a);
    const b = writer.allocate(5);
    writer.bytesView.write('abcde', b);
    expect([a, b]).toEqual([0, 10]);
    expect(reader.view(a, 10).toString()).toBe('0123456789');
    expect(reader.view(b, 5).toString()).toBe('abcde');
    expect(writer.position).toBe(15);
  });

  it('refuses space that the reader has not released, and reuses it once released', () => {
    const { writer, reader } = ring(32);
    expect(writer.allocate(20)).toBe(0);
    expect(writer.allocate(20)).toBe(-1); // only 12 free
    reader.release(20);
    expect(writer.allocate(20)).toBe(0); // would not fit at 20..40: skips to the start
    expect(writer.position).toBe(52);
  });

  it('never splits a payload across the end: it skips the tail, and the skip counts as used', () => {
    const { writer, reader } = ring(32);
    expect(writer.allocate(24)).toBe(0);
    reader.release(24);
    expect(writer.allocate(16)).toBe(0); // 8 bytes at the end skipped, still unreleased
    expect(writer.allocate(10)).toBe(-1); // only 16..24 is free: the skipped tail counts as used
    expect(writer.allocate(8)).toBe(16);
    expect(writer.allocate(1)).toBe(-1);
    reader.release(writer.position);
    expect(writer.allocate(7)).toBe(24);
  });

  it('refuses a payload larger than the ring (the caller sends a copy instead)', () => {
    expect(ring(16).writer.allocate(17)).toBe(-1);
  });
});
