import { createHash, createPrivateKey, createPublicKey, sign as nodeSign, verify as nodeVerify, type KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { publicKeyOf, referenceSuite } from '../../src/crypto/reference-suite.js';
import { didKeyFromPublicKey } from '../../src/identity/did-key.js';
import { CompactRange, consistencyRoots, EMPTY_ROOT, leafHash, MerkleTree, root } from '../../src/tlog/merkle.js';
import { checkpointText, parseCheckpoint, parseNote, signNote, type NoteSignature } from '../../src/tlog/note.js';
import {
  cosign,
  cosignatureKeyId,
  cosignedMessage,
  equivocationProof,
  inconsistencyNodes,
  issuerOfOrigin,
  logOrigin,
  noteWith,
  verifiedCosignatures,
  verifyCheckpointNote,
  verifyEquivocation,
  witnessName,
  type EquivocationProof,
} from '../../src/tlog/witness.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');
const code = (c: string) => expect.objectContaining({ name: 'ChorusError', code: c });

/* Fixed keys: the issuer of the log, another issuer, two witnesses. */
const ISSUER_SEED = new Uint8Array(32).fill(1);
const OTHER_SEED = new Uint8Array(32).fill(2);
const W1_SEED = new Uint8Array(32).fill(3);
const W2_SEED = new Uint8Array(32).fill(4);
const ISSUER = didKeyFromPublicKey(publicKeyOf(ISSUER_SEED));
const OTHER = didKeyFromPublicKey(publicKeyOf(OTHER_SEED));
const W1 = didKeyFromPublicKey(publicKeyOf(W1_SEED));
const W2 = didKeyFromPublicKey(publicKeyOf(W2_SEED));
const ORIGIN = logOrigin(ISSUER);

/* ---- an independent implementation of the formats, with node:crypto only ---- */

const SPKI_ED25519 = Buffer.from('302a300506032b6570032100', 'hex');
const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex');
const nodePublicKey = (raw: Uint8Array): KeyObject => createPublicKey({ key: Buffer.concat([SPKI_ED25519, raw]), format: 'der', type: 'spki' });
const nodePrivateKey = (seed: Uint8Array): KeyObject => createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, seed]), format: 'der', type: 'pkcs8' });
const rawPublicKey = (seed: Uint8Array): Buffer => createPublicKey(nodePrivateKey(seed)).export({ format: 'der', type: 'spki' }).subarray(12);
const sha256 = (...parts: (Uint8Array | string)[]): Buffer => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};
/** c2sp.org/tlog-cosignature: SHA-256(name || "\n" || 0x04 || public key)[:4]. */
const refCosigKeyId = (name: string, pub: Uint8Array): Buffer => sha256(name, '\n', Uint8Array.of(0x04), pub).subarray(0, 4);
/** c2sp.org/signed-note Ed25519: SHA-256(name || "\n" || 0x01 || public key)[:4]. */
const refNoteKeyId = (name: string, pub: Uint8Array): Buffer => sha256(name, '\n', Uint8Array.of(0x01), pub).subarray(0, 4);
const refCosignedMessage = (text: string, ts: bigint | number): Buffer => Buffer.from(`cosignature/v1\ntime ${ts}\n${text}`, 'utf8');
/** A cosignature/v1 signature line made without the code under test. */
function refCosignLine(name: string, seed: Uint8Array, text: string, ts: bigint, keyId = refCosigKeyId(name, rawPublicKey(seed))): string {
  const t = Buffer.alloc(8);
  t.writeBigUInt64BE(ts);
  const sig = nodeSign(null, refCosignedMessage(text, ts), nodePrivateKey(seed));
  return `\u2014 ${name} ${Buffer.concat([keyId, t, sig]).toString('base64')}`;
}
/** Splits a signature line into its name and decoded blob. */
function splitLine(line: string): { name: string; blob: Buffer } {
  const m = /^\u2014 (\S+) (\S+)$/u.exec(line);
  if (!m) throw new Error(`not a signature line: ${line}`);
  return { name: m[1]!, blob: Buffer.from(m[2]!, 'base64') };
}
const joinLine = (name: string, blob: Uint8Array): string => `\u2014 ${name} ${b64(blob)}`;
/** The signature lines of a note made of `text` and `lines`, as parseNote reads them. */
const parsedLines = (text: string, lines: readonly string[]): readonly NoteSignature[] => parseNote(`${text}\n${lines.join('\n')}\n`).signatures;

