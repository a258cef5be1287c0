import { createPrivateKey, createPublicKey, randomBytes, sign as nodeSign } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { didKeyFromPublicKey, type DidKey } from '../../src/identity/did-key.js';
import { consistencyRoots, EMPTY_ROOT, leafHash, maxProofLength, MerkleTree, root as mth } from '../../src/tlog/merkle.js';
import { checkpointText, keyId, MAX_NOTE_BYTES } from '../../src/tlog/note.js';
import {
  cosignatureKeyId, cosignedMessage, logOrigin, timeExtension, verifiedCosignatures, verifyCheckpointNote, verifyEquivocation, witnessName,
} from '../../src/tlog/witness.js';
import type { CryptoSuite } from '../../src/crypto/suite.js';
import { nativeSuite } from '../../node/crypto/native-suite.js';
import type { Config } from '../../node/home/config.js';
import type { AttestationStore } from '../../node/store/attestation-store.js';
import { Mirror } from '../../node/tlog/mirror.js';

/*
 * Attacks on node/tlog/mirror.ts and src/tlog/witness.ts at the level of the mirror itself
 * (what the log protocol, checkpoint gossip, equivocation gossip and the API all feed):
 * bounds of SPEC §16.6, completeness that must mean what it says (§16.4), and who can make
 * this node hold an equivocation proof (§16.5).
 */

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

/* ---- fast keys and notes with node:crypto (the reference signer is pure JS) ---- */

const PKCS8 = Buffer.from('302e020100300506032b657004220420', 'hex');
interface Key { did: DidKey; seed: Uint8Array; publicKey: Uint8Array; sign(m: Uint8Array): Uint8Array }
function fastKey(seed: Uint8Array = randomBytes(32)): Key {
  const priv = createPrivateKey({ key: Buffer.concat([PKCS8, seed]), format: 'der', type: 'pkcs8' });
  const publicKey = new Uint8Array(createPublicKey(priv).export({ format: 'der', type: 'spki' }).subarray(12));
  return { did: didKeyFromPublicKey(publicKey), seed, publicKey, sign: (m) => new Uint8Array(nodeSign(null, m, priv)) };
}
const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');
const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};
function cpText(k: Key, size: number, root: Uint8Array, timeMs = Date.now()): string {
  return checkpointText({ origin: logOrigin(k.did), size, root, extensions: [timeExtension(timeMs)] });
}
function sigLine(k: Key, text: string): string {
  const origin = logOrigin(k.did);
  return `\u2014 ${origin} ${b64(Buffer.concat([u32(keyId(origin, k.publicKey)), k.sign(Buffer.from(text))]))}`;
}
function note(k: Key, size: number, root: Uint8Array, timeMs = Date.now(), extraLines: string[] = []): string {
  const text = cpText(k, size, root, timeMs);
  return `${text}\n${[sigLine(k, text), ...extraLines].join('\n')}\n`;
}
/** A cosignature/v1 line by witness `w` of a checkpoint's text. */
function cosignLine(w: Key, text: string, ts = Math.floor(Date.now() / 1000)): string {
  const name = witnessName(w.did);
  const t = Buffer.alloc(8);
  t.writeBigUInt64BE(BigInt(ts));
  return `\u2014 ${name} ${b64(Buffer.concat([u32(cosignatureKeyId(name, w.publicKey)), t, w.sign(cosignedMessage(text, ts))]))}`;
}
const randId = (): string => randomBytes(32).toString('hex');
function treeOf(ids: readonly string[]): MerkleTree {
  const t = new MerkleTree();
  for (const id of ids) t.append(leafHash(Buffer.from(id, 'hex')));
  return t;
}
/** A valid equivocation proof of key `k`'s own log (what anyone can make with a throwaway key). */
function selfEquivocation(k: Key): unknown {
  const [r1, r2] = [leafHash(randomBytes(32)), leafHash(randomBytes(32))].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
  return { type: 'chorus-equivocation/v1', a: note(k, 1, r1!), b: note(k, 1, r2!), nodes: [] };
}
/** Up to 99 junk lines under the issuer's own key name and key id (well-formed signatures of another key), as many as fit in one note with `text`. */
function junkIssuerLines(k: Key, text: string): string[] {
  const junkSigner = fastKey();
  const origin = logOrigin(k.did);
  const id = u32(keyId(origin, k.publicKey));
  const out: string[] = [];
  const real = sigLine(k, text);
  for (let i = 0; i < 99; i++) {
    const line = `\u2014 ${origin} ${b64(Buffer.concat([id, junkSigner.sign(Buffer.from(`junk ${i}`))]))}`;
    if (Buffer.byteLength(`${text}\n${[...out, line, real].join('\n')}\n`) > MAX_NOTE_BYTES) break;
    out.push(line);
  }
  return out;
}

