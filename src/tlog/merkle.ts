import { sha256 } from '@noble/hashes/sha2.js';

/**
 * The Merkle tree of an issuer's log (SPEC §16, RFC 9162 §2.1, the tree of RFC 6962):
 * MTH({}) = SHA-256(), a leaf's hash is SHA-256(0x00 || leaf), an interior node's
 * SHA-256(0x01 || left || right), and a tree of n > 1 leaves splits at k, the largest
 * power of two smaller than n. Inclusion and consistency proofs are generated and verified
 * with the RFC's algorithms (§2.1.3, §2.1.4), checked against the RFC 6962 reference
 * vectors. Pure: no I/O; leaves are given as their hashes.
 */

export const HASH_BYTES = 32;

/** The root of the empty tree: SHA-256 of nothing. */
export const EMPTY_ROOT: Uint8Array = sha256(new Uint8Array(0));

export function leafHash(leaf: Uint8Array): Uint8Array {
  const b = new Uint8Array(1 + leaf.length);
  b[0] = 0x00;
  b.set(leaf, 1);
  return sha256(b);
}

export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  if (left.length !== HASH_BYTES || right.length !== HASH_BYTES) throw new TypeError('a Merkle node hash takes two 32-byte hashes');
  const b = new Uint8Array(1 + 2 * HASH_BYTES);
  b[0] = 0x01;
  b.set(left, 1);
  b.set(right, 1 + HASH_BYTES);
  return sha256(b);
}

/** The largest power of two smaller than n (n > 1). */
function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function checkLeaves(leaves: readonly Uint8Array[]): void {
  if (!Array.isArray(leaves)) throw new TypeError('leaves must be an array of 32-byte leaf hashes');
  for (const l of leaves) if (!(l instanceof Uint8Array) || l.length !== HASH_BYTES) throw new TypeError('leaves must be 32-byte leaf hashes');
}

/** MTH(D[lo:hi]) of leaf hashes. */
function subtreeRoot(leaves: readonly Uint8Array[], lo: number, hi: number): Uint8Array {
  const n = hi - lo;
  if (n === 0) return EMPTY_ROOT;
  if (n === 1) return leaves[lo]!;
  const k = split(n);
  return nodeHash(subtreeRoot(leaves, lo, lo + k), subtreeRoot(leaves, lo + k, hi));
}

/** The root of the tree of the first `size` leaf hashes (all of them by default). */
export function root(leaves: readonly Uint8Array[], size = leaves.length): Uint8Array {
  checkLeaves(leaves);
  if (!Number.isSafeInteger(size) || size < 0 || size > leaves.length) throw new RangeError(`tree size ${size} is outside 0..${leaves.length}`);
  return subtreeRoot(leaves, 0, size);
}

/** PATH(m, D[lo:hi]) of RFC 9162 §2.1.3.1. */
function path(leaves: readonly Uint8Array[], m: number, lo: number, hi: number): Uint8Array[] {
  const n = hi - lo;
  if (n <= 1) return [];
  const k = split(n);
  return m < k
    ? [...path(leaves, m, lo, lo + k), subtreeRoot(leaves, lo + k, hi)]
    : [...path(leaves, m - k, lo + k, hi), subtreeRoot(leaves, lo, lo + k)];
}

/** The inclusion proof of leaf `index` in the tree of the first `size` leaves. */
export function inclusionProof(leaves: readonly Uint8Array[], index: number, size = leaves.length): Uint8Array[] {
  checkLeaves(leaves);
  if (!Number.isSafeInteger(size) || size < 1 || size > leaves.length) throw new RangeError(`tree size ${size} is outside 1..${leaves.length}`);
  if (!Number.isSafeInteger(index) || index < 0 || index >= size) throw new RangeError(`leaf index ${index} is outside 0..${size - 1}`);
  return path(leaves, index, 0, size);
}

/** SUBPROOF(m, D[lo:hi], b) of RFC 9162 §2.1.4.1. */
function subproof(leaves: readonly Uint8Array[], m: number, lo: number, hi: number, complete: boolean): Uint8Array[] {
  const n = hi - lo;
  if (m === n) return complete ? [] : [subtreeRoot(leaves, lo, hi)];
  const k = split(n);
  return m <= k
    ? [...subproof(leaves, m, lo, lo + k, complete), subtreeRoot(leaves, lo + k, hi)]
    : [...subproof(leaves, m - k, lo + k, hi, false), subtreeRoot(leaves, lo, lo + k)];
}

/** The consistency proof between the trees of the first `first` and `second` leaves. */
export function consistencyProof(leaves: readonly Uint8Array[], first: number, second = leaves.length): Uint8Array[] {
  checkLeaves(leaves);
  if (!Number.isSafeInteger(second) || second < 0 || second > leaves.length) throw new RangeError(`tree size ${second} is outside 0..${leaves.length}`);
  if (!Number.isSafeInteger(first) || first < 0 || first > second) throw new RangeError(`first size ${first} is outside 0..${second}`);
  if (first === 0 || first === second) return [];
  return subproof(leaves, first, 0, second, true);
}

