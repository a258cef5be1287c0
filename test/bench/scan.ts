/**
 * Scan benchmark (issue 13, "Figures"): `npm run bench:scan` (full, several minutes) or
 * `npm run bench:scan -- --quick` (~1 min, smaller sizes). A benchmark, never a test: each
 * figure is printed beside a reference measured in the same run, with its goal, and the
 * process exits 0 whatever the figures.
 *
 *   1. Hashing a 4 GiB file (--quick: 512 MiB): `hashFile` in this process against the
 *      system's `sha256sum` on the same file, and the built CLI (`chorus hash FILE`, a child
 *      process, start-up included) against `sha256sum FILE`. Each run several times, turn by
 *      turn; best and median printed. The file was just written, so the page cache is warm
 *      for every contender (the machine's memory holds it): this measures hashing, not the disk.
 *   2. Rescan of 1,000 unchanged files (GGUF headers of 1-64 KiB): `scan()` over a LocalNode
 *      (temp home) with a HashCache, the first scan (hashing + inspection + views) as the
 *      reference, then rescans with the same cache and with the cache reloaded from disk as a
 *      new CLI process would. The split: discovery, HashCache.digest, inspectFile and the view
 *      lookups, each timed alone over the same 1,000 files; and `chorus scan DIR` as a process.
 *   3. Pickle inspection of a 1 GiB PyTorch zip checkpoint (--quick: 256 MiB), written
 *      streaming in torch.save's layout (archive/data.pkl of a few MB: an OrderedDict of
 *      _rebuild_tensor_v2 GLOBAL/BINPERSID/REDUCE entries; stored archive/data/N members,
 *      64-byte aligned): inspectFile throughput (file bytes / time) and peak RSS, measured in a
 *      fresh child process (RSS sampled and VmHWM). Reference: reading the file once with fs,
 *      and hashing it, in the same run.
 *
 *   4. The gate over the regression corpora (test/fixtures/scan/corpus.ts, issue 19): recall
 *      on the bypass corpus (each published technique denied), false positives on the benign
 *      corpus, precision; files signed clean that should not be (must be none). Then inspection
 *      of a 1,000-file mixed corpus (both corpora cycled): files/s and MB/s beside reading the
 *      same files once in the same run.
 *   5. Peak RSS on hostile files (a zlib bomb of 1 GiB, a 256 MiB pickle, a zip of 65,000
 *      pickles), each inspected in a fresh child process, beside its RSS before.
 *
 * `--corpus` runs figures 4 and 5 only (about a minute).
 * MB = 10^6 bytes, MiB = 2^20. Internally `--inspect-child FILE` runs figure 3's measurement.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, createReadStream, openSync, readFileSync, writeSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32 } from 'node:zlib';
import { nativeSuite } from '../../node/crypto/native-suite.js';
import { localClient } from '../../node/client/local-client.js';
import { hashFile } from '../../node/hash/hash-path.js';
import { initHome, resolveHome } from '../../node/home/home.js';
import { LocalNode } from '../../node/local/local-node.js';
import { discover } from '../../node/scan/discover.js';
import { HashCache } from '../../node/scan/hash-cache.js';
import { BENIGN_CORPUS, BYPASS_CORPUS } from '../fixtures/scan/corpus.js';
import { scoreCorpora, timeMixed, writeHostileFiles, writeMixedCorpus } from './scan-corpus.js';
import { inspectFile } from '../../node/scan/inspect/index.js';
import { scan, type ScanReport } from '../../node/scan/scan.js';
import type { NodeClient } from '../../node/client/node-client.js';
import { PickleWriter, writeGguf } from '../fixtures/scan/builders.js';
import { prng } from '../support/prng.js';
import { CLI, QUICK, childJson, fmt, loadAverage, logger, machine, median, met, percent, ratioTable, runMain, timeChild, type RatioRow as Row } from './kit.js';

// ---------------------------------------------------------------------------------------
// Parameters

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const HASH_BYTES = QUICK ? 512 * MiB : 4 * GiB;
const HASH_ROUNDS = QUICK ? 2 : 3;
const HASH_BLOCK = 64 * MiB;
const SCAN_FILES = 1_000;
const RESCANS = QUICK ? 3 : 5;
const CKPT_BYTES = QUICK ? 256 * MiB : GiB;
/** Tensors in the checkpoint (one storage member each): data.pkl of ~0.9 MB quick, ~3 MB full. */
const CKPT_TENSORS = QUICK ? 4_000 : 14_000;
const INSPECT_RUNS = QUICK ? 3 : 5;
const RSS_SAMPLE_MS = 2;

const GOALS = {
  hashRatio: 0.9,
  rescanSeconds: 1,
  inspectMBps: 200,
  inspectRssMB: 200,
};

// ---------------------------------------------------------------------------------------
// Helpers

const MB = 1e6;

const log = logger('bench:scan');

function out(s = ''): void {
  process.stdout.write(`${s}\n`);
}

const pct = (r: number): string => percent(r);