/* ---- trees and checkpoints ---- */

const leaf = (i: number, fork = 0): Uint8Array => leafHash(new TextEncoder().encode(`leaf ${i}${fork ? ` fork ${fork}` : ''}`));
const leaves = (n: number, forkAt = -1): Uint8Array[] => Array.from({ length: n }, (_, i) => leaf(i, i === forkAt ? 1 : 0));
function treeOf(ls: readonly Uint8Array[]): MerkleTree {
  const t = new MerkleTree();
  for (const l of ls) t.append(l);
  return t;
}
/** A checkpoint note of `origin`, size and root, signed by `seed` under key name `name`. */
function checkpointNote(size: number, r: Uint8Array, seed = ISSUER_SEED, origin = ORIGIN, name = origin, extensions: string[] = []): string {
  return signNote(checkpointText({ origin, size, root: r, extensions }), name, seed);
}

const popcount = (n: number): number => n.toString(2).split('').filter((c) => c === '1').length;

describe('CompactRange (the right edge of an issuer log)', () => {
  const N = 70;
  const ls = leaves(N);
  const roots = Array.from({ length: N + 1 }, (_, n) => hex(root(ls, n)));

  it('gives root(leaves, n) at every size 0..70 as leaves are appended, and persists the complete subtrees largest first', () => {
    const r = new CompactRange();
    expect(r.size).toBe(0);
    expect(hex(r.root())).toBe(hex(EMPTY_ROOT));
    for (let n = 0; n <= N; n++) {
      if (n > 0) r.append(ls[n - 1]!);
      expect(r.size).toBe(n);
      expect(hex(r.root()), `size ${n}`).toBe(roots[n]);
      // The persisted hashes are the roots of the aligned complete subtrees of the size's binary form.
      const expected: string[] = [];
      let lo = 0;
      for (let bit = 2 ** 7; bit >= 1; bit /= 2) {
        if (n & bit) {
          expected.push(hex(root(ls.slice(lo, lo + bit))));
          lo += bit;
        }
      }
      expect(r.hashes.map(hex), `size ${n}`).toEqual(expected);
    }
  });

  it('a range rebuilt from a clone\'s persisted hashes continues with the same roots, and the clone is independent', () => {
    const r = new CompactRange();
    for (let s = 0; s <= N; s++) {
      if (s > 0) r.append(ls[s - 1]!);
      const clone = r.clone();
      // Persist as text and read back: nothing shared with the live range.
      const persisted = clone.hashes.map(hex).map((h) => new Uint8Array(Buffer.from(h, 'hex')));
      const rebuilt = new CompactRange(s, persisted);
      expect(rebuilt.size).toBe(s);
      expect(hex(rebuilt.root()), `rebuilt at ${s}`).toBe(roots[s]);
      for (let n = s + 1; n <= N; n++) {
        rebuilt.append(ls[n - 1]!);
        expect(hex(rebuilt.root()), `rebuilt at ${s}, size ${n}`).toBe(roots[n]);
      }
      // Appending to the clone leaves the original range where it was, and vice versa.
      if (s < N) {
        clone.append(ls[s]!);
        expect(clone.size).toBe(s + 1);
        expect(hex(clone.root())).toBe(roots[s + 1]);
        expect(r.size).toBe(s);
        expect(hex(r.root())).toBe(roots[s]);
      }
    }
  });

  it('refuses a hash count that is not popcount(size), a bad size or hash, and a leaf that is not 32 bytes', () => {
    const h = leaf(0);
    for (let size = 0; size <= 70; size++) {
      const want = popcount(size);
      expect(() => new CompactRange(size, Array.from({ length: want }, () => h)), `size ${size}`).not.toThrow();
      expect(() => new CompactRange(size, Array.from({ length: want + 1 }, () => h)), `size ${size}, +1`).toThrow(RangeError);
      if (want > 0) expect(() => new CompactRange(size, Array.from({ length: want - 1 }, () => h)), `size ${size}, -1`).toThrow(RangeError);
    }
    expect(() => new CompactRange(-1, [])).toThrow(RangeError);
    expect(() => new CompactRange(1.5, [h])).toThrow(RangeError);
    expect(() => new CompactRange(1, [new Uint8Array(31)])).toThrow(RangeError);
    expect(() => new CompactRange().append(new Uint8Array(33))).toThrow(TypeError);
  });
});

