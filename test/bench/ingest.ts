/**
 * Ingest benchmark: `npm run bench:ingest` (full) or `npm run bench:ingest -- --quick`.
 *
 * A benchmark, never a test: every figure is printed beside a reference measured in the
 * same run, with its goal and PASS/MISS, and the process exits 0 whatever the figures.
 *
 *   1. bulk import through the real ingest path (Ingestor -> AttestationStore on LevelDB),
 *      against the raw node:crypto Ed25519 verify rate of the same envelopes;
 *   2. store bytes per envelope byte;
 *   3. peak RSS during the import;
 *   4. in-process query (bySubject + reputationView) of a digest with 1,000 attestations;
 *   5. `chorus hash` of a 1 GiB file against `sha256sum` (skipped with --quick).
 */
import { createHash, createPublicKey, randomBytes, verify, type KeyObject } from 'node:crypto';
import { createReadStream, closeSync, openSync, writeSync } from 'node:fs';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Level } from 'level';
import { nativeSuite } from '../../node/crypto/native-suite.js';
import { importLines } from '../../node/ingest/import-lines.js';
import { readLines } from '../../node/ingest/read-lines.js';
import { Ingestor } from '../../node/ingest/ingestor.js';
import { AttestationStore } from '../../node/store/attestation-store.js';
import { initHome, resolveHome } from '../../node/home/home.js';
import { LocalNode } from '../../node/local/local-node.js';
import type { CryptoSuite } from '../../src/crypto/suite.js';
import { decodeBase64 } from '../../src/encoding/bytes.js';
import { pae } from '../../src/dsse/pae.js';
import { publicKeyFromDidKey } from '../../src/identity/did-key.js';
import { DEFAULT_LIMITS } from '../../src/ingest/limits.js';
import { verifyEnvelope } from '../../src/ingest/verify-envelope.js';
import { reputationView } from '../../src/reputation/view.js';
import { TrustGraph } from '../../src/reputation/trust-graph.js';
import { TrustPolicyFile } from '../../src/reputation/policy.js';
import { writePolicy } from '../../node/home/trust-list.js';
import type { PredicateKind } from '../../src/statement/predicates.js';
import type { Envelope } from '../../src/statement/statement.js';
import { makeEnvelopeLine, makeIssuer, type TestIssuer } from '../support/fixtures.js';
import { prng } from '../support/prng.js';
import { CLI, QUICK, childJson, fmt, logger, loadAverage, machine, mark, pct as percentile, percent, ratioTable, runMain, timeChild, type RatioRow as Row } from './kit.js';

// ---------------------------------------------------------------------------------------
// Parameters

const ISSUERS = 1_000;
const PER_ISSUER = QUICK ? 10 : 100;
const TOTAL = ISSUERS * PER_ISSUER;
/** Attestations about the hot digest: one from each issuer. */
const HOT = ISSUERS;
/** The other attestations are spread over this many digests. */
const COLD_DIGESTS = QUICK ? 1_000 : 10_000;
const QUERY_WARMUP = 5;
const QUERY_RUNS = 250;
const HASH_FILE_BYTES = 1024 ** 3;
const HASH_BLOCK = 64 * 1024 ** 2;
const RSS_SAMPLE_MS = 50;

const GOALS = {
  // Issue 24: import on both cores at least one core's raw verify rate (it was 0.7 before signature checks went to worker threads).
  importRatio: 1.0,
  storeRatio: 2,
  peakRssMB: 300,
  queryP99Ms: 20,
  hashRatio: 0.9,
};

// ---------------------------------------------------------------------------------------
// Helpers

const MB = 1e6;
const gc = (globalThis as { gc?: () => void }).gc;
function collect(): void {
  gc?.();
  gc?.();
}

const log = logger('bench:ingest');
const pct = (r: number): string => percent(r, 1);

function sha256Hex(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

/** Wall-clock and process CPU time (all threads) since `start()`, in seconds. */
function stopwatch(): () => { wall: number; cpu: number } {
  const w = performance.now();
  const c = process.cpuUsage();
  return () => {
    const d = process.cpuUsage(c);
    return { wall: (performance.now() - w) / 1000, cpu: (d.user + d.system) / 1e6 };
  };
}

function rssMB(): number {
  return process.memoryUsage().rss / MB;
}

async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  for (const name of await readdir(dir)) total += (await stat(join(dir, name))).size;
  return total;
}