function secs(s: number): string {
  return s < 1 ? `${(s * 1000).toFixed(0)} ms` : `${s.toFixed(2)} s`;
}

function best(xs: readonly number[]): number {
  return Math.min(...xs);
}

async function timed<T>(f: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  const t0 = performance.now();
  const value = await f();
  return { seconds: (performance.now() - t0) / 1000, value };
}

/** Peak resident set of this process so far (VmHWM), in bytes; 0 where /proc is missing. */
function vmHwm(): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Writes `bytes` of random data (one random block repeated) to `path`. */
function writeRandomFile(path: string, bytes: number): void {
  const block = randomBytes(Math.min(HASH_BLOCK, bytes));
  const fd = openSync(path, 'w');
  try {
    for (let written = 0; written < bytes; ) {
      const n = Math.min(block.length, bytes - written);
      writeSync(fd, block, 0, n);
      written += n;
    }
  } finally {
    closeSync(fd);
  }
}

/** Reads a file once with fs (4 MiB chunks, as hashFile does), touching nothing. */
async function readOnce(path: string): Promise<number> {
  let n = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 4 * MiB }) as AsyncIterable<Buffer>) n += chunk.length;
  return n;
}


// ---------------------------------------------------------------------------------------
// 1. Hashing a large file

async function benchHash(dir: string, rows: Row[]): Promise<void> {
  const file = join(dir, 'big.bin');
  out(`1. Hashing a ${HASH_BYTES / GiB >= 1 ? `${HASH_BYTES / GiB} GiB` : `${HASH_BYTES / MiB} MiB`} file (${fmt(HASH_BYTES / MB)} MB), ${HASH_ROUNDS} rounds, turn by turn`);
  log(`writing ${fmt(HASH_BYTES / MB)} MB to ${file}`);
  const tw = await timed(async () => writeRandomFile(file, HASH_BYTES));
  log(`written in ${secs(tw.seconds)}`);
  const env = { ...process.env, CHORUS_HOME: join(dir, 'hash-home') };
  const sha: number[] = [];
  const inproc: number[] = [];
  const cli: number[] = [];
  const digests = new Set<string>();
  try {
    // One untimed read so that every contender starts from the same warm page cache.
    await readOnce(file);
    for (let round = 1; round <= HASH_ROUNDS; round++) {
      log(`hash round ${round}/${HASH_ROUNDS}: sha256sum`);
      const a = timeChild('sha256sum', [file], env);
      sha.push(a.seconds);
      digests.add(a.stdout.split(/\s+/)[0] ?? '');
      log(`hash round ${round}/${HASH_ROUNDS}: hashFile (in process)`);
      const b = await timed(() => hashFile(file));
      inproc.push(b.seconds);
      digests.add(b.value);
      log(`hash round ${round}/${HASH_ROUNDS}: chorus hash (CLI)`);
      const c = timeChild(process.execPath, [CLI, 'hash', file], env);
      cli.push(c.seconds);
      digests.add((c.stdout.split(/\s+/)[0] ?? '').replace(/^sha256:/, ''));
    }
  } finally {
    await rm(file, { force: true });
  }
  const rate = (s: number): number => HASH_BYTES / MB / s;
  const agree = digests.size === 1 ? 'all three digests agree' : `DIGESTS DIFFER (${[...digests].join(', ')})`;
  out(`   page cache: warm (file just written and read once; ${fmt(totalmem() / GiB, 0)} GiB RAM); ${agree}`);
  out(`   sha256sum (process)      : best ${secs(best(sha))} = ${fmt(rate(best(sha)))} MB/s, median ${secs(median(sha))} = ${fmt(rate(median(sha)))} MB/s`);
  out(`   hashFile (in process)    : best ${secs(best(inproc))} = ${fmt(rate(best(inproc)))} MB/s, median ${secs(median(inproc))} = ${fmt(rate(median(inproc)))} MB/s`);
  out(`   chorus hash FILE (process): best ${secs(best(cli))} = ${fmt(rate(best(cli)))} MB/s, median ${secs(median(cli))} = ${fmt(rate(median(cli)))} MB/s`);
  const r1 = median(sha) / median(inproc);
  const r2 = median(sha) / median(cli);
  out(`   hashFile / sha256sum (medians) = ${pct(r1)}; chorus hash / sha256sum = ${pct(r2)}   goal >= ${pct(GOALS.hashRatio)}`);
  out();
  const size = HASH_BYTES >= GiB ? `${HASH_BYTES / GiB} GiB` : `${HASH_BYTES / MiB} MiB`;
  rows.push(
    { figure: `1. hashFile, ${size} file`, measured: `${fmt(rate(median(inproc)))} MB/s`, reference: `sha256sum ${fmt(rate(median(sha)))} MB/s`, ratio: pct(r1), goal: `>= ${pct(GOALS.hashRatio)}`, result: met(r1 >= GOALS.hashRatio) },
    { figure: `1. chorus hash FILE, ${size}`, measured: `${secs(median(cli))} (${fmt(rate(median(cli)))} MB/s)`, reference: `sha256sum FILE ${secs(median(sha))}`, ratio: pct(r2), goal: `>= ${pct(GOALS.hashRatio)}`, result: met(r2 >= GOALS.hashRatio) },
  );
}

