import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { publicKeyOf, referenceSuite } from '../../src/crypto/reference-suite.js';
import type { CryptoSuite } from '../../src/crypto/suite.js';
import { didKeyFromPublicKey } from '../../src/identity/did-key.js';
import { consistencyProof, inclusionProof, leafHash, MerkleTree, root, verifyConsistency, verifyInclusion } from '../../src/tlog/merkle.js';
import { checkpointText, encodeVerifierKey, keyId, parseCheckpoint, parseNote, signNote } from '../../src/tlog/note.js';
import {
  cosign,
  cosignatureKeyId,
  cosignedMessage,
  equivocationProof,
  inconsistencyNodes,
  logOrigin,
  noteWith,
  timeExtension,
  verifiedCosignatures,
  verifyCheckpointNote,
  verifyEquivocation,
  witnessName,
  type Cosignature,
} from '../../src/tlog/witness.js';
import { nativeSuite } from '../../node/crypto/native-suite.js';

/*
 * protocol/vectors/tlog.json (SPEC §16) was made by test/tools/gen-tlog-vectors.mjs with
 * node:crypto and its own RFC 9162 / C2SP code, not with the code under test; it is checked
 * in and only read here. Every expected value must come out of the project's code.
 */

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a vector file is JSON read at run time
const V: any = JSON.parse(readFileSync(new URL('../../protocol/vectors/tlog.json', import.meta.url), 'utf8'));
const unhex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'));
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const hex8 = (n: number): string => n.toString(16).padStart(8, '0');
const suites: CryptoSuite[] = [referenceSuite, nativeSuite()];
const byWitness = (xs: readonly { witness: string; timestamp: number; line: string }[]) =>
  [...xs].map(({ witness, timestamp, line }) => ({ witness, timestamp, line })).sort((a, b) => (a.witness < b.witness ? -1 : a.witness > b.witness ? 1 : 0));

interface Key {
  role: string;
  seed: string;
  publicKey: string;
  did: string;
}

describe('tlog vectors: keys', () => {
  it.each(V.keys as Key[])('$role: seed -> public key -> did:key', (k) => {
    const pub = publicKeyOf(unhex(k.seed));
    expect(hex(pub)).toBe(k.publicKey);
    expect(didKeyFromPublicKey(pub)).toBe(k.did);
  });
});

describe('tlog vectors: RFC 9162 Merkle tree', () => {
  const m = V.merkle;
  const hashes: Uint8Array[] = (m.leafHashes as string[]).map(unhex);
  const tree = new MerkleTree();
  for (const h of hashes) tree.append(h);

  it('leaf hashes are SHA-256(0x00 || attestation id)', () => {
    expect((m.leaves as string[]).map((id) => hex(leafHash(unhex(id))))).toEqual(m.leafHashes);
  });

  it.each(m.roots as { size: number; expect: { root: string } }[])('root of size $size', (c) => {
    expect(hex(root(hashes, c.size))).toBe(c.expect.root);
    expect(hex(tree.root(c.size))).toBe(c.expect.root);
  });

  it.each(m.inclusion as { index: number; size: number; expect: { proof: string[] } }[])('inclusion proof of leaf $index in size $size', (c) => {
    expect(inclusionProof(hashes, c.index, c.size).map(hex)).toEqual(c.expect.proof);
    expect(tree.inclusionProof(c.index, c.size).map(hex)).toEqual(c.expect.proof);
    expect(verifyInclusion(hashes[c.index]!, c.index, c.size, c.expect.proof.map(unhex), root(hashes, c.size))).toBe(true);
  });

  it.each(m.consistency as { first: number; second: number; expect: { proof: string[] } }[])('consistency proof $first -> $second', (c) => {
    expect(consistencyProof(hashes, c.first, c.second).map(hex)).toEqual(c.expect.proof);
    expect(tree.consistencyProof(c.first, c.second).map(hex)).toEqual(c.expect.proof);
    expect(verifyConsistency(c.first, c.second, root(hashes, c.first), root(hashes, c.second), c.expect.proof.map(unhex))).toBe(true);
  });
});

