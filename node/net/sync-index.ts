import { createHash } from 'node:crypto';

/**
 * The (time, id) set that catch-up sync reconciles: every stored attestation as its
 * issuedAt (seconds) and id, sorted. Ranges of it are compared by fingerprint, the way
 * Negentropy (NIP-77) does, so two nodes exchange bytes in proportion to what differs.
 */
export interface SyncKey {
  readonly t: number;
  readonly id: Buffer;
}

/** A range bound: [t, id hex]; the range [lo, hi) holds keys k with lo <= k < hi. */
export type Bound = readonly [number, string];
export const MIN_BOUND: Bound = [0, ''];
export const MAX_BOUND: Bound = [Number.MAX_SAFE_INTEGER, ''];

function cmpKeyBound(k: SyncKey, b: Bound): number {
  if (k.t !== b[0]) return k.t < b[0] ? -1 : 1;
  const h = b[1];
  if (h === '') return 1; // (t, '') is below every id at t
  return Buffer.compare(k.id, Buffer.from(h, 'hex'));
}

export function boundOf(k: SyncKey): Bound {
  return [k.t, k.id.toString('hex')];
}

/**
 * Fingerprint of a set of ids: sha256 of (sum of the ids as 256-bit little-endian
 * integers mod 2^256, and the count), first 16 bytes, hex. Addition rather than XOR so
 * pairs of equal ids do not cancel.
 */
export function fingerprint(keys: readonly SyncKey[], from: number, to: number): string {
  const limbs = new Uint32Array(8);
  for (let i = from; i < to; i++) {
    const id = (keys[i] as SyncKey).id;
    let carry = 0;
    for (let l = 0; l < 8; l++) {
      const v = limbs[l]! + id.readUInt32LE(l * 4) + carry;
      limbs[l] = v >>> 0;
      carry = v > 0xffffffff ? 1 : 0;
    }
  }
  const count = Buffer.alloc(8);
  count.writeBigUInt64LE(BigInt(to - from));
  return createHash('sha256').update(Buffer.from(limbs.buffer)).update(count).digest('hex').slice(0, 32);
}

/** The sorted key set, kept in memory and updated as attestations are stored. */
export class SyncIndex {
  private keys: SyncKey[] = [];
  private sorted = true;

  add(t: number, idHex: string): void {
    const k = { t, id: Buffer.from(idHex, 'hex') };
    const last = this.keys.at(-1);
    if (last && (last.t > t || (last.t === t && Buffer.compare(last.id, k.id) > 0))) this.sorted = false;
    this.keys.push(k);
  }

  get size(): number {
    return this.keys.length;
  }

  private all(): SyncKey[] {
    if (!this.sorted) {
      this.keys.sort((a, b) => a.t - b.t || Buffer.compare(a.id, b.id));
      this.sorted = true;
    }
    return this.keys;
  }

  /** Index of the first key >= bound. */
  private lowerIndex(b: Bound): number {
    const keys = this.all();
    let lo = 0;
    let hi = keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cmpKeyBound(keys[mid] as SyncKey, b) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The keys in [lo, hi) as index positions. */
  range(lo: Bound, hi: Bound): { keys: readonly SyncKey[]; from: number; to: number } {
    const keys = this.all();
    return { keys, from: this.lowerIndex(lo), to: hi === MAX_BOUND || hi[0] === MAX_BOUND[0] ? keys.length : this.lowerIndex(hi) };
  }

  summary(lo: Bound, hi: Bound): { fp: string; n: number } {
    const r = this.range(lo, hi);
    return { fp: fingerprint(r.keys, r.from, r.to), n: r.to - r.from };
  }
}
