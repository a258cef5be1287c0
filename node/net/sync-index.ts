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

function cmpKeyBound(key: SyncKey, bound: Bound): number {
  if (key.t !== bound[0]) return key.t < bound[0] ? -1 : 1;
  const idHex = bound[1];
  if (idHex === '') return 1; // (t, '') is below every id at t
  return Buffer.compare(key.id, Buffer.from(idHex, 'hex'));
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

export function boundOf(key: SyncKey): Bound {
  return [key.t, key.id.toString('hex')];
}

/** sum += id, as 256-bit little-endian integers mod 2^256, into `out` at `o`. */
function addId(out: Uint32Array, outAt: number, src: Uint32Array, srcAt: number, id: Buffer): void {
  let carry = 0;
  for (let limb = 0; limb < LIMBS; limb++) {
    const word = src[srcAt + limb]! + id.readUInt32LE(limb * 4) + carry;
    out[outAt + limb] = word >>> 0;
    carry = word > 0xffffffff ? 1 : 0;
  }
}

/** The fingerprint of a set from its id sum and count (SPEC §13.2). */
function digestOf(sum: Uint32Array, count: number): string {
  const countLE = Buffer.alloc(8);
  countLE.writeBigUInt64LE(BigInt(count));
  return createHash('sha256').update(Buffer.from(sum.buffer, sum.byteOffset, LIMBS * 4)).update(countLE).digest('hex').slice(0, 32);
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
  add(time: number, idHex: string, expiresAt?: number): void {
    if (expiresAt !== undefined && expiresAt <= this.now()) return;
    const key: SyncKey = { t: time, id: Buffer.from(idHex, 'hex') };
    if (this.blocks.length === 0) {
      this.blocks.push({ keys: [key], prefix: undefined });
    } else {
      const blockIndex = this.blockFor(key);
      const block = this.blocks[blockIndex] as Block;
      const i = lowerIn(block.keys, key);
      if (i < block.keys.length && cmpKeys(block.keys[i] as SyncKey, key) === 0) return;
      block.keys.splice(i, 0, key);
      block.prefix = undefined;
      if (block.keys.length > 2 * BLOCK) this.blocks.splice(blockIndex, 1, { keys: block.keys.slice(0, BLOCK), prefix: undefined }, { keys: block.keys.slice(BLOCK), prefix: undefined });
    }
    this.sums = undefined;
    if (expiresAt !== undefined) {
      this.expiring.set(idHex, expiresAt);
      heapPush(this.expiries, { at: expiresAt, key: key });
    }
  }

  /** Removes a key (evicted or collected); absent keys are ignored. */
  remove(time: number, idHex: string): void {
    if (this.expiring.delete(idHex) && this.expiries.length > 2 * this.expiring.size + 1024) {
      // Removed keys leave dead heap entries behind: rebuild before they pile up.
      this.expiries = this.expiries.filter((e) => this.expiring.get(e.key.id.toString('hex')) === e.at).sort((a, b) => a.at - b.at);
    }
    if (this.blocks.length === 0) return;
    const key: SyncKey = { t: time, id: Buffer.from(idHex, 'hex') };
    const blockIndex = this.blockFor(key);
    const block = this.blocks[blockIndex] as Block;
    const i = lowerIn(block.keys, key);
    if (i >= block.keys.length || cmpKeys(block.keys[i] as SyncKey, key) !== 0) return;
    block.keys.splice(i, 1);
    block.prefix = undefined;
    if (block.keys.length === 0) this.blocks.splice(blockIndex, 1);
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
  private blockFor(key: SyncKey): number {
    let lo = 0;
    let hi = this.blocks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (cmpKeys((this.blocks[mid] as Block).keys[0] as SyncKey, key) <= 0) lo = mid;
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
    for (let blockIndex = 0; blockIndex < n; blockIndex++) {
      const prefix = this.prefixOf(this.blocks[blockIndex] as Block);
      const len = (this.blocks[blockIndex] as Block).keys.length;
      add256(sums, (blockIndex + 1) * LIMBS, sums, blockIndex * LIMBS, prefix, len * LIMBS);
      this.starts[blockIndex + 1] = (this.starts[blockIndex] as number) + len;
    }
    this.sums = sums;
  }

  private prefixOf(block: Block): Uint32Array {
    if (block.prefix === undefined) {
      const prefix = new Uint32Array((block.keys.length + 1) * LIMBS);
      block.keys.forEach((key, i) => addId(prefix, (i + 1) * LIMBS, prefix, i * LIMBS, key.id));
      block.prefix = prefix;
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
    let first = 0;
    let end = keys.length;
    while (first < end) {
      const mid = (first + end) >>> 1;
      if (cmpKeyBound(keys[mid] as SyncKey, bound) < 0) first = mid + 1;
      else end = mid;
    }
    return (this.starts[lo] as number) + first;
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
    const { b: block, o: offset } = this.locate(pos);
    return (this.blocks[block] as Block).keys[offset] as SyncKey;
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
    const { b: block, o: offset } = this.locate(pos);
    add256(out, 0, this.sums as Uint32Array, block * LIMBS, this.prefixOf(this.blocks[block] as Block), offset * LIMBS);
  }

  /** Fingerprint of the keys at positions [from, to), in O(log n). */
  fingerprint(from: number, to: number): string {
    const sumFrom = new Uint32Array(LIMBS);
    const sumTo = new Uint32Array(LIMBS);
    this.prefixSum(from, sumFrom);
    this.prefixSum(to, sumTo);
    let borrow = 0;
    for (let limb = 0; limb < LIMBS; limb++) {
      const diff = sumTo[limb]! - sumFrom[limb]! - borrow;
      borrow = diff < 0 ? 1 : 0;
      sumTo[limb] = diff >>> 0;
    }
    return digestOf(sumTo, to - from);
  }

  summary(lo: Bound, hi: Bound): { fp: string; n: number } {
    const range = this.range(lo, hi);
    return { fp: this.fingerprint(range.from, range.to), n: range.to - range.from };
  }
}

/** out[o..o+8) = a[ai..] + b[bi..] mod 2^256. */
function add256(out: Uint32Array, o: number, a: Uint32Array, ai: number, b: Uint32Array, bi: number): void {
  let carry = 0;
  for (let limb = 0; limb < LIMBS; limb++) {
    const word = a[ai + limb]! + b[bi + limb]! + carry;
    out[o + limb] = word >>> 0;
    carry = word > 0xffffffff ? 1 : 0;
  }
}

function lowerIn(keys: readonly SyncKey[], key: SyncKey): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cmpKeys(keys[mid] as SyncKey, key) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

type Expiry = { at: number; key: SyncKey };

function heapPush(heap: Expiry[], entry: Expiry): void {
  heap.push(entry);
  let i = heap.length - 1;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if ((heap[parent] as Expiry).at <= entry.at) break;
    heap[i] = heap[parent] as Expiry;
    i = parent;
  }
  heap[i] = entry;
}

function heapPop(heap: Expiry[]): Expiry {
  const top = heap[0] as Expiry;
  const last = heap.pop() as Expiry;
  if (heap.length > 0) {
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = -1;
      let best = last.at;
      if (left < heap.length && (heap[left] as Expiry).at < best) {
        smallest = left;
        best = (heap[left] as Expiry).at;
      }
      if (right < heap.length && (heap[right] as Expiry).at < best) smallest = right;
      if (smallest === -1) break;
      heap[i] = heap[smallest] as Expiry;
      i = smallest;
    }
    heap[i] = last;
  }
  return top;
}