// ---------------------------------------------------------------------------------------
// 2. Rescan of 1,000 unchanged files

async function makeScanFiles(dir: string): Promise<number> {
  await mkdir(dir, { recursive: true });
  const rand = prng(13);
  let total = 0;
  for (let i = 0; i < SCAN_FILES; i++) {
    const size = 1024 + Math.floor(rand() * 63 * 1024);
    const head = writeGguf({
      kv: [
        ['general.architecture', { t: 'str', v: 'llama' }],
        ['general.name', { t: 'str', v: `bench-model-${i}` }],
        ['general.license', { t: 'str', v: 'apache-2.0' }],
        ['general.base_model.count', { t: 'u32', v: 1 }],
        ['general.base_model.0.name', { t: 'str', v: 'Llama 3.1 8B' }],
        ['llama.context_length', { t: 'u32', v: 8192 }],
        ['llama.block_count', { t: 'u32', v: 32 }],
        ['tokenizer.ggml.model', { t: 'str', v: 'gpt2' }],
      ],
      tensors: [
        { name: 'token_embd.weight', dims: [64, 16], type: 1, offset: 0 },
        { name: 'output.weight', dims: [64, 16], type: 1, offset: 2048 },
      ],
    });
    const pad = Math.max(0, size - head.length);
    const bytes = Buffer.concat([head, randomBytes(pad)]);
    total += bytes.length;
    await writeFile(join(dir, `model-${String(i).padStart(4, '0')}.gguf`), bytes);
  }
  return total;
}

function countFrom(r: ScanReport): Record<string, number> {
  const by: Record<string, number> = {};
  for (const m of r.models) for (const f of m.files) by[f.digestFrom] = (by[f.digestFrom] ?? 0) + 1;
  return by;
}