describe('consistencyRoots', () => {
  it('hashes a consistency path to the prefix root and the tree root, and refuses nodes that do not fit the sizes', () => {
    const N = 20;
    const ls = leaves(N);
    const tree = treeOf(ls);
    for (let m = 1; m < N; m++) {
      for (let n = m + 1; n <= N; n++) {
        const nodes = inconsistencyNodes(m, tree.consistencyProof(m, n), tree.root(m));
        const r = consistencyRoots(m, n, nodes);
        expect(r && hex(r.fr), `${m} of ${n}`).toBe(hex(root(ls, m)));
        expect(r && hex(r.sr), `${m} of ${n}`).toBe(hex(root(ls, n)));
        expect(consistencyRoots(m, n, nodes.slice(0, -1)), `${m} of ${n}, truncated`).toBeUndefined();
        expect(consistencyRoots(m, n, [...nodes, leaf(0)]), `${m} of ${n}, lengthened`).toBeUndefined();
      }
    }
    const nodes = inconsistencyNodes(3, tree.consistencyProof(3, 8), tree.root(3));
    expect(consistencyRoots(3, 8, [])).toBeUndefined();
    expect(consistencyRoots(0, 8, nodes)).toBeUndefined();
    expect(consistencyRoots(8, 8, nodes)).toBeUndefined();
    expect(consistencyRoots(9, 8, nodes)).toBeUndefined();
    expect(consistencyRoots(3, 8, [...nodes.slice(0, -1), new Uint8Array(31)])).toBeUndefined();
  });
});

