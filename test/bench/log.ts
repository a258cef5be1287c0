/**
 * Issuer-log benchmark (issue 21, SPEC §16): `npm run bench:log [-- --quick]`. A benchmark,
 * never a test: each figure is printed beside its reference measured in the same run, and
 * the process exits 0 whatever the figures.
 *
 *   1. Inclusion proof sizes for logs of 1k, 100k and 1M leaves (quick: 1k, 10k, 100k),
 *      against 32·⌈log₂ N⌉ bytes.
 *   2. Verifying a checkpoint (the signed note, native Ed25519) plus an inclusion proof,
 *      against verifying the note's signature alone.
 *   3. Ingesting the node's own attestations (verify + store) with its log on (each commit
 *      appended and synced) and off, in the same run.
 *   4. Memory per mirrored issuer log (each with a verified checkpoint of 8 leaves, its
 *      cosignature, what it lacks), at 10,000 mirrored issuers (quick: 2,000), against the
 *      heap of the same process before, and the time to verify them all against the raw
 *      signature-verify rate.
 *   5. The devnet figures (log-devnet.ts): an equivocating issuer caught everywhere, a
 *      withheld retraction completed from another peer (`--devnet`, or `--devnet-only`).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inclusionProof, leafHash, maxProofLength, MerkleTree, root, verifyInclusion } from '../../src/tlog/merkle.js';
import { checkpointText, encodeVerifierKey, parseCheckpoint, parseNote, parseVerifierKey, signNote, verifiedBy } from '../../src/tlog/note.js';
import { publicKeyOf } from '../../src/crypto/reference-suite.js';
import { nativeSuite } from '../../node/crypto/native-suite.js';
import { initHome, resolveHome } from '../../node/home/home.js';
import { LocalNode } from '../../node/local/local-node.js';
import { OwnLog } from '../../node/tlog/own-log.js';
import { Mirror } from '../../node/tlog/mirror.js';
import { openMirror } from '../../node/tlog/open-mirror.js';
import { fromHex } from '../../src/encoding/bytes.js';
import { logOrigin, timeExtension, verifyCheckpointNote } from '../../src/tlog/witness.js';
import { makeEnvelopeLine, makeIssuer, randomDigest } from '../support/fixtures.js';
import { FIGURE_HEAD, QUICK, fmt, median, met, table } from './kit.js';

const SIZES = QUICK ? [1_000, 10_000, 100_000] : [1_000, 100_000, 1_000_000];
const INGEST = QUICK ? 5_000 : 20_000;
const rows: string[][] = [];

function leaves(n: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  const b = new Uint8Array(32);
  for (let i = 0; i < n; i++) {
    new DataView(b.buffer).setUint32(0, i);
    out.push(leafHash(b));
  }
  return out;
}

// 1 and 2.
const suite = nativeSuite();
const seed = new Uint8Array(32).fill(9);
for (const n of SIZES) {
  const ls = leaves(n);
  const t0 = performance.now();
  const r = root(ls);
  const rootMs = performance.now() - t0;
  const index = Math.floor(n / 3);
  let s0 = performance.now();
  const proof = inclusionProof(ls, index);
  const recomputeMs = performance.now() - s0;
  const tree = new MerkleTree();
  for (const l of ls) tree.append(l);
  const served: number[] = [];
  for (let i = 0; i < 200; i++) {
    s0 = performance.now();
    tree.inclusionProof((index + i * 7919) % n);
    served.push(performance.now() - s0);
  }
  const bytes = proof.length * 32;
  const bound = 32 * maxProofLength(n);
  const note = signNote(checkpointText({ origin: 'chorus-log/bench', size: n, root: r, extensions: [] }), 'chorus-log/bench', seed);
  const key = parseVerifierKey(encodeVerifierKey('chorus-log/bench', publicKeyOf(seed)));
  const both: number[] = [];
  const sigOnly: number[] = [];
  for (let i = 0; i < 200; i++) {
    let s = performance.now();
    const parsed = parseNote(note);
    const ok = verifiedBy(parsed, key, suite) && verifyInclusion(ls[index]!, index, n, proof, parseCheckpoint(parsed.text).root);
    both.push(performance.now() - s);
    if (!ok) throw new Error('verification failed');
    s = performance.now();
    verifiedBy(parsed, key, suite);
    sigOnly.push(performance.now() - s);
  }
  rows.push([`log of ${fmt(n)} leaves`, `proof ${bytes} B (${proof.length} hashes); checkpoint + inclusion verified in ${fmt(median(both) * 1000, 0)} µs; a proof served in ${fmt(median(served) * 1000, 0)} µs`, `32·⌈log₂ N⌉ = ${bound} B; the note's signature alone ${fmt(median(sigOnly) * 1000, 0)} µs; a proof from the whole tree ${fmt(recomputeMs)} ms (root ${fmt(rootMs)} ms)`, 'proof ≤ 32·⌈log₂ N⌉; verify < 1 ms', met(bytes <= bound && median(both) < 1)]);
}

// 3. Own attestations ingested with the log on and off.
async function ingestRate(withLog: boolean): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'chorus-bench-log-'));
  try {
    const home = resolveHome({}, dir);
    await initHome(home);
    const node = await LocalNode.open(home, { env: {} });
    const log = withLog ? await OwnLog.open(join(dir, 'log'), node.identity, node.store) : undefined;
    if (log) node.ingestor.onCommitted((ds) => log.committed(ds));
    const mirror = withLog ? await openMirror(home, node) : undefined;
    const me = makeIssuer(node.identity.secretKey);
    const lines = Array.from({ length: INGEST }, () => makeEnvelopeLine(me, { subjects: [randomDigest()] }));
    const t0 = performance.now();
    await node.ingestor.ingestMany(lines, () => {});
    await node.ingestor.idle();
    if (log) {
      await log.append([]);
      if (log.size !== INGEST) throw new Error(`log holds ${log.size} of ${INGEST}`);
    }
    const rate = INGEST / ((performance.now() - t0) / 1000);
    await log?.close();
    await mirror?.close();
    await node.close();
    return rate;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
if (!process.argv.includes('--devnet-only')) {
const off1 = await ingestRate(false);
const on = await ingestRate(true);
const off2 = await ingestRate(false);
const off = (off1 + off2) / 2;
rows.push([`ingest ${fmt(INGEST)} own attestations`, `logs on (own log + mirror): ${fmt(on)}/s (${fmt((100 * on) / off)} %)`, `logs off: ${fmt(off1)} and ${fmt(off2)}/s (before and after)`, '≥ 90 %', met(on >= 0.9 * off)]);
await mirrorMemory();
}
if (process.argv.includes('--devnet') || process.argv.includes('--devnet-only')) {
  const { runLogDevnet } = (await import(new URL('./log-devnet.js', import.meta.url).href)) as { runLogDevnet: (o: { nodes: number }) => Promise<void> };
  await runLogDevnet({ nodes: QUICK ? 8 : 20 });
}

// 4. Memory per mirrored issuer.
async function mirrorMemory(): Promise<void> {
  const n = QUICK ? 2_000 : 10_000;
  const gc = (globalThis as { gc?: () => void }).gc;
  const dir = await mkdtemp(join(tmpdir(), 'chorus-bench-mirror-'));
  try {
    const home = resolveHome({}, dir);
    await initHome(home);
    const node = await LocalNode.open(home, { env: {} });
    const issuers = Array.from({ length: n }, () => makeIssuer());
    const counting = new Set(issuers.map((i) => i.did));
    const mirror = await Mirror.open(join(dir, 'log', 'mirror'), { store: node.store, suite, identity: node.identity, config: { ...node.config.transparency, maxMirroredIssuers: n }, counting: () => counting });
    // Each issuer's log: 8 leaves (ids of statements this node does not hold) and a signed checkpoint.
    const work = issuers.map((i) => {
      const ids = Array.from({ length: 8 }, () => randomDigest());
      const t = new MerkleTree();
      for (const id of ids) t.append(leafHash(fromHex(id)!));
      const note = signNote(checkpointText({ origin: logOrigin(i.did), size: 8, root: t.root(), extensions: [timeExtension(Date.now())] }), logOrigin(i.did), i.secretKey);
      return { did: i.did, ids, note };
    });
    gc?.();
    const before = process.memoryUsage();
    const t0 = performance.now();
    for (const w of work) {
      await mirror.offer(w.note);
      await mirror.extend(w.did, w.note, 0, w.ids);
    }
    const ms = performance.now() - t0;
    gc?.();
    const after = process.memoryUsage();
    const v0 = performance.now();
    for (const w of work.slice(0, 2000)) verifyCheckpointNote(w.note, suite);
    const verifyRate = Math.min(2000, n) / ((performance.now() - v0) / 1000);
    const per = (after.heapUsed - before.heapUsed) / n;
    rows.push([`mirror ${fmt(n)} issuer logs`, `heap +${fmt((after.heapUsed - before.heapUsed) / 1e6, 1)} MB: ${fmt(per)} B per issuer (8 leaves, 8 ids lacked, 1 cosignature); RSS +${fmt((after.rss - before.rss) / 1e6, 1)} MB${gc ? '' : ' (no --expose-gc: rough)'}`, `the process's heap before: ${fmt(before.heapUsed / 1e6, 1)} MB`, '—', '']);
    rows.push([`verify + store ${fmt(n)} checkpoints with 8 leaves each`, `${fmt(n / (ms / 1000))} logs/s`, `verifying the checkpoint notes alone (parse + Ed25519): ${fmt(verifyRate)}/s; each log costs 2 of them (the note, then the peer's copy), a cosignature and 5 LevelDB operations`, '—', '']);
    await mirror.close();
    await node.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

console.log(`\nbench:log${QUICK ? ' (quick)' : ''}`);
console.log(table(FIGURE_HEAD, rows));
