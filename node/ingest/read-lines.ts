import type { Readable } from 'node:stream';

export interface Line {
  /** 1-based line number in the input. */
  readonly number: number;
  /** The line's bytes, or undefined when it was longer than the cap (its bytes were dropped). */
  readonly bytes: Buffer | undefined;
  /** Length in bytes, also for an over-long line. */
  readonly length: number;
}

/**
 * Splits a byte stream into lines (LF or CRLF) without ever holding more than `maxBytes`
 * of one line, so a hostile file with a gigabyte-long line costs no memory.
 */
export async function* readLines(stream: Readable, maxBytes: number): AsyncGenerator<Line> {
  let parts: Buffer[] = [];
  let held = 0;
  let length = 0;
  let number = 0;
  const finish = (): Line => {
    number++;
    let bytes = length > maxBytes ? undefined : Buffer.concat(parts, held);
    if (bytes && bytes.length > 0 && bytes[bytes.length - 1] === 0x0d) bytes = bytes.subarray(0, bytes.length - 1);
    const line = { number, bytes, length };
    parts = [];
    held = 0;
    length = 0;
    return line;
  };
  const take = (piece: Buffer): void => {
    length += piece.length;
    if (length <= maxBytes) {
      parts.push(piece);
      held += piece.length;
    } else if (held > 0) {
      parts = [];
      held = 0;
    }
  };
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl === -1) break;
      take(chunk.subarray(start, nl));
      yield finish();
      start = nl + 1;
    }
    if (start < chunk.length) take(chunk.subarray(start));
  }
  if (length > 0 || parts.length > 0) yield finish();
}