describe('cosignatures (c2sp.org/tlog-cosignature, cosignature/v1), checked with node:crypto', () => {
  const text = checkpointText({ origin: ORIGIN, size: 5, root: root(leaves(5)), extensions: [] });

  it('the independent key derivation agrees with publicKeyOf', () => {
    for (const seed of [ISSUER_SEED, W1_SEED]) expect(hex(rawPublicKey(seed))).toBe(hex(publicKeyOf(seed)));
  });

  it('a cosignature line is name, key id, u64 big-endian timestamp and an Ed25519 signature of the cosigned message', () => {
    const pub = publicKeyOf(W1_SEED);
    const key = nodePublicKey(pub);
    const name = witnessName(W1);
    expect(name).toBe(`chorus-witness/${W1}`);
    for (const ts of [0, 1, 1_700_000_000, 2 ** 32 + 7, 2 ** 40 + 5]) {
      const c = cosign(text, W1, W1_SEED, ts);
      expect(c.witness).toBe(W1);
      expect(c.timestamp).toBe(ts);
      const { name: lineName, blob } = splitLine(c.line);
      expect(lineName).toBe(name);
      expect(b64(blob), 'standard padded base64').toBe(c.line.split(' ')[2]);
      expect(blob.length).toBe(4 + 8 + 64);
      expect(hex(blob.subarray(0, 4))).toBe(hex(refCosigKeyId(name, pub)));
      expect(blob.readBigUInt64BE(4)).toBe(BigInt(ts));
      const sig = blob.subarray(12);
      expect(nodeVerify(null, refCosignedMessage(text, ts), key, sig), `ts ${ts}`).toBe(true);
      // Not a plain signed-note signature of the text, nor of another time.
      expect(nodeVerify(null, Buffer.from(text), key, sig)).toBe(false);
      expect(nodeVerify(null, refCosignedMessage(text, ts + 1), key, sig)).toBe(false);
    }
  });

  it('the key id is of type 0x04 (not the note type 0x01), and the cosigned message is exactly the header, time line and text', () => {
    const pub = publicKeyOf(W1_SEED);
    const name = witnessName(W1);
    const id = cosignatureKeyId(name, pub);
    expect(id).toBe(refCosigKeyId(name, pub).readUInt32BE(0));
    expect(id).not.toBe(refNoteKeyId(name, pub).readUInt32BE(0));
    expect(cosignatureKeyId('witness.example.com/w1', pub)).toBe(refCosigKeyId('witness.example.com/w1', pub).readUInt32BE(0));
    expect(hex(cosignedMessage(text, 1679315147))).toBe(hex(Buffer.from(`cosignature/v1\ntime 1679315147\n${text}`)));
    expect(new TextDecoder().decode(cosignedMessage('a\n', 0))).toBe('cosignature/v1\ntime 0\na\n');
  });

  it('a cosignature made independently with node:crypto is accepted by verifiedCosignatures', () => {
    const ts = 1_700_000_000n;
    const line = refCosignLine(witnessName(W2), W2_SEED, text, ts);
    const got = verifiedCosignatures(text, parsedLines(text, [line]), referenceSuite, Number(ts));
    expect(got).toEqual([{ witness: W2, timestamp: Number(ts), line }]);
  });

  it('reads the C2SP example note: the witness blob is a 4-byte key id then timestamp 1679315147', () => {
    const note = [
      'example.com/behind-the-sofa',
      '20852163',
      'CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=',
      '',
      '\u2014 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=',
      '\u2014 witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==',
      '',
    ].join('\n');
    const parsed = parseNote(note);
    expect(parseCheckpoint(parsed.text)).toMatchObject({ origin: 'example.com/behind-the-sofa', size: 20852163, extensions: [] });
    expect(parsed.signatures.map((s) => s.name)).toEqual(['example.com/behind-the-sofa', 'witness.example.com/w1']);
    const w = parsed.signatures[1]!;
    expect(w.id).toBe(0x8d66cf3f);
    expect(w.signature.length).toBe(8 + 64);
    expect(Buffer.from(w.signature).readBigUInt64BE(0)).toBe(1679315147n);
    // The issuer's line is an ordinary Ed25519 note signature.
    expect(parsed.signatures[0]!.signature.length).toBe(64);
    // Names outside chorus-witness/ are skipped, not an error.
    expect(verifiedCosignatures(parsed.text, parsed.signatures, referenceSuite, 1679315147)).toEqual([]);
  });
});

