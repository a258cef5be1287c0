import { createHash } from 'node:crypto';

/**
 * The (time, id) set that catch-up sync reconciles: every live stored attestation as its
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

const LIMBS = 8;

function cmpKeyBound(k: SyncKey, b: Bound): number {
  if (k.t !== b[0]) return k.t < b[0] ? -1 : 1;
  const h = b[1];
  if (h === '') return 1; // (t, '') is below every id at t
  return Buffer.compare(k.id, Buffer.from(h, 'hex'));
}

function cmpKeys(a: SyncKey, b: SyncKey): number {
  return a.t - b.t || Buffer.compare(a.id, b.id);
}

/** Orders bounds: -1, 0 or 1. */
export function cmpBounds(a: Bound, b: Bound): number {
  if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1;
  if (a[1] === b[1]) return 0;
  if (a[1] === '') return -1;
  if (b[1] === '') return 1;
  return a[1] < b[1] ? -1 : 1;
}

export function boundOf(k: SyncKey): Bound {
  return [k.t, k.id.toString('hex')];
}

/** sum += id, as 256-bit little-endian integers mod 2^256, into `out` at `o`. */
function addId(out: Uint32Array, o: number, src: Uint32Array, s: number, id: Buffer): void {
  let carry = 0;
  for (let l = 0; l < LIMBS; l++) {
    const v = src[s + l]! + id.readUInt32LE(l * 4) + carry;
    out[o + l] = v >>> 0;
    carry = v > 0xffffffff ? 1 : 0;
  }
}

/** The fingerprint of a set from its id sum and count (SPEC §13.2). */
function digestOf(sum: Uint32Array, count: number): string {
  const n = Buffer.alloc(8);
  n.writeBigUInt64LE(BigInt(count));
  return createHash('sha256').update(Buffer.from(sum.buffer, sum.byteOffset, LIMBS * 4)).update(n).digest('hex').slice(0, 32);
}

/**
 * Fingerprint of a set of ids: sha256 of (sum of the ids as 256-bit little-endian
 * integers mod 2^256, and the count), first 16 bytes, hex. Addition rather than XOR so
 * pairs of equal ids do not cancel. The reference form, over a plain list.
 */
export function fingerprint(keys: readonly SyncKey[], from: number, to: number): string {
  const sum = new Uint32Array(LIMBS);
  for (let i = from; i < to; i++) addId(sum, 0, sum, 0, (keys[i] as SyncKey).id);
  return digestOf(sum, to - from);
}

/** Keys are kept in sorted blocks of at most this many (split at twice). */
const BLOCK = 512;

interface Block {
  keys: SyncKey[];
  /** prefix[i*8..] = sum of keys[0..i); rebuilt lazily. */
  prefix: Uint32Array | undefined;
}

/**
 * The sorted key set, kept in memory and updated as attestations are stored, evicted or
 * expire. Sorted blocks with prefix sums (within a block, and over blocks) answer a range's
 * count and fingerprint in O(log n) — a binary search and one subtraction — whatever the
 * range's size, so a peer's reconcile request costs the same at 1,000 keys or 10 million.
 * An insert or removal costs O(block + blocks).
 */
export class SyncIndex {
  private blocks: Block[] = [];
  private starts: number[] = [0];
  /** sums[b*8..] = sum of all keys in blocks [0..b); undefined when stale. */
  private sums: Uint32Array | undefined = new Uint32Array(LIMBS);
  private expiries: { at: number; key: SyncKey }[] = [];
  /** The live expiry of each key with one (id hex -> at): heap entries that disagree are dead. */
  private readonly expiring = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Adds a key; with `expiresAt` (epoch ms) it leaves the set by itself at that time. Past expiry: not added. */
  add(t: number, idHex: string, expiresAt?: number): void {
    if (expiresAt !== undefined && expiresAt <= this.now()) return;
    const k: SyncKey = { t, id: Buffer.from(idHex, 'hex') };
    if (this.blocks.length === 0) {
      this.blocks.push({ keys: [k], prefix: undefined });
    } else {
      const b = this.blockFor(k);
      const block = this.blocks[b] as Block;
      const i = lowerIn(block.keys, k);
      if (i < block.keys.length && cmpKeys(block.keys[i] as SyncKey, k) === 0) return;
      block.keys.splice(i, 0, k);
      block.prefix = undefined;
      if (block.keys.length > 2 * BLOCK) this.blocks.splice(b, 1, { keys: block.keys.slice(0, BLOCK), prefix: undefined }, { keys: block.keys.slice(BLOCK), prefix: undefined });
    }
    this.sums = undefined;
    if (expiresAt !== undefined) {
      this.expiring.set(idHex, expiresAt);
      heapPush(this.expiries, { at: expiresAt, key: k });
    }
  }