async function benchRescan(dir: string, rows: Row[]): Promise<void> {
  const models = join(dir, 'models');
  out(`2. Rescan of ${fmt(SCAN_FILES)} unchanged files (GGUF, 1-64 KiB each; page cache warm)`);
  log(`writing ${SCAN_FILES} GGUF files`);
  const bytes = await makeScanFiles(models);
  const home = resolveHome({}, join(dir, 'scan-home'));
  await initHome(home);
  const cachePath = join(home.root, 'scan-cache.json');
  const suite = nativeSuite();
  const node = await LocalNode.open(home);
  const client = localClient(node);
  const first = { seconds: 0, save: 0, digest: 0, view: 0 };
  const rescans: number[] = [];
  const rescanDigest: number[] = [];
  const rescanView: number[] = [];
  const reloaded: number[] = [];
  let firstFrom: Record<string, number> = {};
  let rescanFrom: Record<string, number> = {};
  let reloadFrom: Record<string, number> = {};
  const split = { discover: 0, digestCached: 0, digestFresh: 0, hashFiles: 0, inspect: 0, views: 0, cacheLoad: 0 };
  let modelCount = 0;
  try {
    const cache = await HashCache.open(cachePath);
    // Time spent inside scan() in HashCache.digest and in the view lookups, measured in place.
    const inScan = { digest: 0, view: 0 };
    const digestOf = cache.digest.bind(cache);
    cache.digest = async (path, onBytes) => {
      const t0 = performance.now();
      try {
        return await digestOf(path, onBytes);
      } finally {
        inScan.digest += performance.now() - t0;
      }
    };
    const timedClient: NodeClient = {
      ...client,
      view: async (digest, opts) => {
        const t0 = performance.now();
        try {
          return await client.view(digest, opts);
        } finally {
          inScan.view += performance.now() - t0;
        }
      },
    };
    log('first scan');
    const f = await timed(() => scan({ paths: [models], verify: false, cache, client: timedClient, suite }));
    first.seconds = f.seconds;
    first.digest = inScan.digest / 1000;
    first.view = inScan.view / 1000;
    firstFrom = countFrom(f.value);
    modelCount = f.value.models.length;
    first.save = (await timed(() => cache.save())).seconds;
    for (let i = 0; i < RESCANS; i++) {
      log(`rescan ${i + 1}/${RESCANS} (same cache)`);
      inScan.digest = 0;
      inScan.view = 0;
      const r = await timed(() => scan({ paths: [models], verify: false, cache, client: timedClient, suite }));
      rescans.push(r.seconds);
      rescanDigest.push(inScan.digest / 1000);
      rescanView.push(inScan.view / 1000);
      rescanFrom = countFrom(r.value);
    }
    for (let i = 0; i < RESCANS; i++) {
      log(`rescan ${i + 1}/${RESCANS} (cache loaded from disk)`);
      const r = await timed(async () => {
        const c = await HashCache.open(cachePath);
        return scan({ paths: [models], verify: false, cache: c, client, suite });
      });
      reloaded.push(r.seconds);
      reloadFrom = countFrom(r.value);
    }

    // The split, each part alone over the same files (medians of a few runs).
    log('split: discover, digest, hashFile, inspectFile, views');
    const d = await discover({ runtime: 'path', path: models, source: 'argument' });
    const files = d.models.flatMap((m) => m.files.map((x) => x.path));
    const part = async (f: () => Promise<unknown>): Promise<number> => {
      const t: number[] = [];
      for (let i = 0; i < 3; i++) t.push((await timed(f)).seconds);
      return median(t);
    };
    split.discover = await part(() => discover({ runtime: 'path', path: models, source: 'argument' }));
    split.cacheLoad = await part(() => HashCache.open(cachePath));
    split.digestCached = await part(async () => {
      for (const p of files) await cache.digest(p);
    });
    let fresh = 0;
    split.digestFresh = await part(async () => {
      const c = await HashCache.open(join(dir, `fresh-cache-${fresh++}.json`));
      for (const p of files) await c.digest(p);
    });
    split.hashFiles = await part(async () => {
      for (const p of files) await hashFile(p);
    });
    split.inspect = await part(async () => {
      for (const p of files) await inspectFile(p);
    });
    const digests = (await Promise.all(files.map((p) => cache.digest(p)))).map((x) => x.sha256);
    split.views = await part(async () => {
      for (const x of digests) await client.view(x, { lookup: false });
    });
  } finally {
    await node.close();
  }

  // What a user runs: `chorus scan DIR` as a process, twice (first: the cache is warm from above).
  log('chorus scan DIR (CLI), twice');
  const env = { ...process.env, CHORUS_HOME: home.root };
  const cliRuns: number[] = [];
  for (let i = 0; i < 2; i++) cliRuns.push(timeChild(process.execPath, [CLI, 'scan', '--json', models], env, [0, 3]).seconds);
  const cliNoop = timeChild(process.execPath, [CLI, '--version'], env, [0, 1]).seconds;

  const fromStr = (x: Record<string, number>): string => Object.entries(x).map(([k, v]) => `${v} ${k}`).join(', ');
  out(`   ${fmt(modelCount)} models, ${fmt(bytes / MB, 1)} MB in all`);
  const rest = (total: number, digest: number, view: number): string => `digest ${secs(digest)}, views ${secs(view)}, the rest (walk, inspectFile) ${secs(total - digest - view)}`;
  out(`   first scan (hash + inspect + view)    : ${secs(first.seconds)} (${fromStr(firstFrom)}); cache.save ${secs(first.save)}`);
  out(`     inside it: ${rest(first.seconds, first.digest, first.view)}`);
  out(`   rescan, same HashCache                : best ${secs(best(rescans))}, median ${secs(median(rescans))} (${fromStr(rescanFrom)})`);
  out(`     inside it (medians): ${rest(median(rescans), median(rescanDigest), median(rescanView))}`);
  out(`   rescan, HashCache reloaded from disk  : best ${secs(best(reloaded))}, median ${secs(median(reloaded))} (${fromStr(reloadFrom)})`);
  out(`   split over the same ${fmt(modelCount)} files, each part alone (median of 3):`);
  out(`     discover (walk + stat)          ${secs(split.discover)}`);
  out(`     HashCache.open (load JSON)      ${secs(split.cacheLoad)}`);
  out(`     HashCache.digest, all cached    ${secs(split.digestCached)}`);
  out(`     HashCache.digest, fresh cache   ${secs(split.digestFresh)}   (what the first scan pays instead)`);
  out(`     hashFile alone, every file      ${secs(split.hashFiles)}`);
  out(`     inspectFile                     ${secs(split.inspect)}`);
  out(`     client.view (lookup: false)     ${secs(split.views)}`);
  const parts = split.discover + split.digestCached + split.inspect + split.views;
  out(`     sum for a rescan                ${secs(parts)} (scan() measured ${secs(median(rescans))})`);
  out(`   chorus scan --json DIR (process, cache warm): ${cliRuns.map(secs).join(', ')}; \`chorus --version\` start-up alone ${secs(cliNoop)}`);
  const ratio = median(rescans) / first.seconds;
  out(`   rescan / first scan = ${pct(ratio)}   goal: rescan < ${GOALS.rescanSeconds} s`);
  out();
  rows.push(
    { figure: `2. rescan ${fmt(SCAN_FILES)} unchanged files`, measured: secs(median(rescans)), reference: `first scan ${secs(first.seconds)}`, ratio: pct(ratio), goal: `< ${GOALS.rescanSeconds} s`, result: met(median(rescans) < GOALS.rescanSeconds) },
    { figure: '2. rescan, cache from disk', measured: secs(median(reloaded)), reference: `first scan ${secs(first.seconds)}`, ratio: pct(median(reloaded) / first.seconds), goal: `< ${GOALS.rescanSeconds} s`, result: met(median(reloaded) < GOALS.rescanSeconds) },
    { figure: '2. rescan split, parts alone', measured: `inspect ${secs(split.inspect)}, views ${secs(split.views)}`, reference: `digest ${secs(split.digestCached)}, walk ${secs(split.discover)}`, ratio: '', goal: '', result: '' },
    { figure: '2. first scan split, in scan()', measured: `digest ${secs(first.digest)}, views ${secs(first.view)}`, reference: `rest ${secs(first.seconds - first.digest - first.view)}`, ratio: '', goal: '', result: '' },
    { figure: '2. chorus scan DIR (process)', measured: secs(median(cliRuns)), reference: `start-up ${secs(cliNoop)}`, ratio: '', goal: '', result: '' },
  );
}