describe('verifiedCosignatures and noteWith', () => {
  const T = 1_700_000_000;
  const text = checkpointText({ origin: ORIGIN, size: 3, root: root(leaves(3)), extensions: [] });
  const good = cosign(text, W1, W1_SEED, T);
  const verify = (lines: string[], now = T) => verifiedCosignatures(text, parsedLines(text, lines), referenceSuite, now);

  it('accepts a valid cosignature', () => {
    expect(verify([good.line])).toEqual([{ witness: W1, timestamp: T, line: good.line }]);
  });

  it('skips a flipped signature byte, a flipped timestamp, a wrong key id, and a cosignature of other text', () => {
    const { name, blob } = splitLine(good.line);
    for (const i of [0, 3, 11, 12, 40, 75]) {
      const b = Buffer.from(blob);
      b[i]! ^= 0x01;
      expect(verify([joinLine(name, b)]), `byte ${i}`).toEqual([]);
    }
    // A valid signature under the signed-note (0x01) key id rather than cosignature/v1's.
    const noteIdLine = refCosignLine(name, W1_SEED, text, BigInt(T), refNoteKeyId(name, publicKeyOf(W1_SEED)));
    expect(verify([noteIdLine])).toEqual([]);
    // Another witness's key id on W1's line.
    expect(verify([joinLine(name, Buffer.concat([refCosigKeyId(witnessName(W2), publicKeyOf(W2_SEED)), blob.subarray(4)]))])).toEqual([]);
    // A cosignature of another checkpoint.
    const other = checkpointText({ origin: ORIGIN, size: 4, root: root(leaves(4)), extensions: [] });
    expect(verify([cosign(other, W1, W1_SEED, T).line])).toEqual([]);
  });

  it('skips a timestamp more than 600 s ahead of now, accepts one exactly 600 s ahead', () => {
    expect(verify([cosign(text, W1, W1_SEED, T + 601).line])).toEqual([]);
    expect(verify([cosign(text, W1, W1_SEED, T + 3600).line])).toEqual([]);
    const edge = cosign(text, W1, W1_SEED, T + 600);
    expect(verify([edge.line])).toEqual([{ witness: W1, timestamp: T + 600, line: edge.line }]);
    // Old cosignatures are not refused for their age.
    const old = cosign(text, W1, W1_SEED, 1);
    expect(verify([old.line])).toEqual([{ witness: W1, timestamp: 1, line: old.line }]);
  });

  it('skips names that are not chorus-witness/<did:key>, even with valid cosignature/v1 signatures', () => {
    for (const name of ['witness.example.com/w1', ORIGIN, `chorus-wxtness/${W1}`, `xhorus-witness/${W1}`, `chorus-witness/${W1}x`, 'chorus-witness/did:key:zNotAKey', 'chorus-witness/']) {
      expect(verify([refCosignLine(name, W1_SEED, text, BigInt(T))]), name).toEqual([]);
    }
    // The issuer's own note signature among the lines is not a cosignature either.
    const issuerLine = checkpointNote(3, root(leaves(3))).trimEnd().split('\n').at(-1)!;
    expect(verify([issuerLine, good.line])).toEqual([{ witness: W1, timestamp: T, line: good.line }]);
  });

  it('keeps only the newest cosignature of each witness', () => {
    const c = [T - 100, T - 10, T - 50].map((ts) => cosign(text, W1, W1_SEED, ts));
    const d = cosign(text, W2, W2_SEED, T - 70);
    const got = verify([c[0]!.line, c[1]!.line, d.line, c[2]!.line]);
    expect(got).toHaveLength(2);
    expect(got).toContainEqual({ witness: W1, timestamp: T - 10, line: c[1]!.line });
    expect(got).toContainEqual({ witness: W2, timestamp: T - 70, line: d.line });
    // A newer but invalid line does not displace the valid one.
    const { name, blob } = splitLine(cosign(text, W1, W1_SEED, T).line);
    blob[50]! ^= 0xff;
    expect(verify([c[0]!.line, joinLine(name, blob)])).toEqual([{ witness: W1, timestamp: T - 100, line: c[0]!.line }]);
  });

  it('noteWith writes a note that re-parses, with the issuer\'s signature and the cosignatures verifiable', () => {
    const note = checkpointNote(3, root(leaves(3)));
    const c = verifyCheckpointNote(note, referenceSuite);
    expect(noteWith(c, [])).toBe(note);
    const d = cosign(text, W2, W2_SEED, T - 5);
    const withCos = noteWith(c, [good, d]);
    expect(withCos).toBe(`${note}${good.line}\n${d.line}\n`);
    const parsed = parseNote(withCos);
    expect(parsed.text).toBe(text);
    expect(parsed.signatures).toHaveLength(3);
    const again = verifyCheckpointNote(withCos, referenceSuite);
    expect(again.issuer).toBe(ISSUER);
    expect(again.signatureLine).toBe(c.signatureLine);
    expect(again.others).toHaveLength(2);
    const cos = verifiedCosignatures(again.text, again.others, referenceSuite, T);
    expect(cos).toHaveLength(2);
    expect(cos).toContainEqual({ witness: W1, timestamp: T, line: good.line });
    expect(cos).toContainEqual({ witness: W2, timestamp: T - 5, line: d.line });
  });
});

