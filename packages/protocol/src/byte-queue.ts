import { readUint32 } from "./frames.js";

/**
 * Bytes received and not yet consumed, in one contiguous buffer. A chunk that
 * arrives into an empty queue is used in place, so a frame that comes in one
 * chunk is never copied. Otherwise chunks are appended to an owned buffer that
 * grows by doubling: a peer that trickles one byte per packet costs amortised
 * constant work per byte, not one object per byte. Views handed out stay
 * valid, because growth allocates a new buffer and appends only write past
 * every handed-out byte.
 */
/** What an empty queue holds: shared, as nothing is ever written into it (a chunk replaces it, or a copy is made). */
const EMPTY = new Uint8Array(0);

export class ByteQueue {
  private buffer: Uint8Array = EMPTY;
  private start = 0;
  private end = 0;
  private owned = false;

  get length(): number {
    return this.end - this.start;
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    const length = this.length;
    if (length === 0) {
      this.buffer = chunk;
      this.start = 0;
      this.end = chunk.length;
      this.owned = false;
      return;
    }
    if (!this.owned || this.end + chunk.length > this.buffer.length) {
      const grown = new Uint8Array(Math.max(2 * (length + chunk.length), 4096));
      grown.set(this.buffer.subarray(this.start, this.end));
      this.buffer = grown;
      this.start = 0;
      this.end = length;
      this.owned = true;
    }
    this.buffer.set(chunk, this.end);
    this.end += chunk.length;
  }

  /**
   * Copies what is left into a buffer of its own, when it still views a
   * chunk whose memory its owner is about to reuse. Room to spare, so that
   * the rest of a large frame is appended without another copy.
   */
  ownRemainder(): void {
    if (this.owned || this.length === 0) return;
    const length = this.length;
    const owned = new Uint8Array(Math.max(2 * length, 4096));
    owned.set(this.buffer.subarray(this.start, this.end));
    this.buffer = owned;
    this.start = 0;
    this.end = length;
    this.owned = true;
  }

  /** Up to `count` bytes from the front, without consuming them. */
  peek(count: number): Uint8Array {
    return this.buffer.subarray(this.start, this.start + Math.min(count, this.length));
  }

  /** The byte at `index` from the front (the queue holds more than `index` bytes). */
  byteAt(index: number): number {
    return this.buffer[this.start + index] as number;
  }

  /** The big-endian uint32 at `index` from the front (the queue holds at least `index + 4` bytes). */
  uint32At(index: number): number {
    return readUint32(this.buffer, this.start + index);
  }

  take(count: number): Uint8Array {
    const bytes = this.buffer.subarray(this.start, this.start + count);
    this.skip(count);
    return bytes;
  }

  skip(count: number): void {
    this.start += count;
    if (this.start === this.end) {
      // Drop the reference so a large finished frame can be collected.
      this.buffer = EMPTY;
      this.start = 0;
      this.end = 0;
      this.owned = false;
    }
  }
}