interface CheckpointCase {
  name: string;
  seed: string;
  size: number;
  root: string;
  extensions: string[];
  expect: { publicKey: string; did: string; origin: string; keyId: string; verifierKey: string; text: string; signatureLine: string; note: string };
}

describe('tlog vectors: checkpoint notes (C2SP signed-note, tlog-checkpoint)', () => {
  it.each(V.checkpoints.cases as CheckpointCase[])('$name', (c) => {
    const seed = unhex(c.seed);
    const pub = publicKeyOf(seed);
    expect(hex(pub)).toBe(c.expect.publicKey);
    const did = didKeyFromPublicKey(pub);
    expect(did).toBe(c.expect.did);
    const origin = logOrigin(did);
    expect(origin).toBe(c.expect.origin);
    expect(hex8(keyId(origin, pub))).toBe(c.expect.keyId);
    expect(encodeVerifierKey(origin, pub)).toBe(c.expect.verifierKey);
    // The root is the Merkle section's root of that size.
    expect(hex(root((V.merkle.leafHashes as string[]).map(unhex), c.size))).toBe(c.root);
    for (const line of c.extensions) {
      const m = /^time (\d+)$/.exec(line);
      if (m) expect(timeExtension(Number(m[1]) * 1000)).toBe(line);
    }
    const checkpoint = { origin, size: c.size, root: unhex(c.root), extensions: c.extensions };
    expect(checkpointText(checkpoint)).toBe(c.expect.text);
    expect(parseCheckpoint(c.expect.text)).toEqual(checkpoint);
    expect(signNote(c.expect.text, origin, seed)).toBe(c.expect.note);
    expect(c.expect.note).toBe(`${c.expect.text}\n${c.expect.signatureLine}\n`);
    for (const suite of suites) {
      const v = verifyCheckpointNote(c.expect.note, suite);
      expect(v.issuer).toBe(did);
      expect(v.text).toBe(c.expect.text);
      expect(v.signatureLine).toBe(c.expect.signatureLine);
      expect(v.others).toEqual([]);
      expect(noteWith(v, [])).toBe(c.expect.note);
    }
  });
});

interface CosignatureVector {
  seed: string;
  timestamp: number;
  expect: { did: string; name: string; keyId: string; message: string; line: string };
}

describe('tlog vectors: cosignatures (c2sp.org/tlog-cosignature v1)', () => {
  const cs = V.cosignatures;

  it.each(cs.cases as { name: string; checkpointNote: string; text: string; now: number; cosignatures: CosignatureVector[]; expect: { note: string; verified: Cosignature[] } }[])('$name', (c) => {
    const made: Cosignature[] = c.cosignatures.map((w) => {
      const seed = unhex(w.seed);
      const pub = publicKeyOf(seed);
      const did = didKeyFromPublicKey(pub);
      expect(did).toBe(w.expect.did);
      expect(witnessName(did)).toBe(w.expect.name);
      expect(hex8(cosignatureKeyId(w.expect.name, pub))).toBe(w.expect.keyId);
      expect(new TextDecoder().decode(cosignedMessage(c.text, w.timestamp))).toBe(w.expect.message);
      const x = cosign(c.text, did, seed, w.timestamp);
      expect(x).toEqual({ witness: did, timestamp: w.timestamp, line: w.expect.line });
      return x;
    });
    for (const suite of suites) {
      expect(noteWith(verifyCheckpointNote(c.checkpointNote, suite), made)).toBe(c.expect.note);
      const v = verifyCheckpointNote(c.expect.note, suite);
      expect(v.text).toBe(c.text);
      expect(byWitness(verifiedCosignatures(v.text, v.others, suite, c.now))).toEqual(byWitness(c.expect.verified));
      expect(noteWith(v, verifiedCosignatures(v.text, v.others, suite, c.now).sort((a, b) => made.findIndex((m) => m.witness === a.witness) - made.findIndex((m) => m.witness === b.witness)))).toBe(c.expect.note);
    }
  });

  const f = cs.filter as { text: string; checkpointNote: string; now: number; lines: { why: string; line: string; valid: boolean }[]; expect: { verified: Cosignature[] } };
  it.each(f.lines)('a verifier keeps a line: $why -> $valid', (l) => {
    for (const suite of suites) {
      const lines = parseNote(`${f.text}\n${l.line}\n`).signatures;
      expect([suite.name, verifiedCosignatures(f.text, lines, suite, f.now).length]).toEqual([suite.name, l.valid ? 1 : 0]);
    }
  });
  it('a note carrying every filter line: one cosignature per witness, the newest', () => {
    const issuerLine = verifyCheckpointNote(f.checkpointNote, referenceSuite).signatureLine;
    for (const suite of suites) {
      const v = verifyCheckpointNote(`${f.text}\n${[issuerLine, ...f.lines.map((l) => l.line)].join('\n')}\n`, suite);
      expect(byWitness(verifiedCosignatures(v.text, v.others, suite, f.now))).toEqual(byWitness(f.expect.verified));
    }
  });
});