describe('verifyCheckpointNote', () => {
  const r5 = root(leaves(5));

  it('accepts a checkpoint of chorus-log/<did> signed by that did under the origin\'s name', () => {
    expect(ORIGIN).toBe(`chorus-log/${ISSUER}`);
    expect(issuerOfOrigin(ORIGIN)).toBe(ISSUER);
    const note = checkpointNote(5, r5, ISSUER_SEED, ORIGIN, ORIGIN, ['ext one']);
    const v = verifyCheckpointNote(note, referenceSuite);
    expect(v.issuer).toBe(ISSUER);
    expect(v.checkpoint).toEqual({ origin: ORIGIN, size: 5, root: r5, extensions: ['ext one'] });
    expect(v.text).toBe(checkpointText(v.checkpoint));
    expect(`${v.text}\n${v.signatureLine}\n`).toBe(note);
    expect(v.others).toEqual([]);
    // The empty log, with the hash of nothing as its root.
    expect(verifyCheckpointNote(checkpointNote(0, EMPTY_ROOT), referenceSuite).checkpoint.size).toBe(0);
  });

  it('refuses with bad_signature a checkpoint signed by another key, under another name, or tampered', () => {
    expect(() => verifyCheckpointNote(checkpointNote(5, r5, OTHER_SEED), referenceSuite)).toThrow(code('bad_signature'));
    expect(() => verifyCheckpointNote(checkpointNote(5, r5, ISSUER_SEED, ORIGIN, logOrigin(OTHER)), referenceSuite)).toThrow(code('bad_signature'));
    expect(() => verifyCheckpointNote(checkpointNote(5, r5, ISSUER_SEED, ORIGIN, 'example.com/log'), referenceSuite)).toThrow(code('bad_signature'));
    const note = checkpointNote(5, r5);
    expect(() => verifyCheckpointNote(note.replace(`\n5\n`, `\n6\n`), referenceSuite)).toThrow(code('bad_signature'));
    expect(() => verifyCheckpointNote(note.replace(b64(r5), b64(root(leaves(5, 2)))), referenceSuite)).toThrow(code('bad_signature'));
    // A flipped byte in the signature itself.
    const { name, blob } = splitLine(note.trimEnd().split('\n').at(-1)!);
    blob[20]! ^= 1;
    expect(() => verifyCheckpointNote(`${note.split('\n\n')[0]}\n\n${joinLine(name, blob)}\n`, referenceSuite)).toThrow(code('bad_signature'));
    // The issuer's valid signature blob (key id of the origin) under another key name.
    const issuerLine = note.trimEnd().split('\n').at(-1)!;
    for (const other of ['example.com/log', logOrigin(OTHER), `${ORIGIN}x`]) {
      expect(() => verifyCheckpointNote(note.replace(issuerLine, issuerLine.replace(ORIGIN, other)), referenceSuite), other).toThrow(code('bad_signature'));
    }
    // Only a cosignature, no issuer signature.
    const text = checkpointText({ origin: ORIGIN, size: 5, root: r5, extensions: [] });
    expect(() => verifyCheckpointNote(`${text}\n${cosign(text, W1, W1_SEED, 1).line}\n`, referenceSuite)).toThrow(code('bad_signature'));
  });

  it('refuses with bad_input an origin that is not chorus-log/<did:key>, a non-empty root at size 0, and an oversized note', () => {
    for (const origin of ['example.com/log', `chorus-log/x${ISSUER}`, `chorus-log/${ISSUER}x`, 'chorus-log/did:key:z6Mk', `chorus-witness/${ISSUER}`, 'chorus-log/']) {
      expect(issuerOfOrigin(origin), origin).toBeUndefined();
      expect(() => verifyCheckpointNote(checkpointNote(5, r5, ISSUER_SEED, origin), referenceSuite), origin).toThrow(code('bad_input'));
    }
    expect(() => verifyCheckpointNote(checkpointNote(0, r5), referenceSuite)).toThrow(code('bad_input'));
    const big = checkpointNote(5, r5, ISSUER_SEED, ORIGIN, ORIGIN, ['x'.repeat(17 * 1024)]);
    expect(() => verifyCheckpointNote(big, referenceSuite)).toThrow(code('bad_input'));
    expect(() => verifyCheckpointNote('not a note', referenceSuite)).toThrow(code('bad_input'));
  });
});