const suite = nativeSuite();
function countingSuite(): { suite: Pick<CryptoSuite, 'verify'>; calls: () => number } {
  let n = 0;
  return { suite: { verify: (s, m, p) => (n++, suite.verify(s, m, p)) }, calls: () => n };
}

/* ---- a mirror on a temp dir, with a store that holds every envelope ---- */

type Tx = Config['transparency'];
const TX: Tx = { mirror: true, maxMirroredIssuers: 10_000, maxLeavesPerIssuer: 1000, witness: true, witnesses: [], quorum: 2, requireSettled: false, equivocators: 'exclude', staleHours: 48, checkpointSeconds: 60 };

async function mirrorOf(counting: Set<string>, opts: { config?: Partial<Tx>; now?: () => number; held?: (id: string) => boolean; dir?: string; me?: Key } = {}): Promise<{ m: Mirror; me: Key; dir: string }> {
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'chorus-tlog-mirror-')));
  dirs.push(dir);
  const me = opts.me ?? fastKey();
  const held = opts.held ?? (() => true);
  const store = { hasMany: async (ids: readonly string[]) => ids.map(held), issuerUsage: () => ({ attestations: 0, bytes: 0 }) } as unknown as AttestationStore;
  const m = await Mirror.open(dir, {
    store, suite, identity: { did: me.did, publicKey: me.publicKey, secretKey: me.seed }, config: { ...TX, ...opts.config },
    counting: () => counting, ...(opts.now ? { now: opts.now } : {}),
  });
  return { m, me, dir };
}

/** A counting issuer whose log of `n` leaves this mirror verified (complete). */
async function verifiedLog(m: Mirror, k: Key, n: number, timeMs = Date.now()): Promise<{ ids: string[]; tree: MerkleTree; note: string }> {
  const ids = Array.from({ length: n }, randId);
  const tree = treeOf(ids);
  const nt = note(k, n, tree.root(), timeMs);
  expect((await m.offer(nt)).outcome).toBe('new');
  await m.extend(k.did, nt, 0, ids);
  expect(m.completeness(k.did).state).toBe('complete');
  return { ids, tree, note: nt };
}

describe('a checkpoint note costs one signature check (SPEC §16.1, §16.6)', () => {
  it('a note of ≤ 16 KiB carrying ~97 junk lines under the issuer\'s own key name and key id costs one verification: the first such line is the issuer\'s, and a bad one refuses the note', () => {
    // Anyone can compute the issuer's key id (it is SHA-256 of the name and the public key);
    // the junk signatures are well formed (another key's signatures) so they pass the
    // prechecks and reach the group equation. The issuer's real line comes last.
    const k = fastKey();
    const text = cpText(k, 1, leafHash(randomBytes(32)));
    const junk = junkIssuerLines(k, text);
    const n = `${text}\n${[...junk, sigLine(k, text)].join('\n')}\n`;
    expect(Buffer.byteLength(n)).toBeLessThanOrEqual(MAX_NOTE_BYTES);
    const c = countingSuite();
    const t0 = performance.now();
    expect(() => verifyCheckpointNote(n, c.suite)).toThrow(/not signed by/);
    const ms = performance.now() - t0;
    console.log(`[tlog-mirror] a ${junk.length + 1}-line note (${Buffer.byteLength(n)} bytes): ${c.calls()} signature verifications, ${ms.toFixed(1)} ms`);
    expect(c.calls(), 'verifications forced by one note of at most 16 KiB (SPEC §16.6: "one signature check")').toBeLessThanOrEqual(1);
  });

  it('an equivocation "proof" of two such notes costs at most two verifications', () => {
    const k = fastKey();
    const mk = (root: Uint8Array) => {
      const text = cpText(k, 1, root);
      return `${text}\n${[...junkIssuerLines(k, text), sigLine(k, text)].join('\n')}\n`;
    };
    const r1 = leafHash(randomBytes(32));
    const proof = { type: 'chorus-equivocation/v1', a: mk(r1), b: mk(r1), nodes: [] };
    expect(Buffer.byteLength(JSON.stringify(proof))).toBeLessThanOrEqual(40 * 1024);
    const c = countingSuite();
    expect(() => verifyEquivocation(proof, c.suite)).toThrow(/not signed by/);
    expect(c.calls(), 'verifications forced by one refused equivocation proof').toBeLessThanOrEqual(2);
  });
});