/** Bytes per kind of LevelDB file: tables (.ldb/.sst), write-ahead log (.log), the rest. */
async function dirBreakdown(dir: string): Promise<string> {
  const by: Record<string, number> = { tables: 0, log: 0, other: 0 };
  for (const name of await readdir(dir)) {
    const size = (await stat(join(dir, name))).size;
    const kind = /\.(ldb|sst)$/.test(name) ? 'tables' : name.endsWith('.log') && name !== 'LOG' ? 'log' : 'other';
    by[kind] = (by[kind] ?? 0) + size;
  }
  return Object.entries(by).map(([k, v]) => `${k} ${fmt(v)}`).join(', ');
}

// ---------------------------------------------------------------------------------------
// 0. Data set

interface DataSet {
  readonly file: string;
  readonly lines: number;
  readonly envelopeBytes: number;
  readonly hotDigest: string;
  /** Issuer dids in generation order. */
  readonly issuers: readonly string[];
}

const DAY = 86_400_000;

function kindFor(r: number): PredicateKind {
  if (r < 0.7) return 'audit';
  if (r < 0.8) return 'license';
  if (r < 0.9) return 'payload';
  return 'lineage';
}

/** Predicate fields (no header) for one attestation; built here, not with exampleFields, which makes a key per call. */
function fieldsFor(kind: PredicateKind, rand: () => number): Record<string, unknown> {
  const r = rand();
  switch (kind) {
    case 'audit':
      return {
        harness: { name: 'lm-eval', version: '0.4.2' },
        metrics: { refusal_rate: Math.round(r * 1000) / 1000 },
        verdict: r < 0.8 ? 'pass' : r < 0.95 ? 'warn' : 'fail',
      };
    case 'license':
      return { declared: 'Apache-2.0', detected: ['Apache-2.0'], verdict: r < 0.85 ? 'compliant' : r < 0.95 ? 'unknown' : 'noncompliant' };
    case 'payload':
      return r < 0.9
        ? { scanner: { name: 'picklescan', version: '0.0.14' }, finding: { kind: 'clean', description: 'no findings' }, severity: 'info' }
        : { scanner: { name: 'picklescan', version: '0.0.14' }, finding: { kind: 'pickle-exec', description: 'os.system in data.pkl' }, severity: 'critical' };
    case 'lineage':
      return { derivedFrom: [{ digest: { sha256: sha256Hex(`chorus-bench-base-${Math.floor(r * 100)}`) }, relation: 'quantized' }] };
    default:
      throw new Error(`no bench fields for ${kind}`);
  }
}

/** Signs every envelope up front and writes them, one JSON line each, to a temp file. */
async function generate(dir: string): Promise<DataSet> {
  const rand = prng(0xc40c05);
  const issuers: TestIssuer[] = [];
  for (let i = 0; i < ISSUERS; i++) issuers.push(makeIssuer(Buffer.from(sha256Hex(`chorus-bench-issuer-${i}`), 'hex')));
  const hotDigest = sha256Hex('chorus-bench-hot-digest');
  const cold: string[] = [];
  for (let k = 0; k < COLD_DIGESTS; k++) cold.push(sha256Hex(`chorus-bench-digest-${k}`));

  const file = join(dir, 'envelopes.jsonl');
  const fd = openSync(file, 'w');
  const now = Date.now();
  let envelopeBytes = 0;
  let lines = 0;
  let batch: string[] = [];
  const t0 = performance.now();
  try {
    // Round-robin over issuers, as a mixed feed would arrive; each issuer's one attestation
    // about the hot digest sits at a different position so the hot digest is spread out.
    for (let j = 0; j < PER_ISSUER; j++) {
      for (let i = 0; i < ISSUERS; i++) {
        const issuer = issuers[i] as TestIssuer;
        const hot = j === i % PER_ISSUER;
        const kind = hot ? 'audit' : kindFor(rand());
        const issuedAt = new Date(now - 120_000 - Math.floor(rand() * 30 * DAY));
        const expiring = rand() < 0.1;
        const line = makeEnvelopeLine(issuer, {
          subjects: [hot ? hotDigest : (cold[Math.floor(rand() * COLD_DIGESTS)] as string)],
          kind,
          fields: fieldsFor(kind, rand),
          issuedAt,
          ...(expiring ? { expiresAt: new Date(now + 365 * DAY) } : {}),
        });
        envelopeBytes += Buffer.byteLength(line);
        batch.push(line);
        lines++;
        if (batch.length >= 1_000) {
          writeSync(fd, batch.join('\n') + '\n');
          batch = [];
        }
        if (lines % 10_000 === 0) log(`generated ${fmt(lines)}/${fmt(TOTAL)} envelopes (${fmt(lines / ((performance.now() - t0) / 1000))}/s)`);
      }
    }
    if (batch.length > 0) writeSync(fd, batch.join('\n') + '\n');
  } finally {
    closeSync(fd);
  }
  return { file, lines, envelopeBytes, hotDigest, issuers: issuers.map((x) => x.did) };
}