const isHash = (x: unknown): x is Uint8Array => x instanceof Uint8Array && x.length === HASH_BYTES;

export function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

/** The most proof hashes a tree of `size` leaves can need: ⌈log₂ size⌉ (SPEC §14: a bound checked before any hashing). */
export function maxProofLength(size: number): number {
  let n = 0;
  while (2 ** n < size) n++;
  return n;
}

/** RFC 9162 §2.1.3.2: whether `proof` shows leaf hash `leaf` at `index` in the tree of `size` leaves with root `treeRoot`. */
export function verifyInclusion(leaf: Uint8Array, index: number, size: number, proof: readonly Uint8Array[], treeRoot: Uint8Array): boolean {
  if (!isHash(leaf) || !isHash(treeRoot) || !Array.isArray(proof) || !proof.every(isHash)) return false;
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) return false;
  if (proof.length > maxProofLength(size)) return false;
  // fn and sn fit in 53 bits: shift by division, not by 32-bit operators.
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      [fn, sn] = shiftWhileEven(fn, sn);
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && equal(r, treeRoot);
}

/**
 * The two roots a consistency proof's nodes hash to (RFC 9162 §2.1.4.2's fr and sr), or
 * undefined when the nodes do not fit sizes first < second. `nodes` is the proof as the
 * algorithm walks it: when `first` is a power of two, the root of the first tree comes
 * first (the RFC's verifier prepends the claimed first root; an inconsistency proof
 * carries the true one, so fr is what the second tree's prefix really hashes to).
 */