// ---------------------------------------------------------------------------------------
// 3. Pickle inspection of a PyTorch zip checkpoint

interface Member {
  readonly name: Buffer;
  readonly crc: number;
  readonly size: number;
  readonly offset: number;
}

/** A pickle int the way CPython writes it: BININT1, BININT2 or BININT. */
function pint(w: PickleWriter, n: number): void {
  if (n < 256) w.binint1(n);
  else if (n < 65536) {
    const b = Buffer.alloc(2);
    b.writeUInt16LE(n);
    w.raw('M', b);
  } else {
    const b = Buffer.alloc(4);
    b.writeInt32LE(n);
    w.raw('J', b);
  }
}

/**
 * data.pkl as torch.save (protocol 2) writes a state dict: an OrderedDict filled by SETITEMS
 * batches of 1,000, each value `_rebuild_tensor_v2((storage via BINPERSID), offset, size,
 * stride, requires_grad, OrderedDict())`, globals and repeated strings through the memo.
 */
function statePickle(tensors: readonly { key: string; storage: number; dtype: string; shape: [number, number] }[]): Buffer {
  const w = new PickleWriter();
  let memo = 0;
  const put = (): number => {
    const i = memo++;
    if (i < 256) w.binput(i);
    else w.longBinput(i);
    return i;
  };
  const get = (i: number): void => {
    if (i < 256) w.binget(i);
    else w.longBinget(i);
  };
  const globals = new Map<string, number>();
  const global = (module: string, name: string): void => {
    const k = `${module}.${name}`;
    const at = globals.get(k);
    if (at !== undefined) get(at);
    else {
      w.global(module, name);
      globals.set(k, put());
    }
  };
  const strings = new Map<string, number>();
  const str = (s: string): void => {
    const at = strings.get(s);
    if (at !== undefined) get(at);
    else {
      w.binUnicode(s);
      strings.set(s, put());
    }
  };
  w.proto(2);
  global('collections', 'OrderedDict');
  w.emptyTuple().reduce();
  put();
  for (let i = 0; i < tensors.length; i++) {
    if (i % 1000 === 0) w.mark();
    const t = tensors[i] as (typeof tensors)[number];
    w.binUnicode(t.key);
    put();
    global('torch._utils', '_rebuild_tensor_v2');
    w.mark();
    w.mark();
    str('storage');
    global('torch', t.dtype);
    w.binUnicode(String(t.storage));
    put();
    str('cpu');
    pint(w, t.shape[0] * t.shape[1]);
    w.tuple();
    put();
    w.binpersid();
    w.binint1(0);
    pint(w, t.shape[0]);
    pint(w, t.shape[1]);
    w.tuple2();
    put();
    pint(w, t.shape[1]);
    w.binint1(1);
    w.tuple2();
    put();
    w.raw(0x89); // NEWFALSE: requires_grad
    global('collections', 'OrderedDict');
    w.emptyTuple().reduce();
    put();
    w.tuple();
    put();
    w.reduce();
    put();
    if (i % 1000 === 999 || i === tensors.length - 1) w.raw('u'); // SETITEMS
  }
  w.stop();
  return w.bytes();
}

/**
 * Writes a PyTorch zip checkpoint of about `target` bytes streaming (the tensor bytes come
 * from one random pool, never all in memory): archive/data.pkl, archive/byteorder,
 * archive/data/0..N-1 (stored, data 64-byte aligned through an "FB" extra field as torch
 * writes them), archive/version, archive/.data/serialization_id, central directory, EOCD.
 * Returns the file size and the pickle's size.
 */