// ---------------------------------------------------------------------------------------
// 1-3. Import

interface ImportResult {
  readonly seconds: number;
  readonly cpuSeconds: number;
  readonly accepted: number;
  readonly byCode: Record<string, number>;
  readonly rssBaselineMB: number;
  readonly rssPeakSampledMB: number;
  readonly rssAfterMB: number;
  readonly heapBaselineMB: number;
  readonly heapAfterMB: number;
  readonly maxRssMB: number;
  readonly samples: number;
  readonly storeWriteSeconds: number;
  readonly storeReadSeconds: number;
  readonly diskBytesOpen: number;
  readonly diskBytesClosed: number;
  readonly diskBreakdown: string;
}

async function* envelopeLines(file: string): AsyncGenerator<Buffer> {
  const stream = createReadStream(file, { highWaterMark: 1 << 20 });
  for await (const line of readLines(stream, DEFAULT_LIMITS.maxEnvelopeBytes)) {
    if (line.bytes !== undefined && line.bytes.length > 0) yield line.bytes;
  }
}

async function runImport(data: DataSet, storeDir: string): Promise<ImportResult> {
  const store = await AttestationStore.open(storeDir);
  // Time spent in the store, measured around the two store calls the ingestor makes per
  // chunk (a few microseconds of overhead per 512 inputs).
  let storeWrite = 0;
  let storeRead = 0;
  const putAccepted = store.putAccepted.bind(store);
  const hasMany = store.hasMany.bind(store);
  store.putAccepted = async (atts, receivedAt) => {
    const t = performance.now();
    try {
      return await putAccepted(atts, receivedAt);
    } finally {
      storeWrite += performance.now() - t;
    }
  };
  store.hasMany = async (ids) => {
    const t = performance.now();
    try {
      return await hasMany(ids);
    } finally {
      storeRead += performance.now() - t;
    }
  };
  let ingestor: Ingestor | undefined = new Ingestor({ store, suite: nativeSuite(), limits: DEFAULT_LIMITS });

  collect();
  const rssBaselineMB = rssMB();
  const heapBaselineMB = process.memoryUsage().heapUsed / MB;
  let peak = rssBaselineMB;
  let samples = 0;
  const timer = setInterval(() => {
    samples++;
    peak = Math.max(peak, rssMB());
  }, RSS_SAMPLE_MS);

  // The path `chorus import` takes: importLines = readLines + Ingestor.ingestMany.
  let lastReport = 0;
  const t0 = performance.now();
  const sw = stopwatch();
  const tally = await importLines(ingestor, createReadStream(data.file, { highWaterMark: 1 << 20 }), {
    maxEnvelopeBytes: DEFAULT_LIMITS.maxEnvelopeBytes,
    show: 5,
    onProgress: (_t, done) => {
      peak = Math.max(peak, rssMB());
      if (done - lastReport >= 10_000) {
        lastReport = done;
        log(`imported ${fmt(done)}/${fmt(data.lines)} (${fmt(done / ((performance.now() - t0) / 1000))}/s, rss ${fmt(rssMB())} MB)`);
      }
    },
  });
  const { wall: seconds, cpu: cpuSeconds } = sw();
  clearInterval(timer);
  peak = Math.max(peak, rssMB());
  const rssAfterMB = rssMB();
  const maxRssMB = (process.resourceUsage().maxRSS * 1024) / MB;
  collect();
  const heapAfterMB = process.memoryUsage().heapUsed / MB;
  if (tally.lines !== data.lines) log(`warning: ${tally.lines} lines imported of ${data.lines}`);
  for (const p of tally.problems) log(`problem: line ${p.line} ${p.outcome} ${p.code}: ${p.message}`);
  const accepted = tally.accepted;
  const byCode: Record<string, number> = { accepted, ...tally.byCode };
  // The heap is measured again by the caller once the Ingestor is unreachable.
  ingestor = undefined;

  const diskBytesOpen = await store.diskBytes();
  await store.close();
  const diskBytesClosed = await dirBytes(storeDir);
  const diskBreakdown = await dirBreakdown(storeDir);
  return {
    seconds, cpuSeconds, accepted, byCode, rssBaselineMB, rssPeakSampledMB: peak, rssAfterMB, heapBaselineMB, heapAfterMB, maxRssMB, samples,
    storeWriteSeconds: storeWrite / 1000, storeReadSeconds: storeRead / 1000, diskBytesOpen, diskBytesClosed, diskBreakdown,
  };
}