describe('who can make this node hold an equivocation proof (SPEC §16.5) — and what one costs every view', () => {
  it('a throwaway key\'s proof of its own "equivocation" is not kept, and no view changes', async () => {
    const trusted = fastKey();
    const counting = new Set([trusted.did]);
    const { m } = await mirrorOf(counting);
    await verifiedLog(m, trusted, 3);
    expect(m.summary().complete).toBe(true);
    // A stranger signs two different trees of size 1 with a key made for the purpose.
    const stranger = fastKey();
    const r = await m.addEquivocation(selfEquivocation(stranger));
    // The stranger does not count anywhere: it changes no view, and its proof should not be
    // kept (§16.3: "only issuers that count are mirrored; others are not kept").
    const s = m.summary();
    expect({ added: r.added, complete: s.complete, equivocated: s.counts.equivocated }).toEqual({ added: false, complete: true, equivocated: 0 });
    await m.close();
  });

  it('strangers\' proofs take none of the mirror\'s issuer slots: a newly trusted issuer is still mirrored', async () => {
    const trusted = fastKey();
    const counting = new Set([trusted.did]);
    // maxMirroredIssuers is small here to keep the test fast; the default is 10,000 (one
    // exchange answer carries 100 proofs, and gossip has no rate on this topic).
    const { m } = await mirrorOf(counting, { config: { maxMirroredIssuers: 50 } });
    for (let i = 0; i < 50; i++) await m.addEquivocation(selfEquivocation(fastKey())).catch(() => undefined);
    const late = fastKey();
    counting.add(late.did);
    const tree = treeOf([randId()]);
    const offered = await m.offer(note(late, 1, tree.root()));
    expect(offered.outcome, 'a checkpoint of an issuer that counts, with the mirror holding no counting issuer but one').toBe('new');
    await m.close();
  });

  it('after 2,000 strangers\' proofs (twice the cap of those kept for issuers that do not count), a counting issuer that really signed two histories is still caught', async () => {
    const liar = fastKey();
    const counting = new Set([liar.did]);
    const { m } = await mirrorOf(counting);
    const t0 = performance.now();
    for (let i = 0; i < 2_000; i++) await m.addEquivocation(selfEquivocation(fastKey()));
    console.log(`[tlog-mirror] 2,000 strangers' equivocation proofs offered in ${((performance.now() - t0) / 1000).toFixed(1)} s; held: ${m.stats.equivocations}`);
    const real = await m.addEquivocation(selfEquivocation(liar));
    expect(real.added, 'the proof against an issuer that counts').toBe(true);
    expect(m.equivocators().has(liar.did)).toBe(true);
    await m.close();
  }, 60_000);
});