function writeCheckpoint(path: string, target: number, count: number): { size: number; pickleBytes: number } {
  // Per block of 9 tensors: 7 matrices (attention q/k/v/o, mlp gate/up/down) and 2 norms.
  const cols = 128;
  const layers = Math.ceil(count / 9);
  const normBytes = cols * 2;
  const matBytes = Math.max(cols * 2, Math.floor((target - layers * 2 * normBytes) / (layers * 7) / (cols * 2)) * cols * 2);
  const parts = ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'self_attn.o_proj', 'mlp.gate_proj', 'mlp.up_proj', 'mlp.down_proj', 'input_layernorm', 'post_attention_layernorm'];
  const tensors: { key: string; storage: number; dtype: string; shape: [number, number]; bytes: number }[] = [];
  for (let i = 0; i < count; i++) {
    const layer = Math.floor(i / 9);
    const p = i % 9;
    const bytes = p < 7 ? matBytes : normBytes;
    tensors.push({ key: `model.layers.${layer}.${parts[p] as string}.weight`, storage: i, dtype: 'BFloat16Storage', shape: p < 7 ? [bytes / 2 / cols, cols] : [1, cols], bytes });
  }
  const pickle = statePickle(tensors);
  const pool = randomBytes(64 * MiB);
  const rand = prng(3);
  const members: Member[] = [];
  const fd = openSync(path, 'w');
  let offset = 0;
  const write = (b: Buffer): void => {
    writeSync(fd, b);
    offset += b.length;
  };
  const addMember = (name: string, data: Buffer | ((write: (b: Buffer) => void) => number)): void => {
    const nameBuf = Buffer.from(`archive/${name}`, 'utf8');
    let size: number;
    let crc: number;
    let chunks: Buffer[] | undefined;
    if (Buffer.isBuffer(data)) {
      size = data.length;
      crc = crc32(data);
      chunks = [data];
    } else {
      // Only tensor members are computed; their bytes are slices of the pool.
      const collected: Buffer[] = [];
      size = data((b) => collected.push(b));
      crc = 0;
      for (const c of collected) crc = crc32(c, crc);
      chunks = collected;
    }
    const start = offset;
    const headerLen = 30 + nameBuf.length;
    // torch aligns each member's data to 64 bytes with an "FB" extra field of padding.
    const padLen = (64 - ((start + headerLen + 4) % 64)) % 64;
    const extra = Buffer.alloc(4 + padLen, 0x5a);
    extra.writeUInt16LE(0x4246, 0);
    extra.writeUInt16LE(padLen, 2);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(size, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(nameBuf.length, 26);
    local.writeUInt16LE(extra.length, 28);
    write(local);
    write(nameBuf);
    write(extra);
    for (const c of chunks) write(c);
    members.push({ name: nameBuf, crc, size, offset: start });
  };
  try {
    addMember('data.pkl', pickle);
    addMember('byteorder', Buffer.from('little'));
    for (const t of tensors) {
      addMember(`data/${t.storage}`, (emit) => {
        for (let left = t.bytes; left > 0; ) {
          const n = Math.min(left, 8 * MiB);
          const at = Math.floor(rand() * (pool.length - n));
          emit(pool.subarray(at, at + n));
          left -= n;
        }
        return t.bytes;
      });
    }
    addMember('version', Buffer.from('3\n'));
    addMember('.data/serialization_id', Buffer.from('1234567890123456789012345678901234567890'));
    const dirStart = offset;
    for (const m of members) {
      const central = Buffer.alloc(46);
      central.writeUInt32LE(0x02014b50, 0);
      central.writeUInt16LE(20, 4);
      central.writeUInt16LE(20, 6);
      central.writeUInt16LE(0, 10);
      central.writeUInt32LE(m.crc, 16);
      central.writeUInt32LE(m.size, 20);
      central.writeUInt32LE(m.size, 24);
      central.writeUInt16LE(m.name.length, 28);
      central.writeUInt32LE(m.offset, 42);
      write(central);
      write(m.name);
    }
    const eocd = Buffer.alloc(22);
    eocd.writeUInt32LE(0x06054b50, 0);
    eocd.writeUInt16LE(members.length, 8);
    eocd.writeUInt16LE(members.length, 10);
    eocd.writeUInt32LE(offset - dirStart, 12);
    eocd.writeUInt32LE(dirStart, 16);
    write(eocd);
  } finally {
    closeSync(fd);
  }
  return { size: offset, pickleBytes: pickle.length };
}

interface InspectChildResult {
  readonly runs: number[];
  readonly rssBeforeMB: number;
  readonly sampledPeakMB: number;
  readonly hwmBeforeMB: number;
  readonly hwmAfterMB: number;
  readonly format: string;
  readonly findings: string[];
  readonly pickles: number;
  readonly entries: number;
}

/** Figure 3's measurement, in a fresh process: inspectFile INSPECT_RUNS times, RSS sampled. */
async function inspectChild(file: string): Promise<InspectChildResult> {
  const rssBeforeMB = process.memoryUsage().rss / MB;
  const hwmBeforeMB = vmHwm() / MB;
  let peak = 0;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, RSS_SAMPLE_MS);
  const runs: number[] = [];
  let last: Awaited<ReturnType<typeof inspectFile>> | undefined;
  try {
    for (let i = 0; i < INSPECT_RUNS; i++) {
      const r = await timed(() => inspectFile(file));
      runs.push(r.seconds);
      last = r.value;
      peak = Math.max(peak, process.memoryUsage().rss);
    }
  } finally {
    clearInterval(timer);
  }
  const meta = (last?.meta ?? {}) as { pickles?: unknown[]; entries?: number };
  return {
    runs,
    rssBeforeMB,
    sampledPeakMB: peak / MB,
    hwmBeforeMB,
    hwmAfterMB: vmHwm() / MB,
    format: last?.format ?? '?',
    findings: (last?.findings ?? []).map((f) => `${f.severity} ${f.kind}${f.path ? ` ${f.path}` : ''}`),
    pickles: meta.pickles?.length ?? 0,
    entries: meta.entries ?? 0,
  };
}