// ---------------------------------------------------------------------------------------
// 1 (reference) and breakdown: raw verify, verifyEnvelope alone, verifyEnvelope sans crypto

interface Prepared {
  readonly msgs: Buffer[];
  readonly keys: KeyObject[];
  readonly sigs: Buffer[];
}

async function prepareRaw(file: string, limit = Infinity): Promise<Prepared> {
  const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
  const keyCache = new Map<string, KeyObject>();
  const msgs: Buffer[] = [];
  const keys: KeyObject[] = [];
  const sigs: Buffer[] = [];
  for await (const line of envelopeLines(file)) {
    const env = JSON.parse(line.toString('utf8')) as Envelope;
    const sig = env.signatures[0];
    if (sig === undefined) throw new Error('envelope without a signature');
    const payload = decodeBase64(env.payload);
    if (payload === undefined) throw new Error('bad payload base64');
    let key = keyCache.get(sig.keyid);
    if (key === undefined) {
      const pub = publicKeyFromDidKey(sig.keyid);
      if (pub === undefined) throw new Error(`bad keyid ${sig.keyid}`);
      key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, pub]), format: 'der', type: 'spki' });
      keyCache.set(sig.keyid, key);
    }
    msgs.push(Buffer.from(pae(env.payloadType, payload)));
    keys.push(key);
    sigs.push(Buffer.from(decodeBase64(sig.sig) ?? new Uint8Array()));
    if (msgs.length >= limit) break;
  }
  return { msgs, keys, sigs };
}

/** The raw node:crypto verify rate, single core, tight loop. */
function rawVerifyRate(p: Prepared): { rate: number; cpuRate: number; ok: number } {
  let ok = 0;
  const n = p.msgs.length;
  const sw = stopwatch();
  for (let i = 0; i < n; i++) {
    if (verify(null, p.msgs[i] as Buffer, p.keys[i] as KeyObject, p.sigs[i] as Buffer)) ok++;
  }
  const t = sw();
  return { rate: n / t.wall, cpuRate: n / t.cpu, ok };
}

/** verifyEnvelope alone (no store, no semantics), in a tight loop over the same inputs. */
function verifyEnvelopeRate(inputs: readonly Buffer[], suite: CryptoSuite): { rate: number; cpuRate: number } {
  let ok = 0;
  const sw = stopwatch();
  for (const input of inputs) {
    try {
      verifyEnvelope(input, suite, DEFAULT_LIMITS);
      ok++;
    } catch {
      // counted below
    }
  }
  const t = sw();
  if (ok !== inputs.length) log(`warning: verifyEnvelope rejected ${inputs.length - ok} of ${inputs.length}`);
  return { rate: inputs.length / t.wall, cpuRate: inputs.length / t.cpu };
}

