/**
 * HDF5 reader measurement (not a test): which library reads a legacy Keras `.h5`'s root
 * attributes for the scanner, by time and peak memory. `npm run build --silent && node
 * dist/test/bench/hdf5-readers.js` (add `--quick` for a 64 MiB file instead of 300 MiB).
 * Prints figures and exits 0 whatever they are.
 *
 * Candidates, each measured in a fresh child process (peak RSS is the process's, worker
 * threads included):
 *   - jsfive (pure JavaScript): it needs the file as one ArrayBuffer, so the first
 *     `hdf5Bytes` (64 MiB) are read into memory and handed to it; the root attributes read.
 *   - h5wasm (the HDF5 C library in WebAssembly), as the scanner uses it: `inspectFile`, the
 *     library in a worker thread reading a virtual file whose pages are fetched on demand.
 *     Cold (worker start and WebAssembly compile included) and warm (a second file).
 * Files, written by h5wasm: (a) a 1 MiB Keras 2 `.h5` (config, then weights), (b) 300 MiB of
 * weights after the config, (c) the config after 300 MiB of weights (h5py adding an attribute
 * to an existing file), and layouts for a correctness table: superblock 3 with the config in
 * dense attribute storage (over 64 KiB), a variable-length string config, a 512-byte user block.
 *
 * Internally `--child CANDIDATE FILE` runs one measurement and prints one JSON line.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { INSPECT_LIMITS } from '../../node/scan/inspect/constants.js';
import { inspectFile } from '../../node/scan/inspect/index.js';
import { kerasH5, save, sequentialLambda, trainingConfig, withUserBlock } from '../fixtures/scan/hdf5-builders.js';

const MiB = 1024 * 1024;

interface ChildResult {
  readonly candidate: string;
  readonly initMs?: number;
  readonly readMs?: number;
  readonly warmMs?: number;
  readonly baseRssMiB: number;
  readonly peakRssMiB: number;
  /** What it read: the model_config's length, or the scanner's finding kinds, or the error. */
  readonly result: string;
}

async function child(candidate: string, file: string): Promise<ChildResult> {
  const baseRssMiB = process.memoryUsage().rss / MiB;
  // VmHWM, not getrusage's maxRSS: Linux carries maxRSS over exec from the forked parent.
  const peak = (): number => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0) / 1024;
  if (candidate === 'baseline') return { candidate, baseRssMiB, peakRssMiB: peak(), result: '' };
  if (candidate === 'jsfive') {
    const t0 = performance.now();
    let lib: { File: new (buf: ArrayBuffer, name?: string) => { attrs: Record<string, unknown> } };
    try {
      lib = (await import('jsfive' as string)) as typeof lib;
    } catch (e) {
      return { candidate, baseRssMiB, peakRssMiB: peak(), result: `not installed (${(e as Error).message.slice(0, 60)})` };
    }
    const initMs = performance.now() - t0;
    const t1 = performance.now();
    let result: string;
    try {
      const size = statSync(file).size;
      const n = Math.min(size, INSPECT_LIMITS.hdf5Bytes);
      const ab = new ArrayBuffer(n);
      const fd = openSync(file, 'r');
      try {
        for (let got = 0; got < n; ) {
          const r = readSync(fd, new Uint8Array(ab, got, n - got), 0, n - got, got);
          if (r === 0) break;
          got += r;
        }
      } finally {
        closeSync(fd);
      }
      const attrs = new lib.File(ab, file).attrs;
      const mc = attrs['model_config'];
      result = typeof mc === 'string' ? `model_config ${mc.length} chars` : `no model_config (attributes: ${Object.keys(attrs).join(', ') || 'none'})`;
    } catch (e) {
      result = `error: ${String(e instanceof Error ? e.message : e).slice(0, 80)}`;
    }
    return { candidate, initMs, readMs: performance.now() - t1, baseRssMiB, peakRssMiB: peak(), result };
  }
  if (candidate === 'h5wasm-init') {
    // The WebAssembly module alone, in this thread: what any h5wasm reader pays once.
    const t0 = performance.now();
    const factory = ((await import(new URL('./hdf5_util.js', import.meta.resolve('h5wasm')).href)) as { default: (a: object) => Promise<unknown> }).default;
    await factory({ noInitialRun: true });
    return { candidate, initMs: performance.now() - t0, baseRssMiB, peakRssMiB: peak(), result: 'instantiated' };
  }
  // h5wasm, as the scanner reads: inspectFile, twice (cold, then warm).
  const t0 = performance.now();
  const cold = await inspectFile(file);
  const readMs = performance.now() - t0;
  const t1 = performance.now();
  await inspectFile(file);
  const warmMs = performance.now() - t1;
  const kinds = cold.findings.map((f) => f.kind).join(',') || 'no findings';
  return { candidate, readMs, warmMs, baseRssMiB, peakRssMiB: peak(), result: `${kinds}; meta ${JSON.stringify(cold.meta).slice(0, 120)}` };
}