async function benchInspect(dir: string, rows: Row[]): Promise<void> {
  const file = join(dir, 'checkpoint.pt');
  const label = CKPT_BYTES >= GiB ? `${CKPT_BYTES / GiB} GiB` : `${CKPT_BYTES / MiB} MiB`;
  out(`3. Pickle inspection of a ${label} PyTorch zip checkpoint (${fmt(CKPT_TENSORS)} tensors)`);
  log(`writing the checkpoint to ${file}`);
  const w = await timed(async () => writeCheckpoint(file, CKPT_BYTES, CKPT_TENSORS));
  const { size, pickleBytes } = w.value;
  log(`written in ${secs(w.seconds)}`);
  try {
    log('reference: reading it once with fs, and hashing it');
    await readOnce(file); // warm the page cache for every contender
    const reads: number[] = [];
    for (let i = 0; i < 2; i++) reads.push((await timed(() => readOnce(file))).seconds);
    const hashes: number[] = [];
    for (let i = 0; i < 2; i++) hashes.push((await timed(() => hashFile(file))).seconds);
    log(`inspectFile x${INSPECT_RUNS} in a child process`);
    const self = fileURLToPath(import.meta.url);
    const c = childJson<InspectChildResult>([self, INSPECT_FLAG, file, ...(QUICK ? ['--quick'] : [])]);
    const rate = (s: number): number => size / MB / s;
    const first = c.runs[0] as number;
    const med = median(c.runs);
    const peakMB = Math.max(c.sampledPeakMB, c.hwmAfterMB);
    out(`   file ${fmt(size / MB, 1)} MB: data.pkl ${fmt(pickleBytes / MB, 2)} MB, ${fmt(c.entries)} zip entries; page cache warm`);
    out(`   inspectFile: format ${c.format}, ${c.pickles} pickle(s) walked, findings: ${c.findings.length === 0 ? 'none' : c.findings.slice(0, 5).join('; ')}`);
    out(`   inspectFile: first ${secs(first)} = ${fmt(rate(first))} MB/s; median of ${c.runs.length} ${secs(med)} = ${fmt(rate(med))} MB/s (file bytes / time)`);
    out(`   reference, fs read once : median ${secs(median(reads))} = ${fmt(rate(median(reads)))} MB/s`);
    out(`   reference, hashFile     : median ${secs(median(hashes))} = ${fmt(rate(median(hashes)))} MB/s`);
    out(`   memory (child process): RSS ${fmt(c.rssBeforeMB, 1)} MB before; peak ${fmt(peakMB, 1)} MB (sampled every ${RSS_SAMPLE_MS} ms: ${fmt(c.sampledPeakMB, 1)}; VmHWM ${fmt(c.hwmBeforeMB, 1)} -> ${fmt(c.hwmAfterMB, 1)}), +${fmt(peakMB - c.rssBeforeMB, 1)} MB during inspection`);
    out(`   goal: >= ${GOALS.inspectMBps} MB/s and < ${GOALS.inspectRssMB} MB`);
    out();
    rows.push(
      { figure: `3. inspectFile, ${label} torch zip`, measured: `${fmt(rate(med))} MB/s (${secs(med)})`, reference: `fs read ${fmt(rate(median(reads)))} MB/s`, ratio: `${fmt(rate(med) / rate(median(reads)), 1)}x`, goal: `>= ${GOALS.inspectMBps} MB/s`, result: met(rate(med) >= GOALS.inspectMBps) },
      { figure: '3. peak RSS, inspection process', measured: `${fmt(peakMB, 1)} MB`, reference: `${fmt(c.rssBeforeMB, 1)} MB before`, ratio: `+${fmt(peakMB - c.rssBeforeMB, 1)} MB`, goal: `< ${GOALS.inspectRssMB} MB`, result: met(peakMB < GOALS.inspectRssMB) },
    );
  } finally {
    await rm(file, { force: true });
  }
}

// ---------------------------------------------------------------------------------------
// 4. The corpora: precision and recall; mixed-corpus throughput

const CORPUS_ONLY = process.argv.includes('--corpus');
const MIXED_FILES = 1_000;