interface EquivocationJson {
  type: string;
  a: string;
  b: string;
  nodes: string[];
}

describe('tlog vectors: equivocation proofs (chorus-equivocation/v1)', () => {
  const e = V.equivocation;
  const treeOf = (log: string): MerkleTree => {
    const t = new MerkleTree();
    for (const id of e.logs[log] as string[]) t.append(leafHash(unhex(id)));
    return t;
  };

  it('covers same and different sizes, power-of-two smaller sizes, and every error code', () => {
    const valid = e.valid as { nodesFrom: { first: number } | null }[];
    expect(valid.some((c) => c.nodesFrom === null)).toBe(true);
    expect(valid.some((c) => c.nodesFrom !== null && (c.nodesFrom.first & (c.nodesFrom.first - 1)) === 0)).toBe(true);
    expect(valid.some((c) => c.nodesFrom !== null && (c.nodesFrom.first & (c.nodesFrom.first - 1)) !== 0)).toBe(true);
    expect(new Set((e.invalid as { expect: { error: string } }[]).map((c) => c.expect.error))).toEqual(new Set(['not_equivocation', 'bad_input', 'bad_signature']));
  });

  it.each(e.valid as { name: string; x: string; y: string; nodesFrom: { log: string; first: number; second: number } | null; expect: { issuer: string; proof: EquivocationJson } }[])('valid: $name', (c) => {
    let nodes: Uint8Array[] = [];
    if (c.nodesFrom !== null) {
      const t = treeOf(c.nodesFrom.log);
      const { first, second } = c.nodesFrom;
      nodes = inconsistencyNodes(first, t.consistencyProof(first, second), t.root(first));
    }
    expect(nodes.map(hex)).toEqual(c.expect.proof.nodes);
    for (const suite of suites) {
      const x = verifyCheckpointNote(c.x, suite);
      const y = verifyCheckpointNote(c.y, suite);
      expect(equivocationProof(x, y, nodes)).toEqual(c.expect.proof);
      expect(equivocationProof(y, x, nodes)).toEqual(c.expect.proof);
      const v = verifyEquivocation(JSON.parse(JSON.stringify(c.expect.proof)), suite);
      expect(v.issuer).toBe(c.expect.issuer);
      expect(v.proof).toEqual(c.expect.proof);
    }
  });

  it.each(e.invalid as { name: string; proof: EquivocationJson; expect: { error: string } }[])('invalid: $name -> $expect.error', (c) => {
    for (const suite of suites) {
      expect(() => verifyEquivocation(JSON.parse(JSON.stringify(c.proof)), suite), suite.name).toThrow(expect.objectContaining({ name: 'ChorusError', code: c.expect.error }));
    }
  });
});
