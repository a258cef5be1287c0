import { describe, expect, it } from 'vitest';
import { consistencyProof, EMPTY_ROOT, inclusionProof, leafHash, maxProofLength, root, verifyConsistency, verifyInclusion } from '../../src/tlog/merkle.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));

/*
 * The RFC 6962 reference test data (Certificate Transparency's merkle_tree_test, as also
 * used by transparency-dev/merkle): eight leaves, the tree head of each size, and the
 * published inclusion and consistency proofs.
 */
const LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map((s) => leafHash(unhex(s)));
const ROOTS = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];
const INCLUSION = [
  { index: 0, size: 8, proof: ['96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4'] },
  { index: 5, size: 8, proof: ['bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b', 'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7'] },
];
const CONSISTENCY = [
  { first: 2, second: 8, proof: ['5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4'] },
  { first: 6, second: 8, proof: ['0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a', 'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7'] },
];

describe('issuer log Merkle tree (RFC 9162 §2.1), against the RFC 6962 reference vectors', () => {
  it('gives the published tree head for every size 0..8', () => {
    expect(hex(root([]))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(hex(EMPTY_ROOT)).toBe(hex(root([])));
    for (let n = 1; n <= 8; n++) expect(hex(root(LEAVES, n)), `size ${n}`).toBe(ROOTS[n - 1]);
  });

  it('makes and verifies the published inclusion and consistency proofs', () => {
    for (const v of INCLUSION) {
      expect(inclusionProof(LEAVES, v.index, v.size).map(hex)).toEqual(v.proof);
      expect(verifyInclusion(LEAVES[v.index]!, v.index, v.size, v.proof.map(unhex), unhex(ROOTS[v.size - 1]!))).toBe(true);
    }
    for (const v of CONSISTENCY) {
      expect(consistencyProof(LEAVES, v.first, v.second).map(hex)).toEqual(v.proof);
      expect(verifyConsistency(v.first, v.second, unhex(ROOTS[v.first - 1]!), unhex(ROOTS[v.second - 1]!), v.proof.map(unhex))).toBe(true);
    }
  });

  // Every shape up to 70 leaves: each proof verifies, and every mangled one fails.
  const N = 70;
  const big = Array.from({ length: N }, (_, i) => leafHash(new TextEncoder().encode(`leaf ${i}`)));
  const roots = Array.from({ length: N + 1 }, (_, n) => root(big, n));

  it('every inclusion and consistency proof of trees up to 70 leaves verifies, within ⌈log₂ n⌉ hashes', () => {
    for (let n = 1; n <= N; n++) {
      for (let i = 0; i < n; i++) {
        const p = inclusionProof(big, i, n);
        expect(p.length).toBeLessThanOrEqual(maxProofLength(n));
        expect(verifyInclusion(big[i]!, i, n, p, roots[n]!), `${i}/${n}`).toBe(true);
      }
      for (let m = 0; m <= n; m++) expect(verifyConsistency(m, n, roots[m]!, roots[n]!, consistencyProof(big, m, n)), `${m}->${n}`).toBe(true);
    }
  });

  it('rejects proofs that are flipped, swapped, truncated, extended, or for another leaf, size or root', () => {
    const flip = (p: Uint8Array[], at: number): Uint8Array[] => p.map((h, j) => (j === at ? Uint8Array.from(h, (b, k) => (k === 0 ? b ^ 1 : b)) : h));
    for (let n = 2; n <= N; n += 3) {
      for (let i = 0; i < n; i += 2) {
        const p = inclusionProof(big, i, n);
        expect(verifyInclusion(big[i]!, i, n, flip(p, p.length - 1), roots[n]!)).toBe(false);
        expect(verifyInclusion(big[i]!, i, n, p.slice(0, -1), roots[n]!)).toBe(false);
        expect(verifyInclusion(big[i]!, i, n, [...p, big[0]!], roots[n]!)).toBe(false);
        expect(verifyInclusion(big[(i + 1) % n]!, i, n, p, roots[n]!)).toBe(false);
        expect(verifyInclusion(big[i]!, i, n, p, roots[n - 1]!)).toBe(false);
        if (p.length >= 2 && hex(p[0]!) !== hex(p[1]!)) expect(verifyInclusion(big[i]!, i, n, [p[1]!, p[0]!, ...p.slice(2)], roots[n]!)).toBe(false);
      }
      for (let m = 1; m < n; m += 2) {
        const p = consistencyProof(big, m, n);
        expect(verifyConsistency(m, n, roots[m]!, roots[n]!, flip(p, 0))).toBe(false);
        expect(verifyConsistency(m, n, roots[m]!, roots[n]!, p.slice(0, -1))).toBe(false);
        expect(verifyConsistency(m, n, roots[m]!, roots[n]!, [...p, big[0]!])).toBe(false);
        expect(verifyConsistency(m, n, roots[m + 1]!, roots[n]!, p)).toBe(false);
        expect(verifyConsistency(m, n, roots[m]!, roots[n - 1]!, p)).toBe(false);
      }
    }
  });

  it('bad arguments: verifiers answer false, builders throw typed errors; nothing hashes past the length bound', () => {
    const p = inclusionProof(LEAVES, 5, 8);
    const r8 = unhex(ROOTS[7]!);
    expect(verifyInclusion(LEAVES[5]!, 8, 8, p, r8)).toBe(false);
    expect(verifyInclusion(LEAVES[5]!, -1, 8, p, r8)).toBe(false);
    expect(verifyInclusion(new Uint8Array(31), 5, 8, p, r8)).toBe(false);
    expect(verifyInclusion(LEAVES[5]!, 5, 8, [new Uint8Array(31), ...p.slice(1)], r8)).toBe(false);
    expect(verifyInclusion(LEAVES[5]!, 5, 2 ** 60, Array.from({ length: 10_000 }, () => r8), r8)).toBe(false);
    expect(verifyConsistency(8, 6, r8, r8, [])).toBe(false);
    expect(verifyConsistency(6, 8, unhex(ROOTS[5]!), r8, [])).toBe(false);
    expect(verifyConsistency(0, 8, EMPTY_ROOT, r8, [])).toBe(true);
    expect(verifyConsistency(0, 8, r8, r8, [])).toBe(false);
    expect(verifyConsistency(4, 4, unhex(ROOTS[3]!), unhex(ROOTS[3]!), [])).toBe(true);
    expect(verifyConsistency(4, 4, unhex(ROOTS[3]!), r8, [])).toBe(false);
    expect(() => inclusionProof(LEAVES, 8, 8)).toThrow(RangeError);
    expect(() => inclusionProof(LEAVES, 0, 9)).toThrow(RangeError);
    expect(() => consistencyProof(LEAVES, 5, 3)).toThrow(RangeError);
    expect(() => root([new Uint8Array(31)])).toThrow(TypeError);
  });
});

describe('the append-only tree with stored subtrees', () => {
  it('answers exactly as the reference functions at every size, leaf and pair of sizes up to 70', async () => {
    const { MerkleTree } = await import('../../src/tlog/merkle.js');
    const leaves = Array.from({ length: 70 }, (_, i) => leafHash(new TextEncoder().encode(`t${i}`)));
    const t = new MerkleTree();
    for (let n = 1; n <= leaves.length; n++) {
      t.append(leaves[n - 1]!);
      expect(hex(t.root()), `root ${n}`).toBe(hex(root(leaves, n)));
      for (let i = 0; i < n; i++) expect(t.inclusionProof(i).map(hex), `incl ${i}/${n}`).toEqual(inclusionProof(leaves, i, n).map(hex));
      for (let m = 0; m <= n; m++) expect(t.consistencyProof(m).map(hex), `cons ${m}->${n}`).toEqual(consistencyProof(leaves, m, n).map(hex));
    }
    // Older sizes too, from the grown tree.
    for (let n = 1; n <= 70; n += 7) for (let i = 0; i < n; i += 3) expect(t.inclusionProof(i, n).map(hex)).toEqual(inclusionProof(leaves, i, n).map(hex));
    expect(hex(t.root(8))).toBe(hex(root(leaves, 8)));
  });

  it('the RFC 6962 reference tree heads and proofs', async () => {
    const { MerkleTree } = await import('../../src/tlog/merkle.js');
    const t = new MerkleTree();
    for (const l of LEAVES) t.append(l);
    for (let n = 1; n <= 8; n++) expect(hex(t.root(n))).toBe(ROOTS[n - 1]);
    for (const v of INCLUSION) expect(t.inclusionProof(v.index, v.size).map(hex)).toEqual(v.proof);
    for (const v of CONSISTENCY) expect(t.consistencyProof(v.first, v.second).map(hex)).toEqual(v.proof);
  });
});