export function consistencyRoots(first: number, second: number, nodes: readonly Uint8Array[]): { fr: Uint8Array; sr: Uint8Array } | undefined {
  if (!Array.isArray(nodes) || !nodes.every(isHash)) return undefined;
  if (!Number.isSafeInteger(first) || !Number.isSafeInteger(second) || first <= 0 || first >= second) return undefined;
  if (nodes.length === 0 || nodes.length > maxProofLength(second) + 1) return undefined;
  let fn = first - 1;
  let sn = second - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr = nodes[0]!;
  let sr = nodes[0]!;
  for (const c of nodes.slice(1)) {
    if (sn === 0) return undefined;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      [fn, sn] = shiftWhileEven(fn, sn);
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? { fr, sr } : undefined;
}

/** RFC 9162 §2.1.4.2: whether `proof` shows the tree of `first` leaves (root `firstRoot`) is a prefix of that of `second` (root `secondRoot`). */
export function verifyConsistency(first: number, second: number, firstRoot: Uint8Array, secondRoot: Uint8Array, proof: readonly Uint8Array[]): boolean {
  if (!isHash(firstRoot) || !isHash(secondRoot) || !Array.isArray(proof) || !proof.every(isHash)) return false;
  if (!Number.isSafeInteger(first) || !Number.isSafeInteger(second) || first < 0 || first > second) return false;
  // The empty tree is a prefix of every tree; a tree is consistent with itself.
  if (first === 0) return proof.length === 0 && equal(firstRoot, EMPTY_ROOT);
  if (first === second) return proof.length === 0 && equal(firstRoot, secondRoot);
  if (proof.length === 0 || proof.length > maxProofLength(second) + 1) return false;
  // A first tree that is a complete subtree is a node of the second: its root starts the path.
  const roots = consistencyRoots(first, second, isPowerOfTwo(first) ? [firstRoot, ...proof] : proof);
  return roots !== undefined && equal(roots.fr, firstRoot) && equal(roots.sr, secondRoot);
}

/** RFC 9162's "right-shift fn and sn equally until either LSB(fn) is set or fn is 0" (53-bit safe: by division). */
function shiftWhileEven(fn: number, sn: number): [number, number] {
  while (fn % 2 === 0 && fn !== 0) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return [fn, sn];
}

export function isPowerOfTwo(n: number): boolean {
  while (n > 1 && n % 2 === 0) n /= 2;
  return n === 1;
}

/**
 * An append-only tree that keeps the hash of every complete, aligned subtree (2n hashes in
 * all), so a root or a proof at any size costs O(log n) hashes, not O(n): a reader asking
 * for proofs of a large log costs microseconds, not a recomputation of the whole tree.
 * The same answers as the functions above (tested against them).
 */
export class MerkleTree {
  /** levels[k][i]: the root of leaves [i·2^k, (i+1)·2^k), once all of them are in. */
  private readonly levels: Uint8Array[][] = [[]];

  get size(): number {
    return this.levels[0]!.length;
  }

  append(leaf: Uint8Array): void {
    if (!isHash(leaf)) throw new TypeError('a leaf hash is 32 bytes');
    this.levels[0]!.push(leaf);
    // Complete every subtree this leaf closes.
    for (let k = 0; this.levels[k]!.length % 2 === 0; k++) {
      const level = this.levels[k]!;
      (this.levels[k + 1] ??= []).push(nodeHash(level[level.length - 2]!, level[level.length - 1]!));
    }
  }

  /** MTH of leaves [lo, hi): stored when the range is a complete aligned subtree, else split as the RFC does. */
  private sub(lo: number, hi: number): Uint8Array {
    const n = hi - lo;
    if (n === 0) return EMPTY_ROOT;
    if ((n & (n - 1)) === 0 && lo % n === 0) {
      const k = Math.log2(n);
      const stored = this.levels[k]?.[lo / n];
      if (stored !== undefined) return stored;
    }
    const k = split(n);
    return nodeHash(this.sub(lo, lo + k), this.sub(lo + k, hi));
  }

  private checkSize(size: number, min = 0): void {
    if (!Number.isSafeInteger(size) || size < min || size > this.size) throw new RangeError(`tree size ${size} is outside ${min}..${this.size}`);
  }

  root(size = this.size): Uint8Array {
    this.checkSize(size);
    return this.sub(0, size);
  }

  inclusionProof(index: number, size = this.size): Uint8Array[] {
    this.checkSize(size, 1);
    if (!Number.isSafeInteger(index) || index < 0 || index >= size) throw new RangeError(`leaf index ${index} is outside 0..${size - 1}`);
    const out: Uint8Array[] = [];
    let lo = 0;
    let hi = size;
    let m = index;
    const right: Uint8Array[] = [];
    while (hi - lo > 1) {
      const k = split(hi - lo);
      if (m < k) {
        right.push(this.sub(lo + k, hi));
        hi = lo + k;
      } else {
        right.push(this.sub(lo, lo + k));
        lo += k;
        m -= k;
      }
    }
    // PATH lists the deepest sibling first.
    for (let i = right.length - 1; i >= 0; i--) out.push(right[i]!);
    return out;
  }

  consistencyProof(first: number, second = this.size): Uint8Array[] {
    this.checkSize(second);
    if (!Number.isSafeInteger(first) || first < 0 || first > second) throw new RangeError(`first size ${first} is outside 0..${second}`);
    if (first === 0 || first === second) return [];
    const nodes: Uint8Array[] = [];
    let lo = 0;
    let hi = second;
    let m = first;
    let complete = true;
    for (;;) {
      const n = hi - lo;
      if (m === n) {
        if (!complete) nodes.push(this.sub(lo, hi));
        break;
      }
      const k = split(n);
      if (m <= k) {
        nodes.push(this.sub(lo + k, hi));
        hi = lo + k;
      } else {
        nodes.push(this.sub(lo, lo + k));
        lo += k;
        m -= k;
        complete = false;
      }
    }
    // SUBPROOF lists the deepest node first.
    return nodes.reverse();
  }
}

/**
 * The right edge of a tree (its complete subtrees, largest first: at most ⌈log₂ n⌉ hashes):
 * enough to append leaves and compute the root at every size on the way, without the
 * leaves before. How a mirror checks a page of leaves against a signed root in O(log n)
 * memory per log (RFC 9162 §2.1.1: the root folds the subtrees from the right).
 */
export class CompactRange {
  private readonly nodes: Uint8Array[];
  private n: number;

  constructor(size = 0, nodes: readonly Uint8Array[] = []) {
    if (!Number.isSafeInteger(size) || size < 0 || nodes.length !== popcount(size) || !nodes.every(isHash)) throw new RangeError('a compact range has one hash per set bit of its size');
    this.n = size;
    this.nodes = [...nodes];
  }

  get size(): number {
    return this.n;
  }

  /** The subtree hashes, largest first (what is persisted). */
  get hashes(): readonly Uint8Array[] {
    return [...this.nodes];
  }

  append(leaf: Uint8Array): void {
    if (!isHash(leaf)) throw new TypeError('a leaf hash is 32 bytes');
    let h = leaf;
    // Merge while the lowest subtree has the size of the new one.
    for (let s = this.n; s % 2 === 1; s = Math.floor(s / 2)) h = nodeHash(this.nodes.pop()!, h);
    this.nodes.push(h);
    this.n++;
  }

  root(): Uint8Array {
    if (this.nodes.length === 0) return EMPTY_ROOT;
    let r = this.nodes[this.nodes.length - 1]!;
    for (let i = this.nodes.length - 2; i >= 0; i--) r = nodeHash(this.nodes[i]!, r);
    return r;
  }

  clone(): CompactRange {
    return new CompactRange(this.n, this.nodes);
  }
}

function popcount(n: number): number {
  let c = 0;
  for (; n > 0; n = Math.floor(n / 2)) c += n % 2;
  return c;
}