describe('cosignatures (SPEC §16.5): who fills the 32 slots', () => {
  it('held: without the junk, the two counting witnesses settle it (the control)', async () => {
    const k = fastKey();
    const w1 = fastKey();
    const w2 = fastKey();
    const { m } = await mirrorOf(new Set([k.did, w1.did, w2.did]), { config: { witness: false, requireSettled: true } });
    const ids = [randId(), randId()];
    const nt = note(k, 2, treeOf(ids).root());
    await m.offer(nt);
    await m.extend(k.did, nt, 0, ids);
    expect(m.completeness(k.did).state).toBe('unsettled');
    const text = nt.slice(0, nt.indexOf('\n\n') + 1);
    expect((await m.offer(`${nt.slice(0, -1)}\n${[cosignLine(w1, text), cosignLine(w2, text)].join('\n')}\n`)).outcome).toBe('cosigned');
    expect(m.completeness(k.did)).toMatchObject({ witnesses: 2, settled: true, state: 'complete' });
    await m.close();
  });

  it('32 throwaway witnesses\' cosignatures do not lock out the witnesses that settle a checkpoint', async () => {
    const k = fastKey();
    const w1 = fastKey();
    const w2 = fastKey();
    // Both witnesses count here, so they settle (transparency.witnesses empty: the counting issuers).
    const counting = new Set([k.did, w1.did, w2.did]);
    // With transparency.requireSettled, an unsettled log is not complete (SPEC §16.4).
    const { m } = await mirrorOf(counting, { config: { witness: false, requireSettled: true } });
    const ids = [randId(), randId()];
    const nt = note(k, 2, treeOf(ids).root());
    await m.offer(nt);
    await m.extend(k.did, nt, 0, ids);
    const text = nt.slice(0, nt.indexOf('\n\n') + 1);
    const junk = Array.from({ length: 32 }, () => cosignLine(fastKey(), text));
    expect((await m.offer(`${nt.slice(0, -1)}\n${junk.join('\n')}\n`)).outcome).toBe('cosigned');
    // The two witnesses that count cosign it.
    const honest = `${nt.slice(0, -1)}\n${[cosignLine(w1, text), cosignLine(w2, text)].join('\n')}\n`;
    await m.offer(honest);
    const c = m.completeness(k.did);
    expect({ witnesses: c.witnesses, settled: c.settled, state: c.state }).toEqual({ witnesses: 2, settled: true, state: 'complete' });
    await m.close();
  });
});

describe('completeness must mean what it says (SPEC §16.4)', () => {
  it('a replayed older checkpoint just before the newest: the newest is still known, and the log never reads complete at the older size', async () => {
    let now = 1_700_000_000_000;
    const k = fastKey();
    const { m } = await mirrorOf(new Set([k.did]), { now: () => now });
    const ids = Array.from({ length: 4 }, randId);
    const tree = treeOf(ids);
    // The issuer's checkpoint at 2 (a minute old) and its newest at 4: both genuine.
    const old = note(k, 2, tree.root(2), now - 60_000);
    const newest = note(k, 4, tree.root(4), now);
    expect((await m.offer(old)).outcome).toBe('new');
    now += 100;
    const r = await m.offer(newest);
    // The attacker's peer then serves the leaves up to its (old) checkpoint.
    await m.extend(k.did, old, 0, ids.slice(0, 2));
    const c = m.completeness(k.did);
    console.log(`[tlog-mirror] newest offered → ${r.outcome}; completeness: ${JSON.stringify(c)}`);
    expect(c.known, 'the largest size a valid checkpoint of the issuer claimed, offered to this node').toBe(4);
    expect(c.state).not.toBe('complete');
    await m.close();
  });

  it('a checkpoint over maxLeavesPerIssuer is not followed, and the log shows as incomplete', async () => {
    const k = fastKey();
    const { m } = await mirrorOf(new Set([k.did]), { config: { maxLeavesPerIssuer: 1000 } });
    await verifiedLog(m, k, 3);
    const huge = note(k, Number.MAX_SAFE_INTEGER, leafHash(randomBytes(32)));
    const r = await m.offer(huge);
    expect(r.outcome).toBe('new');
    expect(m.wants(k.did), 'leaves past the bound are never fetched').toBeUndefined();
    const c = m.completeness(k.did);
    expect(c.state, `completeness after a signed checkpoint of ${Number.MAX_SAFE_INTEGER} leaves was offered: ${JSON.stringify(c)}`).not.toBe('complete');
    expect(m.summary().complete).toBe(false);
    await m.close();
  });

  it('a split view offered while the leaves of the newest checkpoint are being verified is still compared: the proof is made', async () => {
    let now = 1_700_000_000_000;
    const k = fastKey();
    const { m } = await mirrorOf(new Set([k.did]), { now: () => now });
    const ids = Array.from({ length: 3 }, randId);
    const tree = treeOf(ids);
    const n3 = note(k, 3, tree.root(3), now);
    // What the issuer shows someone else: a size-2 tree that is not a prefix of the size-3 one.
    const other = treeOf([ids[0]!, randId()]);
    const lie2 = note(k, 2, other.root(2), now);
    expect((await m.offer(n3)).outcome).toBe('new');
    now += 6_000;
    // Gossip brings the conflicting checkpoint while a catch-up is extending the tree.
    const extending = m.extend(k.did, n3, 0, ids);
    const offered = await m.offer(lie2);
    await extending;
    const c = m.completeness(k.did);
    console.log(`[tlog-mirror] split view during extend → ${offered.outcome}; completeness ${c.state}; proof held: ${m.equivocation(k.did) !== undefined}`);
    // Had it arrived a moment earlier or later it would have been caught (pending compared
    // with the leaves, or compared with the verified tree).
    expect(m.equivocation(k.did) !== undefined || c.state !== 'complete', 'a conflicting signed checkpoint was offered; the node neither caught it nor kept it').toBe(true);
    await m.close();
  });

  it('held: the same race, with the conflicting checkpoint arriving after the extend, is caught', async () => {
    let now = 1_700_000_000_000;
    const k = fastKey();
    const { m } = await mirrorOf(new Set([k.did]), { now: () => now });
    const ids = Array.from({ length: 3 }, randId);
    const tree = treeOf(ids);
    const n3 = note(k, 3, tree.root(3), now);
    const lie2 = note(k, 2, treeOf([ids[0]!, randId()]).root(2), now);
    await m.offer(n3);
    now += 6_000;
    await m.extend(k.did, n3, 0, ids);
    expect((await m.offer(lie2)).outcome).toBe('equivocation');
    await m.close();
  });
});

