/**
 * Key layout of the LevelDB store. Every key starts with one prefix byte; numbers are
 * big-endian so keys sort in numeric order.
 *
 *   0x00 name                      -> meta value (schema version, counters)
 *   0x01 id(32)                    -> record: seq(8) receivedAt(8) envelope JSON
 *   0x02 sha256(32) seq(8)         -> id(32)      attestations by subject digest
 *   0x03 issuerKey(32) seq(8)      -> id(32) bytes(4)   attestations by issuer, envelope size
 *   0x04 seq(8)                    -> id(32)      arrival order (sync, event streams)
 *   0x05 issuerKey(32)             -> bytes(8) count(4)   per-issuer usage (quota)
 *   0x06 target(32) retraction(32) -> ''          retractions by target
 *   0x07 issuedAtSeconds(8) id(32) -> ''        the (time, id) set catch-up sync reconciles
 *   0x08 sha256(32) issuerKey(32) seq(8) -> id(32)   attestations by subject and issuer (views)
 *   0x09 expiresAtSeconds(8) id(32) -> ''       expiry order (garbage collection, sync set)
 *   0x0a sha256(32)                -> count(4)   attestations about a subject, counted
 *   0x0b issuerKey(32) seq(8)      -> id(32)    endorsements by endorser (the trust graph)
 */
export const P = {
  meta: 0x00,
  record: 0x01,
  subject: 0x02,
  issuer: 0x03,
  seq: 0x04,
  usage: 0x05,
  retraction: 0x06,
  time: 0x07,
  subjectIssuer: 0x08,
  expiry: 0x09,
  subjectCount: 0x0a,
  endorsement: 0x0b,
} as const;

export function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

export function readU64(b: Uint8Array, offset = 0): number {
  return Number(Buffer.from(b.buffer, b.byteOffset, b.byteLength).readBigUInt64BE(offset));
}

export function key(prefix: number, ...parts: Uint8Array[]): Buffer {
  return Buffer.concat([Buffer.of(prefix), ...parts]);
}

export function hex32(h: string): Buffer {
  return Buffer.from(h, 'hex');
}

export function metaKey(name: string): Buffer {
  return key(P.meta, Buffer.from(name, 'utf8'));
}

/** The smallest key after every key that starts with `k`. */
export function upperBound(k: Buffer): Buffer {
  return Buffer.concat([k, Buffer.alloc(9, 0xff)]);
}

export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}