describe('equivocation proofs', () => {
  const signed = (size: number, r: Uint8Array, seed = ISSUER_SEED, origin = ORIGIN) => verifyCheckpointNote(checkpointNote(size, r, seed, origin), referenceSuite);

  it('same size, different roots: accepted, whichever order the checkpoints are given, and after a JSON round trip', () => {
    const x = signed(7, root(leaves(7)));
    const y = signed(7, root(leaves(7, 3)));
    const p = equivocationProof(x, y);
    expect(equivocationProof(y, x)).toEqual(p);
    expect(p.type).toBe('chorus-equivocation/v1');
    expect(p.nodes).toEqual([]);
    for (const q of [p, JSON.parse(JSON.stringify(p)) as unknown]) {
      const v = verifyEquivocation(q, referenceSuite);
      expect(v.issuer).toBe(ISSUER);
      expect(new Set([hex(v.a.checkpoint.root), hex(v.b.checkpoint.root)])).toEqual(new Set([hex(x.checkpoint.root), hex(y.checkpoint.root)]));
    }
    // Both orders of a and b verify at the same size.
    expect(verifyEquivocation({ ...p, a: p.b, b: p.a }, referenceSuite).issuer).toBe(ISSUER);
    // A same-size proof carries no nodes.
    expect(() => verifyEquivocation({ ...p, nodes: [hex(leaf(0))] }, referenceSuite)).toThrow(code('bad_input'));
  });

  it('same size, same root: not_equivocation (also when the notes differ only in extensions)', () => {
    const r = root(leaves(6));
    const x = signed(6, r);
    expect(() => verifyEquivocation(equivocationProof(x, x), referenceSuite)).toThrow(code('not_equivocation'));
    const withExt = verifyCheckpointNote(checkpointNote(6, r, ISSUER_SEED, ORIGIN, ORIGIN, ['ext']), referenceSuite);
    expect(() => verifyEquivocation(equivocationProof(x, withExt), referenceSuite)).toThrow(code('not_equivocation'));
  });

  it('different sizes where the smaller is a prefix: not_equivocation', () => {
    const n = 20;
    const tree = treeOf(leaves(n));
    for (const m of [1, 2, 3, 4, 5, 7, 8, 13, 16]) {
      for (const big of [m + 1, n]) {
        const a = signed(m, tree.root(m));
        const b = signed(big, tree.root(big));
        const nodes = inconsistencyNodes(m, tree.consistencyProof(m, big), tree.root(m));
        expect(() => verifyEquivocation(equivocationProof(a, b, nodes), referenceSuite), `${m} of ${big}`).toThrow(code('not_equivocation'));
      }
    }
    // The empty tree is a prefix of every tree.
    expect(() => verifyEquivocation(equivocationProof(signed(0, EMPTY_ROOT), signed(5, tree.root(5))), referenceSuite)).toThrow(code('not_equivocation'));
  });

  it('different sizes where the smaller is not a prefix: accepted for m = 1, 2, 3, 4, 5, 7, 8 and every n up to 20, in either argument order', () => {
    const N = 20;
    const tree = treeOf(leaves(N));
    for (const m of [1, 2, 3, 4, 5, 7, 8]) {
      for (const forkAt of new Set([0, m - 1])) {
        const forked = root(leaves(m, forkAt));
        expect(hex(forked)).not.toBe(hex(tree.root(m)));
        const a = signed(m, forked);
        const nodesFor = (n: number) => inconsistencyNodes(m, tree.consistencyProof(m, n), tree.root(m));
        for (let n = m + 1; n <= N; n++) {
          const b = signed(n, tree.root(n));
          const nodes = nodesFor(n);
          const p = equivocationProof(a, b, nodes);
          expect(equivocationProof(b, a, nodes), `m ${m} n ${n}`).toEqual(p);
          expect(hex(verifyCheckpointNote(p.a, referenceSuite).checkpoint.root)).toBe(hex(forked));
          const v = verifyEquivocation(p, referenceSuite);
          expect(v.issuer, `m ${m} n ${n} fork ${forkAt}`).toBe(ISSUER);
          expect(v.a.checkpoint.size).toBe(m);
          expect(v.b.checkpoint.size).toBe(n);
          expect(verifyEquivocation(JSON.parse(JSON.stringify(p)) as unknown, referenceSuite).issuer).toBe(ISSUER);
        }
      }
    }
  });

  describe('a non-prefix proof that has been altered is refused', () => {
    const N = 20;
    const tree = treeOf(leaves(N));
    const cases = [
      { m: 4, n: 20 },
      { m: 5, n: 13 },
      { m: 8, n: 9 },
      { m: 3, n: 16 },
      { m: 1, n: 2 },
    ];
    const build = (m: number, n: number): EquivocationProof => {
      const a = signed(m, root(leaves(m, m - 1)));
      const b = signed(n, tree.root(n));
      return equivocationProof(a, b, inconsistencyNodes(m, tree.consistencyProof(m, n), tree.root(m)));
    };
    const flip = (h: string): string => (h[0] === '0' ? '1' : '0') + h.slice(1);

    it('tampered, truncated or lengthened nodes: bad_input', () => {
      for (const { m, n } of cases) {
        const p = build(m, n);
        expect(verifyEquivocation(p, referenceSuite).issuer).toBe(ISSUER);
        const bad: string[][] = [];
        for (let i = 0; i < p.nodes.length; i++) bad.push(p.nodes.map((h, j) => (j === i ? flip(h) : h)));
        bad.push(p.nodes.slice(0, -1), p.nodes.slice(1), []);
        bad.push([...p.nodes, hex(leaf(99))], [hex(leaf(99)), ...p.nodes], [...p.nodes, ...p.nodes]);
        bad.push(p.nodes.map((h) => h.toUpperCase()), [...p.nodes.slice(0, -1), p.nodes.at(-1)!.slice(2)], Array.from({ length: 65 }, () => p.nodes[0]!));
        bad.push([...p.nodes].reverse());
        for (const nodes of bad) {
          if (nodes.join() === p.nodes.join()) continue;
          expect(() => verifyEquivocation({ ...p, nodes }, referenceSuite), `m ${m} n ${n}: ${nodes.length} nodes`).toThrow(code('bad_input'));
        }
        // The plain consistency proof, without the prefix root a power-of-two size needs (or with one it does not).
        const plain = tree.consistencyProof(m, n).map(hex);
        if (plain.join() !== p.nodes.join()) expect(() => verifyEquivocation({ ...p, nodes: plain }, referenceSuite)).toThrow(code('bad_input'));
        // Larger first.
        expect(() => verifyEquivocation({ ...p, a: p.b, b: p.a }, referenceSuite)).toThrow(code('bad_input'));
      }
    });

    it('notes by different issuers: bad_input; a note signed by another key: bad_signature', () => {
      const m = 5;
      const n = 13;
      const p = build(m, n);
      // b is another issuer's log, with the very same tree.
      const otherB = noteWith(signed(n, tree.root(n), OTHER_SEED, logOrigin(OTHER)), []);
      expect(() => verifyEquivocation({ ...p, b: otherB }, referenceSuite)).toThrow(code('bad_input'));
      const otherA = noteWith(signed(m, root(leaves(m, m - 1)), OTHER_SEED, logOrigin(OTHER)), []);
      expect(() => verifyEquivocation({ ...p, a: otherA }, referenceSuite)).toThrow(code('bad_input'));
      // A checkpoint of the issuer's log signed by someone else.
      const forgedA = checkpointNote(m, root(leaves(m, m - 1)), OTHER_SEED);
      const forgedB = checkpointNote(n, tree.root(n), OTHER_SEED);
      expect(() => verifyEquivocation({ ...p, a: forgedA }, referenceSuite)).toThrow(code('bad_signature'));
      expect(() => verifyEquivocation({ ...p, b: forgedB }, referenceSuite)).toThrow(code('bad_signature'));
      // A note altered after signing.
      expect(() => verifyEquivocation({ ...p, a: p.a.replace(`\n${m}\n`, `\n${m + 1}\n`) }, referenceSuite)).toThrow(code('bad_signature'));
    });

    it('malformed proofs: bad_input', () => {
      const p = build(5, 13);
      for (const q of [null, undefined, 'x', 42, [], { ...p, type: 'chorus-equivocation/v2' }, { ...p, a: 1 }, { ...p, b: undefined }, { ...p, nodes: 'ab' }, { ...p, nodes: [1] }, { ...p, a: 'not a note' }]) {
        expect(() => verifyEquivocation(q, referenceSuite), JSON.stringify(q)?.slice(0, 60)).toThrow(code('bad_input'));
      }
    });
  });
});