  /** Removes a key (evicted or collected); absent keys are ignored. */
  remove(t: number, idHex: string): void {
    if (this.expiring.delete(idHex) && this.expiries.length > 2 * this.expiring.size + 1024) {
      // Removed keys leave dead heap entries behind: rebuild before they pile up.
      this.expiries = this.expiries.filter((e) => this.expiring.get(e.key.id.toString('hex')) === e.at).sort((a, b) => a.at - b.at);
    }
    if (this.blocks.length === 0) return;
    const k: SyncKey = { t, id: Buffer.from(idHex, 'hex') };
    const b = this.blockFor(k);
    const block = this.blocks[b] as Block;
    const i = lowerIn(block.keys, k);
    if (i >= block.keys.length || cmpKeys(block.keys[i] as SyncKey, k) !== 0) return;
    block.keys.splice(i, 1);
    block.prefix = undefined;
    if (block.keys.length === 0) this.blocks.splice(b, 1);
    this.sums = undefined;
  }

  get size(): number {
    this.expire();
    this.refresh();
    return this.starts[this.blocks.length] as number;
  }

  /** Drops the keys whose expiry has passed. */
  private expire(): void {
    const now = this.now();
    while (this.expiries.length > 0 && (this.expiries[0] as { at: number }).at <= now) {
      const { key, at } = heapPop(this.expiries);
      const id = key.id.toString('hex');
      if (this.expiring.get(id) === at) this.remove(key.t, id);
    }
  }

  /** The block a key belongs in: the last whose first key is <= k (or the first). */
  private blockFor(k: SyncKey): number {
    let lo = 0;
    let hi = this.blocks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (cmpKeys((this.blocks[mid] as Block).keys[0] as SyncKey, k) <= 0) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  private refresh(): void {
    if (this.sums !== undefined) return;
    const n = this.blocks.length;
    const sums = new Uint32Array((n + 1) * LIMBS);
    this.starts = new Array<number>(n + 1);
    this.starts[0] = 0;
    for (let b = 0; b < n; b++) {
      const p = this.prefixOf(this.blocks[b] as Block);
      const len = (this.blocks[b] as Block).keys.length;
      add256(sums, (b + 1) * LIMBS, sums, b * LIMBS, p, len * LIMBS);
      this.starts[b + 1] = (this.starts[b] as number) + len;
    }
    this.sums = sums;
  }

  private prefixOf(block: Block): Uint32Array {
    if (block.prefix === undefined) {
      const p = new Uint32Array((block.keys.length + 1) * LIMBS);
      block.keys.forEach((k, i) => addId(p, (i + 1) * LIMBS, p, i * LIMBS, k.id));
      block.prefix = p;
    }
    return block.prefix;
  }

  /** The block holding global position `pos` (pos < size), and the offset in it. */
  private locate(pos: number): { b: number; o: number } {
    let lo = 0;
    let hi = this.blocks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if ((this.starts[mid] as number) <= pos) lo = mid;
      else hi = mid - 1;
    }
    return { b: lo, o: pos - (this.starts[lo] as number) };
  }