describe('framing an honest issuer (SPEC §16.5): whatever an attacker does with everything the issuer ever signed', () => {
  /** An honest issuer's life: a checkpoint at every size 0..12, and a heartbeat (same tree, later time) of each. */
  const h = fastKey();
  const ids = Array.from({ length: 12 }, randId);
  const tree = treeOf(ids);
  const t0 = Date.now() - 3_600_000;
  const notes: string[] = [];
  for (let n = 0; n <= 12; n++) notes.push(note(h, n, tree.root(n), t0 + n * 60_000), note(h, n, tree.root(n), t0 + n * 60_000 + 30_000));

  it('held: no pair of its notes, with any nodes drawn from its true tree (or none, or random), verifies as an equivocation', () => {
    // Every subtree hash of the true tree, at every range: what an attacker can compute from the leaves.
    const leafHashes = ids.map((id) => leafHash(Buffer.from(id, 'hex')));
    const pool: Uint8Array[] = [EMPTY_ROOT, randomBytes(32)];
    for (let lo = 0; lo < 12; lo++) for (let hi = lo + 1; hi <= 12; hi++) pool.push(mth(leafHashes.slice(lo, hi)));
    let seed = 1;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const forged: string[] = [];
    let tried = 0;
    for (const a of notes) {
      for (const b of notes) {
        const candidates: string[][] = [[]];
        const [m, n] = [Number(a.split('\n')[1]), Number(b.split('\n')[1])];
        if (m < n && m > 0) {
          candidates.push(tree.consistencyProof(m, n).map((x) => Buffer.from(x).toString('hex')));
          candidates.push([tree.root(m), ...tree.consistencyProof(m, n)].map((x) => Buffer.from(x).toString('hex')));
          for (let i = 0; i < 25; i++) {
            const len = 1 + rnd(maxProofLength(n) + 1);
            candidates.push(Array.from({ length: len }, () => Buffer.from(pool[rnd(pool.length)]!).toString('hex')));
          }
        }
        for (const nodes of candidates) {
          tried++;
          try {
            verifyEquivocation({ type: 'chorus-equivocation/v1', a, b, nodes }, suite);
            forged.push(`${m}→${n} with ${nodes.length} nodes`);
          } catch {
            // refused: as it must be
          }
        }
      }
    }
    expect(tried).toBeGreaterThan(7_000);
    expect(forged).toEqual([]);
  });

  it('held: the walk of the nodes (RFC 9162 §2.1.4.2) never finds a "true" prefix root other than the real one, for every m < n ≤ 40', () => {
    const leafHashes = Array.from({ length: 40 }, () => leafHash(randomBytes(32)));
    const t = new MerkleTree();
    for (const l of leafHashes) t.append(l);
    const bad: string[] = [];
    for (let n = 2; n <= 40; n++) {
      for (let m = 1; m < n; m++) {
        const nodes = [...((m & (m - 1)) === 0 ? [t.root(m)] : []), ...t.consistencyProof(m, n)];
        const r = consistencyRoots(m, n, nodes);
        if (r === undefined || Buffer.compare(Buffer.from(r.sr), Buffer.from(t.root(n))) !== 0 || Buffer.compare(Buffer.from(r.fr), Buffer.from(t.root(m))) !== 0) bad.push(`${m}/${n}`);
        // One node fewer or one more never hashes to the larger root.
        for (const alt of [nodes.slice(1), nodes.slice(0, -1), [...nodes, t.root(1)], [t.root(m), ...nodes]]) {
          const x = consistencyRoots(m, n, alt);
          if (x !== undefined && Buffer.compare(Buffer.from(x.sr), Buffer.from(t.root(n))) === 0 && Buffer.compare(Buffer.from(x.fr), Buffer.from(t.root(m))) !== 0) bad.push(`${m}/${n} with ${alt.length} nodes`);
        }
      }
    }
    expect(bad).toEqual([]);
  });

  it('held: forged and altered notes (another key, the same origin; the issuer\'s line renamed; size 0 with a root) are refused with typed errors', () => {
    const other = fastKey();
    const text1 = cpText(h, 1, tree.root(1), t0);
    const origin = logOrigin(h.did);
    const byOther = `${text1}\n\u2014 ${origin} ${b64(Buffer.concat([u32(keyId(origin, h.publicKey)), other.sign(Buffer.from(text1))]))}\n`;
    const zeroWithRoot = note(h, 0, tree.root(1), t0);
    const real = note(h, 1, tree.root(1), t0);
    const renamed = real.replace(`\u2014 ${origin} `, `\u2014 ${logOrigin(other.did)} `);
    const codes = [byOther, zeroWithRoot, renamed].map((b) => {
      try {
        verifyEquivocation({ type: 'chorus-equivocation/v1', a: real, b, nodes: [] }, suite);
        return 'verified';
      } catch (e) {
        return (e as { code?: string }).code;
      }
    });
    expect(codes).toEqual(['bad_signature', 'bad_input', 'bad_signature']);
  });

  it('held: a mirror offered every note the issuer signed, in a random order, interleaved with its true leaves, never makes a proof', async () => {
    let now = Date.now();
    const { m } = await mirrorOf(new Set([h.did]), { now: () => now });
    const shuffled = [...notes].sort(() => Math.random() - 0.5);
    for (const [i, n] of shuffled.entries()) {
      now += 6_000;
      const r = await m.offer(n);
      expect(r.outcome).not.toBe('equivocation');
      if (i % 5 === 4) {
        const want = m.wants(h.did);
        if (want) {
          const newest = notes.filter((x) => Number(x.split('\n')[1]) === want.to)[0]!;
          await m.extend(h.did, newest, want.from, ids.slice(want.from, want.to));
        }
      }
    }
    expect(m.equivocation(h.did)).toBeUndefined();
    await m.close();
  });
});