async function readAllLines(file: string, limit: number): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const b of envelopeLines(file)) {
    out.push(b);
    if (out.length >= limit) break;
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// 4. Query

interface QueryResult {
  readonly items: number;
  readonly coldMs: number;
  readonly p50: number;
  readonly p99: number;
  readonly mean: number;
  readonly cpuMean: number;
  readonly min: number;
  readonly max: number;
  readonly storeP50: number;
  readonly viewP50: number;
  readonly status: string;
}

async function runQuery(storeDir: string, data: DataSet): Promise<QueryResult> {
  const store = await AttestationStore.open(storeDir);
  try {
    const policy = TrustGraph.compute(TrustPolicyFile.parse({ version: 2, roots: data.issuers.filter((_, i) => i % 2 === 0).map((issuer) => ({ issuer })) }), [], Date.now());
    const once = async (): Promise<{ total: number; store: number; view: number; items: number; status: string }> => {
      const t0 = performance.now();
      const page = await store.bySubject(data.hotDigest);
      const t1 = performance.now();
      const view = reputationView(data.hotDigest, page.items, policy, Date.now());
      const t2 = performance.now();
      return { total: t2 - t0, store: t1 - t0, view: t2 - t1, items: page.items.length, status: view.status };
    };
    const first = await once();
    for (let i = 1; i < QUERY_WARMUP; i++) await once();
    const totals: number[] = [];
    const stores: number[] = [];
    const views: number[] = [];
    let status = first.status;
    const sw = stopwatch();
    for (let i = 0; i < QUERY_RUNS; i++) {
      const r = await once();
      totals.push(r.total);
      stores.push(r.store);
      views.push(r.view);
      status = r.status;
      if (r.items !== first.items) log(`warning: query returned ${r.items} items, first returned ${first.items}`);
    }
    const cpuMean = (sw().cpu * 1000) / QUERY_RUNS;
    totals.sort((a, b) => a - b);
    stores.sort((a, b) => a - b);
    views.sort((a, b) => a - b);
    return {
      items: first.items,
      coldMs: first.total,
      p50: percentile(totals, 0.5),
      p99: percentile(totals, 0.99),
      mean: totals.reduce((s, x) => s + x, 0) / totals.length,
      cpuMean,
      min: totals[0] as number,
      max: totals[totals.length - 1] as number,
      storeP50: percentile(stores, 0.5),
      viewP50: percentile(views, 0.5),
      status,
    };
  } finally {
    await store.close();
  }
}

/**
 * The query as the node serves it (CLI and API): LocalNode.view, which keeps recently
 * asked digests' decoded attestations in memory until a commit touches them.
 */
async function runServedQuery(storeDir: string, data: DataSet): Promise<{ cold: number; p50: number; p99: number }> {
  const root = await mkdtemp(join(tmpdir(), 'chorus-bench-home-'));
  const home = { ...resolveHome({}, root), store: storeDir };
  try {
    await initHome(home);
    await writePolicy(home.trust, TrustPolicyFile.parse({ version: 2, roots: data.issuers.filter((_, i) => i % 2 === 0).map((issuer) => ({ issuer })) }));
    const node = await LocalNode.open(home, { env: {} });
    try {
      let t = performance.now();
      await node.view(data.hotDigest);
      const cold = performance.now() - t;
      const times: number[] = [];
      for (let i = 0; i < QUERY_RUNS; i++) {
        t = performance.now();
        await node.view(data.hotDigest);
        times.push(performance.now() - t);
      }
      times.sort((x, y) => x - y);
      return { cold, p50: percentile(times, 0.5), p99: percentile(times, 0.99) };
    } finally {
      await node.close();
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

/** Compacts the whole key space, to see the store's steady-state size (informational). */
async function compactedBytes(storeDir: string): Promise<number> {
  const db = new Level<Buffer, Buffer>(storeDir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  await db.open();
  try {
    // On Node `level` is classic-level, which has compactRange.
    await (db as unknown as { compactRange(a: Buffer, b: Buffer): Promise<void> }).compactRange(Buffer.alloc(0), Buffer.alloc(64, 0xff));
  } finally {
    await db.close();
  }
  return dirBytes(storeDir);
}

// ---------------------------------------------------------------------------------------
// 5. Hash

interface HashResult {
  readonly shaSeconds: number;
  readonly chorusSeconds: number;
  readonly match: boolean;
}

async function runHash(dir: string): Promise<HashResult> {
  const file = join(dir, 'model.bin');
  log(`writing a ${HASH_FILE_BYTES / 1024 ** 3} GiB file`);
  {
    let block: Buffer | undefined = randomBytes(HASH_BLOCK);
    const fd = openSync(file, 'w');
    try {
      for (let written = 0; written < HASH_FILE_BYTES; written += HASH_BLOCK) writeSync(fd, block);
    } finally {
      closeSync(fd);
    }
    block = undefined;
  }
  collect();
  const env = { ...process.env, CHORUS_HOME: join(dir, 'home') };
  try {
    let sha = Infinity;
    let chorus = Infinity;
    let shaDigest = '';
    let chorusDigest = '';
    for (let round = 1; round <= 2; round++) {
      log(`hash round ${round}: sha256sum`);
      const a = timeChild('sha256sum', [file], env);
      sha = Math.min(sha, a.seconds);
      shaDigest = a.stdout.split(/\s+/)[0] ?? '';
      log(`hash round ${round}: chorus hash`);
      const b = timeChild(process.execPath, [CLI, 'hash', file], env);
      chorus = Math.min(chorus, b.seconds);
      chorusDigest = (b.stdout.split(/\s+/)[0] ?? '').replace(/^sha256:/, '');
    }
    return { shaSeconds: sha, chorusSeconds: chorus, match: shaDigest.length === 64 && shaDigest === chorusDigest };
  } finally {
    await rm(file, { force: true });
  }
}

// ---------------------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'chorus-bench-'));
  const storeDir = join(dir, 'store');
  const rows: Row[] = [];
  const out = (s = ''): void => {
    process.stdout.write(`${s}\n`);
  };
  try {
    out(`Chorus ingest benchmark${QUICK ? ' (--quick)' : ''}`);
    out(`${machine()}, gc exposed: ${gc !== undefined}`);
    out(`load average at start: ${loadAverage()} (other processes on the machine skew every figure; compare only within a run)`);
    out(`data set: ${fmt(TOTAL)} attestations from ${fmt(ISSUERS)} issuers (${PER_ISSUER} each); one digest with ${fmt(HOT)}, the rest over ${fmt(COLD_DIGESTS)} digests`);
    out();

    // Generated in a child process so that the signing work's memory does not sit in this
    // process's RSS before the import is measured.
    log(`signing ${fmt(TOTAL)} envelopes into ${dir} (child process)`);
    const tg = performance.now();
    const data = generateInChild(dir);
    log(`generated ${fmt(data.lines)} envelopes, ${fmt(data.envelopeBytes / MB, 1)} MB, in ${((performance.now() - tg) / 1000).toFixed(1)} s`);

    // A first look at the raw verify rate on a sample, to see drift between here and the
    // full reference measured after the import.
    let rawBefore: number;
    {
      const sample = await prepareRaw(data.file, Math.min(data.lines, 5_000));
      rawVerifyRate({ msgs: sample.msgs.slice(0, 1000), keys: sample.keys.slice(0, 1000), sigs: sample.sigs.slice(0, 1000) });
      rawBefore = rawVerifyRate(sample).rate;
    }
    collect();

    // 1-3. Import
    log('importing');
    const imp = await runImport(data, storeDir);
    collect();
    const heapAfterReleaseMB = process.memoryUsage().heapUsed / MB;
    const importRate = data.lines / imp.seconds;
    out('1. Bulk import (Ingestor -> AttestationStore on LevelDB, input streamed from JSONL via readLines)');
    out(`   ${fmt(data.lines)} lines in ${imp.seconds.toFixed(2)} s: ${fmt(importRate)} attestations/s; ${fmt(imp.accepted)} accepted; decisions by code: ${JSON.stringify(imp.byCode)}`);
    out(`   time in store calls during the import: putAccepted ${imp.storeWriteSeconds.toFixed(2)} s (${pct(imp.storeWriteSeconds / imp.seconds)}), hasMany ${imp.storeReadSeconds.toFixed(2)} s (${pct(imp.storeReadSeconds / imp.seconds)})`);

    // Reference, measured right after the import, on the same envelopes.
    log('measuring the raw verify rate of the same envelopes');
    let raw: { rate: number; cpuRate: number; ok: number };
    {
      const prepared = await prepareRaw(data.file);
      rawVerifyRate({ msgs: prepared.msgs.slice(0, 1000), keys: prepared.keys.slice(0, 1000), sigs: prepared.sigs.slice(0, 1000) }); // warm-up
      raw = rawVerifyRate(prepared);
    }
    collect();
    const importRatio = importRate / raw.rate;
    const importCpuRate = data.lines / imp.cpuSeconds;
    out(`   reference: raw node:crypto verify(null, PAE, KeyObject, sig) of the same ${fmt(data.lines)} envelopes, single core: ${fmt(raw.rate)}/s (${fmt(raw.ok)} verified)`);
    out(`   (drift check: raw verify rate on the first ${fmt(Math.min(data.lines, 5_000))} envelopes just before the import: ${fmt(rawBefore)}/s)`);
    out(`   per CPU-second (less sensitive to other load; import counts all its threads, LevelDB's included): import ${fmt(importCpuRate)}/s, raw verify ${fmt(raw.cpuRate)}/s, ratio ${pct(importCpuRate / raw.cpuRate)}`);
    out(`   import / raw verify = ${pct(importRatio)}   goal >= ${pct(GOALS.importRatio)}   ${mark(importRatio >= GOALS.importRatio)}`);
    rows.push({
      figure: '1. import rate', measured: `${fmt(importRate)} att/s`, reference: `raw verify ${fmt(raw.rate)}/s`,
      ratio: pct(importRatio), goal: `>= ${pct(GOALS.importRatio)}`, result: mark(importRatio >= GOALS.importRatio),
    });

    // Breakdown: where the time per attestation goes.
    log('breakdown: verifyEnvelope alone, and without the signature check');
    {
      const inputs = await readAllLines(data.file, Math.min(data.lines, 50_000));
      const native = nativeSuite();
      verifyEnvelopeRate(inputs.slice(0, 1000), native); // warm-up
      const ve = verifyEnvelopeRate(inputs, native);
      const noCrypto: CryptoSuite = { name: 'no-verify', sha256: native.sha256, verify: () => true };
      verifyEnvelopeRate(inputs.slice(0, 1000), noCrypto);
      const nc = verifyEnvelopeRate(inputs, noCrypto);
      const us = (rate: number): string => `${(1e6 / rate).toFixed(1).padStart(7)} µs`;
      const storeUs = ((imp.storeWriteSeconds + imp.storeReadSeconds) * 1e6) / data.lines;
      out(`   where the time goes, per attestation (CPU time; verifyEnvelope loops over the first ${fmt(inputs.length)} envelopes, no store):`);
      out(`     import, whole path (all threads)           ${us(importCpuRate)}   wall ${us(importRate).trim()}`);
      out(`     verifyEnvelope (decode, schema, sig, id)   ${us(ve.cpuRate)}`);
      out(`       raw Ed25519 verify (reference)           ${us(raw.cpuRate)}`);
      out(`       verifyEnvelope with verify stubbed out   ${us(nc.cpuRate)}`);
      out(`     import minus verifyEnvelope                ${(1e6 / importCpuRate - 1e6 / ve.cpuRate).toFixed(1).padStart(7)} µs   (store, LevelDB threads, line reading, semantics, gc)`);
      out(`     wall time inside hasMany + putAccepted     ${storeUs.toFixed(1).padStart(7)} µs   (includes waiting for the fsync of each batch)`);
    }
    collect();
    out();

    // 2. Store size
    const storeRatio = imp.diskBytesClosed / data.envelopeBytes;
    out('2. Store size');
    out(`   envelope lines: ${fmt(data.envelopeBytes)} bytes (${fmt(data.envelopeBytes / data.lines)} per attestation)`);
    out(`   LevelDB dir: ${fmt(imp.diskBytesOpen)} bytes via store.diskBytes() while open, ${fmt(imp.diskBytesClosed)} bytes after close (${fmt(imp.diskBytesClosed / data.lines)} per attestation)`);
    out(`   after close, by file kind: ${imp.diskBreakdown} bytes (LevelDB keeps the last write-ahead log uncompacted until the next open)`);
    out(`   store / envelope bytes (after close, no manual compaction) = ${storeRatio.toFixed(2)}   goal <= ${GOALS.storeRatio}   ${mark(storeRatio <= GOALS.storeRatio)}`);
    rows.push({
      figure: '2. store bytes / envelope bytes', measured: `${fmt(imp.diskBytesClosed / data.lines)} B/att`, reference: `envelope ${fmt(data.envelopeBytes / data.lines)} B/att`,
      ratio: storeRatio.toFixed(2), goal: `<= ${GOALS.storeRatio}`, result: mark(storeRatio <= GOALS.storeRatio),
    });
    out();

    // 3. Memory
    const rssPass = imp.rssPeakSampledMB < GOALS.peakRssMB;
    out('3. Memory during the import');
    out(`   RSS baseline before import (after gc): ${fmt(imp.rssBaselineMB)} MB`);
    out(`   peak RSS during import: ${fmt(imp.rssPeakSampledMB)} MB (${imp.samples} samples every ${RSS_SAMPLE_MS} ms plus one per committed chunk); RSS right after: ${fmt(imp.rssAfterMB)} MB`);
    out(`   process maxRSS so far (includes generation): ${fmt(imp.maxRssMB)} MB`);
    out(`   V8 heap used (after gc): ${fmt(imp.heapBaselineMB)} MB before the import, ${fmt(imp.heapAfterMB)} MB after it with the Ingestor still alive, ${fmt(heapAfterReleaseMB)} MB once the Ingestor is dropped`);
    out(`   peak ${fmt(imp.rssPeakSampledMB)} MB   goal < ${GOALS.peakRssMB} MB   ${mark(rssPass)}`);
    rows.push({
      figure: '3. peak RSS during import', measured: `${fmt(imp.rssPeakSampledMB)} MB`, reference: `baseline ${fmt(imp.rssBaselineMB)} MB`,
      ratio: `+${fmt(imp.rssPeakSampledMB - imp.rssBaselineMB)} MB`, goal: `< ${GOALS.peakRssMB} MB`, result: mark(rssPass),
    });
    out();

    // 4. Query
    log('querying');
    const q = await runQuery(storeDir, data);
    const served = await runServedQuery(storeDir, data);
    const qPass = served.p99 < GOALS.queryP99Ms;
    out(`4. Query: store.bySubject(hot digest) + reputationView, trust policy of ${fmt(ISSUERS / 2)} issuers, ${QUERY_RUNS} runs after ${QUERY_WARMUP} warm-up`);
    out(`   ${fmt(q.items)} attestations per answer, status ${q.status}; first (cold) query ${q.coldMs.toFixed(2)} ms`);
    out(`   p50 ${q.p50.toFixed(2)} ms (bySubject ${q.storeP50.toFixed(2)} + reputationView ${q.viewP50.toFixed(2)}), p99 ${q.p99.toFixed(2)} ms, mean ${q.mean.toFixed(2)} ms, min ${q.min.toFixed(2)} ms, max ${q.max.toFixed(2)} ms`);
    out(`   CPU time per query (process, all threads): ${q.cpuMean.toFixed(2)} ms on average`);
    out(`   as the node serves it (LocalNode.view, recently asked digests kept decoded until a commit touches them):`);
    out(`   first (store read) ${served.cold.toFixed(2)} ms, then p50 ${served.p50.toFixed(2)} ms, p99 ${served.p99.toFixed(2)} ms over ${QUERY_RUNS} runs`);
    out(`   served p99 ${served.p99.toFixed(2)} ms   goal < ${GOALS.queryP99Ms} ms   ${mark(qPass)}   (store-read path p99 ${q.p99.toFixed(2)} ms)`);
    rows.push({
      figure: `4. query p99 (${fmt(q.items)} atts)`, measured: `p99 ${served.p99.toFixed(2)} ms served`, reference: `store read p50 ${q.p50.toFixed(2)} / p99 ${q.p99.toFixed(2)} ms`,
      ratio: '-', goal: `< ${GOALS.queryP99Ms} ms`, result: mark(qPass),
    });

    log('compacting the store (informational)');
    const compacted = await compactedBytes(storeDir);
    out();
    out(`   (informational) after a full manual compaction the LevelDB dir is ${fmt(compacted)} bytes: ${(compacted / data.envelopeBytes).toFixed(2)}x the envelope bytes`);
    out();

    // 5. Hash
    if (QUICK) {
      out('5. chorus hash vs sha256sum: skipped (--quick)');
      rows.push({ figure: '5. chorus hash 1 GiB', measured: 'skipped', reference: 'skipped', ratio: '-', goal: `>= ${pct(GOALS.hashRatio)}`, result: 'SKIP' });
    } else {
      const h = await runHash(dir);
      const shaRate = HASH_FILE_BYTES / MB / h.shaSeconds;
      const chorusRate = HASH_FILE_BYTES / MB / h.chorusSeconds;
      const ratio = chorusRate / shaRate;
      out('5. Hash of a 1 GiB file (best of 2, page cache warm, child processes incl. start-up)');
      out(`   sha256sum: ${h.shaSeconds.toFixed(2)} s = ${fmt(shaRate)} MB/s; chorus hash: ${h.chorusSeconds.toFixed(2)} s = ${fmt(chorusRate)} MB/s; digests ${h.match ? 'match' : 'DIFFER'}`);
      out(`   chorus / sha256sum = ${pct(ratio)}   goal >= ${pct(GOALS.hashRatio)}   ${mark(ratio >= GOALS.hashRatio)}`);
      rows.push({
        figure: '5. chorus hash 1 GiB', measured: `${fmt(chorusRate)} MB/s`, reference: `sha256sum ${fmt(shaRate)} MB/s`,
        ratio: pct(ratio), goal: `>= ${pct(GOALS.hashRatio)}`, result: mark(ratio >= GOALS.hashRatio),
      });
    }
    out();
    out(`load average at end: ${loadAverage()}`);
    out();
    out('Summary (MB = 10^6 bytes)');
    out(ratioTable(rows, 'result'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Runs `generate` in a child process (this script with --generate DIR); returns its result. */
function generateInChild(dir: string): DataSet {
  return childJson<DataSet>([fileURLToPath(import.meta.url), GENERATE_FLAG, dir, ...(QUICK ? ['--quick'] : [])]);
}

const GENERATE_FLAG = '--generate';
const generateAt = process.argv.indexOf(GENERATE_FLAG);

runMain(generateAt >= 0
  ? generate(process.argv[generateAt + 1] ?? '.').then((d) => {
      process.stdout.write(JSON.stringify(d));
    })
  : main());
