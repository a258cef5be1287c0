/**
 * The measurements behind bench:scan's figures 4 and 5 (issue 19): the gate's precision and
 * recall over the bypass and benign corpora (test/fixtures/scan/corpus.ts), inspection
 * throughput over a 1,000-file mixed corpus beside reading the same files, and the hostile
 * files whose peak memory figure 5 measures in a child process.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { localClient } from '../../node/client/local-client.js';
import { nativeSuite } from '../../node/crypto/native-suite.js';
import { initHome, resolveHome } from '../../node/home/home.js';
import { LocalNode } from '../../node/local/local-node.js';
import { findingStatements } from '../../node/scan/attest-findings.js';
import { inspectionDenials } from '../../node/scan/gate.js';
import { inspectFile } from '../../node/scan/inspect/index.js';
import { scan } from '../../node/scan/scan.js';
import { PickleWriter, writeZip } from '../fixtures/scan/builders.js';
import { BENIGN_CORPUS, BYPASS_CORPUS, type CorpusCase } from '../fixtures/scan/corpus.js';

export interface CorpusScore {
  readonly truePositives: number;
  readonly falseNegatives: string[];
  readonly falsePositives: string[];
  readonly trueNegatives: number;
  /** Bypass files signed `clean` by scan --attest (must be none). */
  readonly falseCleans: string[];
  readonly seconds: number;
}

async function writeCase(root: string, c: CorpusCase): Promise<string> {
  const at = join(root, c.id);
  for (const [name, bytes] of Object.entries(await c.files())) {
    await mkdir(dirname(join(at, name)), { recursive: true });
    await writeFile(join(at, name), bytes);
  }
  return at;
}

/** Every corpus case scanned as `chorus check` does (fresh hashes, no cache) and judged by the gate. */
export async function scoreCorpora(dir: string): Promise<CorpusScore> {
  const home = resolveHome({}, join(dir, 'corpus-home'));
  await initHome(home);
  const node = await LocalNode.open(home);
  const client = localClient(node);
  const score = { truePositives: 0, falseNegatives: [] as string[], falsePositives: [] as string[], trueNegatives: 0, falseCleans: [] as string[], seconds: 0 };
  const t0 = performance.now();
  try {
    for (const [kind, cases] of [['bypass', BYPASS_CORPUS], ['benign', BENIGN_CORPUS]] as const) {
      for (const c of cases) {
        const at = await writeCase(join(dir, 'corpus', kind), c);
        const r = await scan({ paths: [at], verify: true, cache: undefined, client, suite: nativeSuite() });
        const denied = inspectionDenials(r.models).length > 0;
        if (kind === 'bypass') {
          if (denied) score.truePositives++;
          else score.falseNegatives.push(c.id);
          for (const m of r.models) {
            for (const s of findingStatements(m, node.identity.did, new Date())) {
              if ((s.predicate as { finding?: { kind?: string } }).finding?.kind === 'clean') score.falseCleans.push(`${c.id}: ${s.subject[0]?.name ?? '?'}`);
            }
          }
        } else if (denied) score.falsePositives.push(c.id);
        else score.trueNegatives++;
      }
    }
  } finally {
    score.seconds = (performance.now() - t0) / 1000;
    await node.close();
  }
  return score;
}

/** 1,000 files cycled from both corpora (every file of every case, in turn) under `dir`. */
export async function writeMixedCorpus(dir: string, count: number): Promise<{ files: string[]; bytes: number }> {
  const all: { name: string; bytes: Buffer }[] = [];
  for (const c of [...BYPASS_CORPUS, ...BENIGN_CORPUS]) for (const [name, bytes] of Object.entries(await c.files())) all.push({ name: `${c.id}-${name}`, bytes });
  const files: string[] = [];
  let total = 0;
  await mkdir(dir, { recursive: true });
  for (let i = 0; i < count; i++) {
    const f = all[i % all.length] as { name: string; bytes: Buffer };
    const path = join(dir, `${String(i).padStart(4, '0')}-${f.name}`);
    await writeFile(path, f.bytes);
    files.push(path);
    total += f.bytes.length;
  }
  return { files, bytes: total };
}

/** Seconds to inspect every file once, and seconds to read every file once (the reference). */
export async function timeMixed(files: readonly string[]): Promise<{ inspect: number; read: number }> {
  const t0 = performance.now();
  for (const f of files) await readFile(f);
  const read = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  for (const f of files) await inspectFile(f);
  return { inspect: (performance.now() - t1) / 1000, read };
}

/** Hostile files, each built to cost as much as its bound allows. */
export function writeHostileFiles(dir: string): { name: string; path: string; what: string }[] {
  const out: { name: string; path: string; what: string }[] = [];
  // 1. A zlib stream (joblib's compress=) that inflates to 1 GiB of pickle MARKs: read to compressedBytes only.
  {
    const path = join(dir, 'bomb.joblib');
    const chunk = Buffer.alloc(64 * 1024 * 1024, 0x28);
    const parts: Buffer[] = [];
    for (let i = 0; i < 16; i++) parts.push(chunk);
    writeFileSyncAll(path, deflateSync(Buffer.concat(parts), { level: 9 }));
    out.push({ name: 'zlib bomb', path, what: 'a zlib stream inflating to 1 GiB of pickle MARK opcodes' });
  }
  // 2. A 256 MiB raw pickle: 64 MiB of it is walked (pickleBytes), one opcode per byte.
  {
    const path = join(dir, 'long.pkl');
    const fd = openSync(path, 'w');
    try {
      writeSync(fd, new PickleWriter().proto(2).bytes());
      const block = Buffer.from('N0'.repeat(8 * 1024 * 1024));
      for (let i = 0; i < 16; i++) writeSync(fd, block);
      writeSync(fd, new PickleWriter().global('os', 'system').stop().bytes());
    } finally {
      closeSync(fd);
    }
    out.push({ name: 'long pickle', path, what: 'a 256 MiB protocol-2 pickle of NONE/POP pairs' });
  }
  // 3. A zip of 100,000 one-byte members named *.pkl, each a pickle to walk.
  {
    const path = join(dir, 'many.zip');
    const members = Array.from({ length: 65_000 }, (_, i) => ({ name: `m/${i}.pkl`, data: Buffer.from('N.') }));
    writeFileSyncAll(path, writeZip(members));
    out.push({ name: 'zip of 65k pickles', path, what: 'a zip of 65,000 pickle members (no ZIP64: the most a plain directory counts)' });
  }
  return out;
}

function writeFileSyncAll(path: string, bytes: Buffer): void {
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, bytes);
  } finally {
    closeSync(fd);
  }
}
