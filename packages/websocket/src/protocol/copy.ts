/**
 * Copies into and out of shared memory (the rings between threads, pool buffers that hook threads
 * read in place) with the C library's memmove.
 *
 * V8 copies to or from a SharedArrayBuffer (TypedArray `set`, `Buffer.from` of a view, and on Node
 * 20 `Buffer.copy`) one relaxed atomic word at a time, since another thread may be writing: for 16
 * KiB 730 ns against 280-320 through `Buffer.fill` with a Buffer value, which Node copies in C++
 * (measured on Node 20 and 24; under 16 KiB echo through hook threads V8's copy was 15 % of the
 * process's samples, though end to end the change measured within noise: 30-32 against 30 µs of CPU
 * per message). Below about 2 KiB the call into C++ costs more than it saves, so those go
 * through `set`. Our rings hand out space that only one thread writes at a time, so either copy sees
 * the same bytes.
 */

/** From this many bytes a copy goes through memmove (see above). */
export const MEMMOVE_FROM = 2048;

/** Copies `source` into `target` at `offset` (either may be shared memory). */
export function copyInto(target: Buffer, offset: number, source: Uint8Array): void {
  if (source.length >= MEMMOVE_FROM) target.fill(source, offset, offset + source.length);
  else target.set(source, offset);
}

/** A Buffer of its own with the bytes of `source` (which may be shared memory), as `Buffer.from(source)` makes. */
export function ownCopy(source: Uint8Array): Buffer {
  if (source.length < MEMMOVE_FROM) return Buffer.from(source);
  const copy = Buffer.allocUnsafeSlow(source.length);
  copy.fill(source);
  return copy;
}