describe('more bounds (SPEC §16.6)', () => {
  it('held: a note with 99 cosignature lines of distinct throwaway witnesses (junk signatures) costs at most 1 + 32 verifications', () => {
    const k = fastKey();
    const text = cpText(k, 1, leafHash(randomBytes(32)));
    const lines: string[] = [];
    for (let i = 0; i < 99; i++) {
      const w = fastKey();
      const name = witnessName(w.did);
      const line = `\u2014 ${name} ${b64(Buffer.concat([u32(cosignatureKeyId(name, w.publicKey)), Buffer.alloc(8), w.sign(Buffer.from('junk'))]))}`;
      if (Buffer.byteLength(`${text}\n${[sigLine(k, text), ...lines, line].join('\n')}\n`) > MAX_NOTE_BYTES) break;
      lines.push(line);
    }
    const n = `${text}\n${[sigLine(k, text), ...lines].join('\n')}\n`;
    const c = countingSuite();
    const v = verifyCheckpointNote(n, c.suite);
    const before = c.calls();
    verifiedCosignatures(v.text, v.others, c.suite, Math.floor(Date.now() / 1000));
    expect(lines.length).toBeGreaterThan(32);
    expect(before + (c.calls() - before)).toBeLessThanOrEqual(33);
  });

  it('held: 200 checkpoints of growing size from a counting issuer, one a second: one looked at per 5 s, at most 4 kept', async () => {
    let now = Date.now();
    const k = fastKey();
    const { m } = await mirrorOf(new Set([k.did]), { now: () => now });
    const outcomes: Record<string, number> = {};
    for (let i = 1; i <= 200; i++) {
      now += 1_000;
      const r = await m.offer(note(k, i, leafHash(randomBytes(32)), now));
      outcomes[r.outcome] = (outcomes[r.outcome] ?? 0) + 1;
    }
    expect(outcomes['new']).toBeLessThanOrEqual(41);
    expect(m.wants(k.did)).toEqual({ from: 0, to: expect.any(Number) });
    const persisted = (m as unknown as { logs: Map<string, { pending: unknown[] }> }).logs.get(k.did)!.pending.length;
    expect(persisted).toBeLessThanOrEqual(4);
    await m.close();
  });

  it('a counting issuer\'s long checkpoint text plus cosignatures from anyone: the note it serves stays within 16 KiB, and the mirror opens again', async () => {
    const k = fastKey();
    const counting = new Set([k.did]);
    const { m, dir, me } = await mirrorOf(counting);
    const ids = [randId(), randId()];
    const tree = treeOf(ids);
    // A valid note of 15 KB: the issuer's text carries a long extension line (any issuer may).
    const text = checkpointText({ origin: logOrigin(k.did), size: 2, root: tree.root(), extensions: [timeExtension(Date.now()), `x ${'y'.repeat(14_800)}`] });
    const nt = `${text}\n${sigLine(k, text)}\n`;
    expect(Buffer.byteLength(nt)).toBeLessThan(MAX_NOTE_BYTES);
    await m.offer(nt);
    await m.extend(k.did, nt, 0, ids);
    // Throwaway witnesses cosign it, a few per note (each note stays under 16 KiB).
    for (let round = 0; round < 8; round++) {
      const lines: string[] = [];
      for (;;) {
        const line = cosignLine(fastKey(), text);
        if (Buffer.byteLength(`${nt.slice(0, -1)}\n${[...lines, line].join('\n')}\n`) > MAX_NOTE_BYTES) break;
        lines.push(line);
      }
      await m.offer(`${nt.slice(0, -1)}\n${lines.join('\n')}\n`);
    }
    const served = m.note(k.did)!;
    console.log(`[tlog-mirror] the note served for the issuer: ${Buffer.byteLength(served)} bytes`);
    expect.soft(Buffer.byteLength(served), 'the checkpoint note this node serves and gossips (peers refuse notes over 16 KiB)').toBeLessThanOrEqual(MAX_NOTE_BYTES);
    await m.close();
    // A restart: the mirror must open (one issuer's log must not keep the node from starting).
    const reopened = await mirrorOf(counting, { dir, me }).then((r) => r.m, (e: unknown) => e as Error);
    expect(reopened instanceof Error ? `Mirror.open failed: ${reopened.message}` : 'opened').toBe('opened');
    if (!(reopened instanceof Error)) await reopened.close();
  });
});

