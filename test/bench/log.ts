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
import { makeEnvelopeLine, makeIssuer, randomDigest } from '../support/fixtures.js';

const QUICK = process.argv.includes('--quick');
const SIZES = QUICK ? [1_000, 10_000, 100_000] : [1_000, 100_000, 1_000_000];
const INGEST = QUICK ? 5_000 : 20_000;
const fmt = (n: number, d = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
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
  rows.push([`log of ${fmt(n)} leaves`, `proof ${bytes} B (${proof.length} hashes); checkpoint + inclusion verified in ${fmt(median(both) * 1000, 0)} µs; a proof served in ${fmt(median(served) * 1000, 0)} µs`, `32·⌈log₂ N⌉ = ${bound} B; the note's signature alone ${fmt(median(sigOnly) * 1000, 0)} µs; a proof from the whole tree ${fmt(recomputeMs)} ms (root ${fmt(rootMs)} ms)`, 'proof ≤ 32·⌈log₂ N⌉; verify < 1 ms', bytes <= bound && median(both) < 1 ? 'met' : 'NOT MET']);
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
    await node.close();
    return rate;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
const off1 = await ingestRate(false);
const on = await ingestRate(true);
const off2 = await ingestRate(false);
const off = (off1 + off2) / 2;
rows.push([`ingest ${fmt(INGEST)} own attestations`, `log on: ${fmt(on)}/s (${fmt((100 * on) / off)} %)`, `log off: ${fmt(off1)} and ${fmt(off2)}/s (before and after)`, '≥ 90 %', on >= 0.9 * off ? 'met' : 'NOT MET']);

const head = ['figure', 'measured', 'reference (same run)', 'goal', ''];
const w = head.map((_, c) => Math.max(...[head, ...rows].map((r) => r[c]!.length)));
console.log(`\nbench:log${QUICK ? ' (quick)' : ''}`);
for (const r of [head, ...rows]) console.log(r.map((c, i) => c.padEnd(w[i]!)).join(' | '));
