/**
 * Key layout of the LevelDB store. Every key starts with one prefix byte; numbers are
 * big-endian so keys sort in numeric order.
 *
 *   0x00 name                      -> meta value (schema version, counters)
 *   0x01 id(32)                    -> record: seq(8) receivedAt(8) envelope JSON
 *   0x02 sha256(32) seq(8)         -> id(32)      attestations by subject digest
 *   0x03 issuerKey(32) seq(8)      -> id(32) bytes(4)   attestations by issuer, envelope size
 *   0x04 seq(8)                    -> id(32)      arrival order (sync, event streams)
 *   0x05 issuerKey(32)             -> bytes(8) count(4) [group(utf8)]   per-issuer usage (quota) and
 *                                    the strangers' pool group that first brought the issuer
 *                                    (absent in stores written before groups: the legacy group)
 *   0x06 target(32) retraction(32) -> ''          retractions by target
 *   0x07 issuedAtSeconds(8) id(32) -> ''        the (time, id) set catch-up sync reconciles
 *   0x08 sha256(32) issuerKey(32) seq(8) -> id(32)   attestations by subject and issuer (views)
 *   0x09 expiresAtSeconds(8) id(32) -> ''       expiry order (garbage collection, sync set)
 *   0x0a sha256(32)                -> count(4)   attestations about a subject, counted
 *   0x0b issuerKey(32) seq(8)      -> id(32)    endorsements by endorser (the trust graph)
 *   0x0c base(32) seq(8)           -> id(32)    lineage claims by the base model they name (derived models)
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
  derived: 0x0c,
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

const hexAt = (b: Uint8Array, from: number, to: number): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).subarray(from, to).toString('hex');

/**
 * Decoders of every key layout above (the encoders are `key(...)` and index-entries.ts):
 * no other file reads key bytes by offset.
 */
export const decodeKey = {
  record: (k: Buffer) => ({ id: hexAt(k, 1, 33) }),
  subject: (k: Buffer) => ({ subject: hexAt(k, 1, 33), seq: readU64(k, 33) }),
  issuer: (k: Buffer) => ({ issuerKey: hexAt(k, 1, 33), seq: readU64(k, 33) }),
  seq: (k: Buffer) => ({ seq: readU64(k, 1) }),
  usage: (k: Buffer) => ({ issuerKey: k.subarray(1, 33) }),
  retraction: (k: Buffer) => ({ target: hexAt(k, 1, 33), retraction: hexAt(k, 33, 65) }),
  time: (k: Buffer) => ({ t: readU64(k, 1), id: hexAt(k, 9, 41) }),
  subjectIssuer: (k: Buffer) => ({ subject: hexAt(k, 1, 33), issuerKey: hexAt(k, 33, 65), seq: readU64(k, 65) }),
  expiry: (k: Buffer) => ({ expiresAt: readU64(k, 1), id: hexAt(k, 9, 41) }),
  subjectCount: (k: Buffer) => ({ subject: hexAt(k, 1, 33) }),
  endorsement: (k: Buffer) => ({ issuerKey: hexAt(k, 1, 33), seq: readU64(k, 33) }),
  derived: (k: Buffer) => ({ base: hexAt(k, 1, 33), seq: readU64(k, 33) }),
  /** The arrival seq that ends the subject, issuer, seq, subject-issuer, endorsement and derived keys. */
  trailingSeq: (k: Buffer) => readU64(k, k.length - 8),
};

/** Decoders (and encoders) of the values above. */
export const indexValue = {
  /** The attestation id an index entry points at (the issuer index carries a size after it). */
  id: (v: Buffer): Buffer => v.subarray(0, 32),
  issuer: (v: Buffer) => ({ id: hexAt(v, 0, 32), bytes: v.length >= 36 ? v.readUInt32BE(32) : undefined }),
  encodeIssuer: (id: Buffer, bytes: number): Buffer => {
    const out = Buffer.alloc(36);
    id.copy(out);
    out.writeUInt32BE(bytes, 32);
    return out;
  },
  usage: (v: Buffer) => ({ bytes: readU64(v, 0), count: v.readUInt32BE(8), group: v.length > 12 ? v.subarray(12).toString('utf8') : undefined }),
  encodeUsage: (bytes: number, count: number, group?: string): Buffer => {
    const g = group === undefined ? undefined : Buffer.from(group, 'utf8');
    const out = Buffer.alloc(12 + (g?.length ?? 0));
    out.writeBigUInt64BE(BigInt(bytes), 0);
    out.writeUInt32BE(count, 8);
    g?.copy(out, 12);
    return out;
  },
  count: (v: Buffer): number => v.readUInt32BE(0),
};