  /** Global position of the first key >= bound. */
  private lowerIndex(bound: Bound): number {
    // The first block whose last key is >= bound holds the answer.
    let lo = 0;
    let hi = this.blocks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const keys = (this.blocks[mid] as Block).keys;
      if (cmpKeyBound(keys[keys.length - 1] as SyncKey, bound) < 0) lo = mid + 1;
      else hi = mid;
    }
    if (lo === this.blocks.length) return this.starts[lo] as number;
    const keys = (this.blocks[lo] as Block).keys;
    let a = 0;
    let z = keys.length;
    while (a < z) {
      const mid = (a + z) >>> 1;
      if (cmpKeyBound(keys[mid] as SyncKey, bound) < 0) a = mid + 1;
      else z = mid;
    }
    return (this.starts[lo] as number) + a;
  }

  /** The keys in [lo, hi) as global positions. */
  range(lo: Bound, hi: Bound): { from: number; to: number } {
    this.expire();
    this.refresh();
    const total = this.starts[this.blocks.length] as number;
    const from = this.lowerIndex(lo);
    const to = hi[0] === MAX_BOUND[0] ? total : this.lowerIndex(hi);
    return { from, to: Math.max(from, to) };
  }

  /** The key at a global position (0 <= pos < size), after `range`. */
  keyAt(pos: number): SyncKey {
    const { b, o } = this.locate(pos);
    return (this.blocks[b] as Block).keys[o] as SyncKey;
  }

  /** The keys at positions [from, to): for small ranges only. */
  keysIn(from: number, to: number): SyncKey[] {
    const out: SyncKey[] = [];
    for (let i = from; i < to; i++) out.push(this.keyAt(i));
    return out;
  }

  /** Sum of the ids at positions [0, pos). */
  private prefixSum(pos: number, out: Uint32Array): void {
    const total = this.starts[this.blocks.length] as number;
    if (pos >= total) {
      out.set((this.sums as Uint32Array).subarray(this.blocks.length * LIMBS, (this.blocks.length + 1) * LIMBS));
      return;
    }
    const { b, o } = this.locate(pos);
    add256(out, 0, this.sums as Uint32Array, b * LIMBS, this.prefixOf(this.blocks[b] as Block), o * LIMBS);
  }

  /** Fingerprint of the keys at positions [from, to), in O(log n). */
  fingerprint(from: number, to: number): string {
    const a = new Uint32Array(LIMBS);
    const z = new Uint32Array(LIMBS);
    this.prefixSum(from, a);
    this.prefixSum(to, z);
    let borrow = 0;
    for (let l = 0; l < LIMBS; l++) {
      const v = z[l]! - a[l]! - borrow;
      borrow = v < 0 ? 1 : 0;
      z[l] = v >>> 0;
    }
    return digestOf(z, to - from);
  }

  summary(lo: Bound, hi: Bound): { fp: string; n: number } {
    const r = this.range(lo, hi);
    return { fp: this.fingerprint(r.from, r.to), n: r.to - r.from };
  }
}

/** out[o..o+8) = a[ai..] + b[bi..] mod 2^256. */
function add256(out: Uint32Array, o: number, a: Uint32Array, ai: number, b: Uint32Array, bi: number): void {
  let carry = 0;
  for (let l = 0; l < LIMBS; l++) {
    const v = a[ai + l]! + b[bi + l]! + carry;
    out[o + l] = v >>> 0;
    carry = v > 0xffffffff ? 1 : 0;
  }
}

function lowerIn(keys: readonly SyncKey[], k: SyncKey): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cmpKeys(keys[mid] as SyncKey, k) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

type Expiry = { at: number; key: SyncKey };

function heapPush(h: Expiry[], e: Expiry): void {
  h.push(e);
  let i = h.length - 1;
  while (i > 0) {
    const p = (i - 1) >> 1;
    if ((h[p] as Expiry).at <= e.at) break;
    h[i] = h[p] as Expiry;
    i = p;
  }
  h[i] = e;
}

function heapPop(h: Expiry[]): Expiry {
  const top = h[0] as Expiry;
  const last = h.pop() as Expiry;
  if (h.length > 0) {
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = -1;
      let best = last.at;
      if (l < h.length && (h[l] as Expiry).at < best) {
        m = l;
        best = (h[l] as Expiry).at;
      }
      if (r < h.length && (h[r] as Expiry).at < best) m = r;
      if (m === -1) break;
      h[i] = h[m] as Expiry;
      i = m;
    }
    h[i] = last;
  }
  return top;
}
