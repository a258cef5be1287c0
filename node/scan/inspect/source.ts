import type { FileHandle } from 'node:fs/promises';

/**
 * Random access to bytes, so inspectors read only what they need: a header, a central
 * directory, one archive member — never a whole multi-gigabyte model.
 */
export interface ByteSource {
  readonly size: number;
  /** Up to `length` bytes at `offset`; fewer only at the end of the source. */
  read(offset: number, length: number): Promise<Buffer>;
}

/** A source over bytes already in memory (an archive member, a test fixture). */
export function bufferSource(bytes: Buffer): ByteSource {
  return {
    size: bytes.length,
    read: (offset, length) => {
      const start = Math.min(Math.max(0, offset), bytes.length);
      return Promise.resolve(bytes.subarray(start, Math.min(bytes.length, start + Math.max(0, length))));
    },
  };
}

/** A source over an open file of a known size. */
export function fileSource(handle: FileHandle, size: number): ByteSource {
  return {
    size,
    read: async (offset, length) => {
      const start = Math.min(Math.max(0, offset), size);
      const want = Math.min(size - start, Math.max(0, length));
      const buf = Buffer.alloc(want);
      let got = 0;
      while (got < want) {
        const { bytesRead } = await handle.read(buf, got, want - got, start + got);
        if (bytesRead === 0) break; // the file shrank under us
        got += bytesRead;
      }
      return got === want ? buf : buf.subarray(0, got);
    },
  };
}

/** The first `length` bytes of a source (all of it when shorter). */
export function readPrefix(source: ByteSource, length: number): Promise<Buffer> {
  return source.read(0, Math.min(source.size, length));
}