function measure(candidate: string, file: string): ChildResult {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', candidate, file], { encoding: 'utf8', maxBuffer: 16 * MiB });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as ChildResult;
  } catch {
    return { candidate, baseRssMiB: 0, peakRssMiB: 0, result: `child failed (${r.status}): ${r.stderr.slice(0, 200)}` };
  }
}

const fmt = (n: number | undefined, d = 1): string => (n === undefined ? '-' : n.toFixed(d));

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const bigMiB = quick ? 64 : 300;
  const dir = await mkdtemp(join(tmpdir(), 'chorus-hdf5-bench-'));
  try {
    const config = sequentialLambda();
    const floatsPerMiB = MiB / 4;
    console.log(`Writing fixtures in ${dir} (h5wasm)…`);
    const files: [string, string][] = [
      ['(a) 1 MiB Keras .h5', await save(join(dir, 'a-1mib.h5'), await kerasH5({ modelConfig: config, trainingConfig: trainingConfig(), weights: floatsPerMiB }))],
      [`(b) ${bigMiB} MiB, weights after the config`, await save(join(dir, 'b-big.h5'), await kerasH5({ modelConfig: config, trainingConfig: trainingConfig(), weights: bigMiB * floatsPerMiB }))],
      [`(c) ${bigMiB} MiB, config after the weights`, await save(join(dir, 'c-late.h5'), await kerasH5({ modelConfig: config, weights: bigMiB * floatsPerMiB, configAfterWeights: true }))],
    ];
    const layouts: [string, string][] = [
      ['superblock 3, 100 KB config (dense attributes)', await save(join(dir, 'dense.h5'), await kerasH5({ libver: 'latest', modelConfig: { ...config, padding: 'x'.repeat(100_000) } }))],
      ['variable-length string config', await save(join(dir, 'vlen.h5'), await kerasH5({ configStorage: 'vlen', modelConfig: config }))],
      ['512-byte user block', await save(join(dir, 'userblock.h5'), withUserBlock(await kerasH5({ modelConfig: config })))],
    ];

    const base = measure('baseline', files[0]?.[1] ?? '');
    console.log(`\nNode ${process.version}; an empty child process: RSS ${fmt(base.peakRssMiB)} MiB peak.`);
    const init = measure('h5wasm-init', '');
    console.log(`h5wasm's WebAssembly module alone, instantiated in the main thread: ${fmt(init.initMs)} ms, peak RSS ${fmt(init.peakRssMiB)} MiB.`);
    console.log('\nTime and peak RSS (one fresh process each, peak RSS = VmHWM; init = loading the library; read = open + root attributes):');
    console.log(['file', 'candidate', 'size MiB', 'init ms', 'read ms', 'warm ms', 'peak RSS MiB', 'result'].join(' | '));
    for (const [label, file] of files) {
      const size = statSync(file).size / MiB;
      for (const candidate of ['jsfive', 'h5wasm']) {
        const r = measure(candidate, file);
        console.log([label, candidate === 'h5wasm' ? 'h5wasm (inspectFile: worker, paged)' : 'jsfive (64 MiB prefix)', fmt(size), fmt(r.initMs), fmt(r.readMs), fmt(r.warmMs), fmt(r.peakRssMiB), r.result].join(' | '));
      }
    }
    console.log('\nCorrectness on layouts h5py writes (a reader that misses model_config would call a Lambda model clean):');
    for (const [label, file] of layouts) {
      for (const candidate of ['jsfive', 'h5wasm']) console.log([label, candidate, measure(candidate, file).result].join(' | '));
    }
    console.log('\nh5wasm "read ms" is cold: it includes starting the worker thread and compiling the WebAssembly (once per process); "warm ms" is the next file.');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--child') {
  const r = await child(process.argv[3] ?? '', process.argv[4] ?? '');
  console.log(JSON.stringify(r));
  process.exit(0);
} else {
  await main();
}