async function benchCorpus(dir: string, rows: Row[]): Promise<void> {
  out(`4. The gate over the regression corpora (${BYPASS_CORPUS.length} bypass techniques, ${BENIGN_CORPUS.length} benign models)`);
  const s = await scoreCorpora(dir);
  const recall = s.truePositives / (s.truePositives + s.falseNegatives.length);
  const precision = s.truePositives / Math.max(1, s.truePositives + s.falsePositives.length);
  out(`   bypass corpus: ${s.truePositives} denied, ${s.falseNegatives.length} allowed${s.falseNegatives.length ? ` (${s.falseNegatives.join(', ')})` : ''}: recall ${pct(recall)}`);
  out(`   benign corpus: ${s.trueNegatives} allowed, ${s.falsePositives.length} denied${s.falsePositives.length ? ` (${s.falsePositives.join(', ')})` : ''}: precision ${pct(precision)}`);
  out(`   bypass files signed clean by scan --attest: ${s.falseCleans.length}${s.falseCleans.length ? ` (${s.falseCleans.join(', ')})` : ''}`);
  out(`   scanned in ${secs(s.seconds)} (fresh hashes, every file inspected, views asked)`);
  log(`writing a ${MIXED_FILES}-file mixed corpus`);
  const mixed = await writeMixedCorpus(join(dir, 'mixed'), MIXED_FILES);
  await timeMixed(mixed.files); // warm the page cache and the JIT
  const runs: { inspect: number; read: number }[] = [];
  for (let i = 0; i < 3; i++) runs.push(await timeMixed(mixed.files));
  const ins = median(runs.map((r) => r.inspect));
  const rd = median(runs.map((r) => r.read));
  out(`   mixed corpus: ${MIXED_FILES} files, ${fmt(mixed.bytes / MB, 2)} MB; inspectFile median ${secs(ins)} = ${fmt(MIXED_FILES / ins)} files/s (${fmt(mixed.bytes / MB / ins, 1)} MB/s); reading them once ${secs(rd)} = ${fmt(MIXED_FILES / rd)} files/s`);
  out();
  rows.push(
    { figure: '4. recall, bypass corpus', measured: pct(recall), reference: `${s.truePositives}/${s.truePositives + s.falseNegatives.length} denied`, ratio: '', goal: '100 %', result: met(recall === 1) },
    { figure: '4. false positives, benign corpus', measured: `${s.falsePositives.length}`, reference: `${s.trueNegatives + s.falsePositives.length} benign models`, ratio: `precision ${pct(precision)}`, goal: '0', result: met(s.falsePositives.length === 0) },
    { figure: '4. bypass files signed clean', measured: `${s.falseCleans.length}`, reference: '', ratio: '', goal: '0', result: met(s.falseCleans.length === 0) },
    { figure: '4. inspectFile, 1,000 mixed files', measured: `${fmt(MIXED_FILES / ins)} files/s`, reference: `fs read ${fmt(MIXED_FILES / rd)} files/s`, ratio: `${fmt((MIXED_FILES / ins) / (MIXED_FILES / rd), 2)}x`, goal: '', result: '' },
  );
}

// ---------------------------------------------------------------------------------------
// 5. Peak memory on hostile files

async function benchHostile(dir: string, rows: Row[]): Promise<void> {
  out('5. Peak RSS on hostile files (inspectFile in a fresh child process each)');
  const self = fileURLToPath(import.meta.url);
  for (const h of writeHostileFiles(dir)) {
    const c = childJson<InspectChildResult>([self, INSPECT_FLAG, h.path, '--quick']);
    const peakMB = Math.max(c.sampledPeakMB, c.hwmAfterMB);
    out(`   ${h.what}: format ${c.format}, median ${secs(median(c.runs))}, peak RSS ${fmt(peakMB, 1)} MB (+${fmt(peakMB - c.rssBeforeMB, 1)} MB); findings: ${c.findings.slice(0, 4).join('; ') || 'none'}`);
    rows.push({ figure: `5. peak RSS, ${h.name}`, measured: `${fmt(peakMB, 1)} MB`, reference: `${fmt(c.rssBeforeMB, 1)} MB before`, ratio: `+${fmt(peakMB - c.rssBeforeMB, 1)} MB`, goal: `< ${GOALS.inspectRssMB} MB`, result: met(peakMB < GOALS.inspectRssMB) });
    await rm(h.path, { force: true });
  }
  out();
}

// ---------------------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'chorus-bench-scan-'));
  const rows: Row[] = [];
  try {
    out(`Chorus scan benchmark${QUICK ? ' (--quick)' : ''}`);
    out(`${machine()}, ${fmt(totalmem() / GiB, 0)} GiB RAM`);
    out(`load average at start: ${loadAverage()} (other processes on the machine skew every figure; compare only within a run)`);
    out();
    if (!CORPUS_ONLY) {
      await benchHash(dir, rows);
      await benchRescan(dir, rows);
      await benchInspect(dir, rows);
    }
    await benchCorpus(dir, rows);
    await benchHostile(dir, rows);
    out(`load average at end: ${loadAverage()}`);
    out();
    out('Summary (MB = 10^6 bytes; medians unless said; a benchmark: nothing passes or fails)');
    out(ratioTable(rows, 'goal met?'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const INSPECT_FLAG = '--inspect-child';
const inspectAt = process.argv.indexOf(INSPECT_FLAG);

runMain(inspectAt >= 0
  ? inspectChild(process.argv[inspectAt + 1] ?? '').then((r) => {
      process.stdout.write(JSON.stringify(r));
    })
  : main());
