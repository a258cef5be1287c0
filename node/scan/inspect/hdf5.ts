import { Worker } from 'node:worker_threads';
import type { InspectLimits } from './constants.js';
import { inspectKerasConfig } from './keras.js';
import type { ByteSource } from './source.js';
import type { Finding } from './types.js';

/** What inspecting an HDF5 file found. `meta` holds format facts (the Keras version, layer count…). */
export interface Hdf5Inspection {
  readonly findings: Finding[];
  readonly meta: Record<string, unknown>;
}

const KiB = 1024;
const MiB = 1024 * KiB;

/**
 * Bounds of the HDF5 reader, beside `hdf5Bytes` (bytes of the file held in memory) and
 * `kerasConfigBytes` (bytes of one config attribute walked). To move into INSPECT_LIMITS.
 *
 * The file is read by the HDF5 library itself (h5wasm: the C library compiled to
 * WebAssembly), in a worker thread so that it can be stopped: the library can loop without
 * reading anything (HDF5 2.0.0 spins forever on some corrupt global heaps), which no count of
 * its reads would catch. It reads synchronously while a ByteSource is asynchronous, so the
 * file is a virtual file of its real size whose bytes are pages fetched beforehand; a read of
 * a page not fetched yet fails, and the attempt (open, look up four root attributes, close)
 * is made again once the pages it wanted are fetched.
 */
export const HDF5_BOUNDS = {
  /** Bytes fetched before the first attempt: a Keras .h5 keeps its root header and config here. */
  prefetchBytes: 1 * MiB,
  /** Unit of fetching: a page is fetched whole, and charged whole to hdf5Bytes. */
  pageBytes: 64 * KiB,
  /** Attempts per file: each one past the first follows metadata outside the pages fetched. */
  attempts: 32,
  /** Reads the library makes in one attempt (a Keras .h5 needs under 20). */
  readsPerAttempt: 100_000,
  /** Bytes the library is handed in one attempt, re-reads included. */
  servedBytesPerAttempt: 1024 * MiB,
  /** Milliseconds the library may run on one file, all attempts together (a Keras .h5 takes a few). */
  timeMs: 10_000,
  /** Milliseconds to start the reader: a worker thread and its WebAssembly instance (~0.2 s). */
  startMs: 30_000,
  /** Milliseconds an idle reader is kept for the next file before its worker (~45 MiB) is ended. */
  idleMs: 30_000,
  /** The reader's WebAssembly heap past which its worker is ended after the file (the heap never shrinks). */
  retireHeapBytes: 256 * MiB,
  /** The reader's WebAssembly heap past which an attempt is stopped (the library allocates what headers claim; its ceiling is 2 GiB). */
  heapBytes: 512 * MiB,
  /** Bytes kept of `keras_version` and `backend`. */
  infoBytes: 1 * KiB,
  /** Elements of one array-valued config attribute walked (Keras writes a scalar). */
  configElements: 64,
  /** HDF5 error-stack lines kept per attempt (the reason a file could not be read comes from them). */
  errorLines: 400,
} as const;

/** The root attributes a legacy Keras `.h5` keeps its model in: walked. */
const CONFIG_ATTRS = ['model_config', 'training_config'] as const;
/** Root attributes kept as format facts. */
const INFO_ATTRS = ['keras_version', 'backend'] as const;

/**
 * Inspects an HDF5 file as legacy Keras's `load_model('x.h5')` reads it: the root group's
 * `model_config` (the architecture) and `training_config` (loss, metrics, optimizer) are read
 * by the HDF5 library itself — whatever layout h5py wrote (compact or dense attributes, fixed
 * or variable-length strings, a user block) — and walked like a `.keras` archive's config:
 * a Lambda layer is marshalled bytecode Keras runs on load, safe_mode or not (CVE-2025-9905).
 * - a config was read: the walk's findings (none: clean);
 * - no config at the root: a weights or data file, nothing in it runs code (`keras: false`);
 * - the file cannot be read, or a config cannot be decoded: `not-inspected` or `malformed`, high;
 * - a bound hit: `limit`, high. Never throws; one file at a time goes to the reader.
 */
export function inspectHdf5(source: ByteSource, lim: InspectLimits): Promise<Hdf5Inspection> {
  const run = queue.then(() => inspect(source, lim));
  queue = run.catch(() => undefined);
  return run.catch((e: unknown) => notRead(`HDF5 could not be read: ${describe(e)}`));
}

let queue: Promise<unknown> = Promise.resolve();
let fileCounter = 0;

async function inspect(source: ByteSource, lim: InspectLimits): Promise<Hdf5Inspection> {
  const pager = new Pager(source, lim.hdf5Bytes);
  const first = await pager.fetch([{ start: 0, end: Math.min(source.size, HDF5_BOUNDS.prefetchBytes, lim.hdf5Bytes) }]);
  if (first !== 'ok') return pagerFailure(first, lim, pager);
  let reader: Reader;
  try {
    reader = await startedReader();
  } catch (e) {
    return notRead(`HDF5 reader could not be started, the file could not be read: ${describe(e)}`);
  }
  const file = ++fileCounter;
  // Once this bound moves into INSPECT_LIMITS (as hdf5TimeMs) the limits carry it, and tests can lower it now.
  const timeMs = lim.hdf5TimeMs;
  let spent = 0;
  const partial = new Map<string, WireAttr>();
  let reply: AttemptReply | 'timeout' | undefined;
  try {
    for (let attempt = 1; ; attempt++) {
      const t0 = performance.now();
      reply = await reader.attempt({
        type: 'attempt',
        file,
        size: source.size,
        pages: pager.takeUnsent(),
        pageBytes: HDF5_BOUNDS.pageBytes,
        configBytes: lim.kerasConfigBytes,
        infoBytes: HDF5_BOUNDS.infoBytes,
        configElements: HDF5_BOUNDS.configElements,
        readsPerAttempt: HDF5_BOUNDS.readsPerAttempt,
        servedBytesPerAttempt: HDF5_BOUNDS.servedBytesPerAttempt,
        heapBytes: HDF5_BOUNDS.heapBytes,
      }, timeMs - spent, (progress) => partial.set(progress.attr, progress.value));
      spent += performance.now() - t0;
      if (reply === 'timeout') {
        const read = [...partial.keys()];
        const detail = read.length > 0 ? `the rest of the file was not read (${read.join(' and ')} ${read.length > 1 ? 'were' : 'was'} walked)` : 'the Keras config was not read';
        return withPartial(partial, { kind: 'limit', severity: 'high', detail: `the HDF5 library ran over ${timeMs} ms on this file and was stopped: ${detail}` }, pager, lim);
      }
      if (reply.kind === 'read') return judge(new Map(reply.attrs), pager, lim);
      if (reply.kind !== 'missing') return withPartial(partial, failure(reply, lim), pager, lim);
      if (attempt >= HDF5_BOUNDS.attempts) return limit(`HDF5 metadata spread over more than ${HDF5_BOUNDS.attempts} places in the file: the Keras config was not read`, pager);
      const got = await pager.fetch(reply.ranges);
      if (got !== 'ok') return pagerFailure(got, lim, pager);
    }
  } finally {
    pager.close();
    if (reply === 'timeout' || (reply !== undefined && (reply.kind === 'crashed' || reply.heapBytes > HDF5_BOUNDS.retireHeapBytes))) retire(reader);
    else {
      reader.forget(file);
      reader.idle(HDF5_BOUNDS.idleMs);
    }
  }
}

/** Why an attempt could not read the root attributes, as a finding. */
function failure(reply: Exclude<AttemptReply, { kind: 'read' | 'missing' }>, lim: InspectLimits): Finding {
  switch (reply.kind) {
    case 'bound':
      return { kind: 'limit', severity: 'high', detail: `${reply.detail}: the Keras config was not read` };
    case 'too-big':
      return { kind: 'limit', severity: 'high', path: reply.attr, detail: `HDF5 ${reply.attr} attribute ${reply.what}, larger than the ${lim.kerasConfigBytes} bytes inspected (kerasConfigBytes): it was not walked` };
    case 'open-failed':
      return structureError(reply.errors);
    case 'attr-failed':
      return { kind: 'not-inspected', severity: 'high', path: reply.attr, detail: `HDF5 ${reply.attr} attribute could not be read: ${reply.reason}` };
    case 'crashed':
      return { kind: 'not-inspected', severity: 'high', detail: `HDF5 could not be read: the HDF5 library failed on it: ${reply.message.slice(0, 300)}` };
  }
}

/**
 * A failure, after what was read before it: a config read whole before the library stopped
 * (a model_config before a training_config too big to walk) is still walked.
 */
function withPartial(partial: Map<string, WireAttr>, finding: Finding, pager: Pager, lim: InspectLimits): Hdf5Inspection {
  if (partial.size === 0) return { findings: [finding], meta: { bytesRead: pager.fetched } };
  const verdict = judge(partial, pager, lim);
  verdict.findings.push(finding);
  return verdict;
}

/** The attributes read, judged: each config walked as Keras would load it. */
function judge(attrs: Map<string, WireAttr>, pager: Pager, lim: InspectLimits): Hdf5Inspection {
  const findings: Finding[] = [];
  const meta: Record<string, unknown> = { keras: false, bytesRead: pager.fetched };
  for (const attr of CONFIG_ATTRS) {
    const entry = attrs.get(attr);
    if (entry === undefined || !entry.present) continue;
    meta['keras'] = true;
    const key = attr === 'model_config' ? 'modelConfig' : 'trainingConfig';
    meta[`${key}Bytes`] = entry.values.reduce((sum, buf) => sum + buf.length, 0);
    if (entry.values.length !== 1) meta[`${key}Elements`] = entry.values.length;
    for (const bytes of entry.values) findings.push(...inspectKerasConfig(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length), lim, attr));
  }
  for (const attr of INFO_ATTRS) {
    const entry = attrs.get(attr);
    if (entry === undefined || !entry.present || entry.values.length !== 1) continue;
    meta[attr === 'keras_version' ? 'kerasVersion' : 'backend'] = Buffer.from(entry.values[0] as Uint8Array).toString('utf8');
  }
  return { findings, meta };
}

/**
 * Why the library could not open the file, from its error stack: the innermost message.
 * A file the format rules out (shorter than its superblock says, a checksum or signature that
 * does not match) is malformed; anything else (a version the library does not know…) is not
 * inspected.
 */
function structureError(errors: readonly string[]): Finding {
  const reason = errorReason(errors) ?? 'the HDF5 library could not open it';
  if (/truncated file|checksum|signature/i.test(reason)) {
    return { kind: 'malformed', severity: 'high', detail: `HDF5 file breaks the format, it could not be read: ${reason}` };
  }
  return { kind: 'not-inspected', severity: 'high', detail: `HDF5 structure could not be read: ${reason}` };
}

/** The innermost message of an HDF5 error stack (`#006: …/H5Fsuper.c line 577 in H5F__super_read(): truncated file: …`). */
function errorReason(errors: readonly string[]): string | undefined {
  let reason: string | undefined;
  for (const line of errors) {
    const match = /#\d+:.*? in [\w.]+\(\): (.*)$/.exec(line);
    if (match?.[1] !== undefined) reason = match[1].trim();
  }
  return reason?.slice(0, 300);
}

function notRead(detail: string): Hdf5Inspection {
  return { findings: [{ kind: 'not-inspected', severity: 'high', detail }], meta: {} };
}

function limit(detail: string, pager: Pager): Hdf5Inspection {
  return { findings: [{ kind: 'limit', severity: 'high', detail }], meta: { bytesRead: pager.fetched } };
}

function pagerFailure(reason: 'budget' | 'short', lim: InspectLimits, pager: Pager): Hdf5Inspection {
  if (reason === 'short') return { findings: [{ kind: 'not-inspected', severity: 'high', detail: 'HDF5 could not be read: the file changed while it was read' }], meta: { bytesRead: pager.fetched } };
  return limit(`HDF5 metadata needs more than the ${lim.hdf5Bytes} bytes of the file read (hdf5Bytes): the Keras config was not read`, pager);
}

function describe(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).slice(0, 300);
}

// ---------------------------------------------------------------------------------------
// Pages of the file, fetched from the source within hdf5Bytes

interface Range {
  readonly start: number;
  readonly end: number;
}

/**
 * The file's pages fetched from the source, `budget` bytes at most. Their bytes are held
 * only until sent: the reader keeps them for the file, so they sit in memory once.
 */
class Pager {
  private readonly pages = new Set<number>();
  private unsent: [number, Uint8Array][] = [];
  /** Bytes fetched (whole pages), charged against hdf5Bytes. */
  fetched = 0;
  private readonly source: ByteSource;
  private readonly budget: number;

  constructor(source: ByteSource, budget: number) {
    this.source = source;
    this.budget = budget;
  }

  /** Fetches every page the ranges touch: 'budget' when that would pass hdf5Bytes, 'short' when the file shrank. */
  async fetch(ranges: readonly Range[]): Promise<'ok' | 'budget' | 'short'> {
    const P = HDF5_BOUNDS.pageBytes;
    const size = this.source.size;
    const want = new Set<number>();
    for (const range of ranges) {
      const end = Math.min(range.end, size);
      for (let page = Math.floor(Math.max(0, range.start) / P); page * P < end; page++) if (!this.pages.has(page)) want.add(page);
    }
    let bytes = 0;
    for (const page of want) bytes += Math.min(P, size - page * P);
    if (this.fetched + bytes > this.budget) return 'budget';
    for (const p of [...want].sort((a, b) => a - b)) {
      const len = Math.min(P, size - p * P);
      const data = await this.source.read(p * P, len);
      if (data.length !== len) return 'short';
      this.pages.add(p);
      // A page of its own: a view into a larger buffer (a bufferSource) would be cloned whole when sent.
      const page = new Uint8Array(len);
      page.set(data);
      this.unsent.push([p, page]);
      this.fetched += len;
    }
    return 'ok';
  }

  /** Pages fetched since the last call: the reader keeps those it was sent, for this file. */
  takeUnsent(): [number, Uint8Array][] {
    const unsent = this.unsent;
    this.unsent = [];
    return unsent;
  }

  close(): void {
    this.pages.clear();
    this.unsent = [];
  }
}

// ---------------------------------------------------------------------------------------
// The reader: a worker thread running the HDF5 library, one file at a time

/** A root string attribute as the worker read it: absent, or its values' bytes (one per element). */
type WireAttr = { readonly present: false } | { readonly present: true; readonly values: Uint8Array[] };

interface AttemptRequest {
  readonly type: 'attempt';
  readonly file: number;
  readonly size: number;
  /** Pages not sent before for this file: [page index, bytes]. */
  readonly pages: [number, Uint8Array][];
  readonly pageBytes: number;
  readonly configBytes: number;
  readonly infoBytes: number;
  readonly configElements: number;
  readonly readsPerAttempt: number;
  readonly servedBytesPerAttempt: number;
  readonly heapBytes: number;
}

interface ForgetRequest {
  readonly type: 'forget';
  readonly file: number;
}

type AttemptReply = { readonly heapBytes: number } & (
  | { readonly kind: 'read'; readonly attrs: [string, WireAttr][] }
  | { readonly kind: 'missing'; readonly ranges: Range[] } // it needs pages not fetched yet
  | { readonly kind: 'bound'; readonly detail: string }
  | { readonly kind: 'too-big'; readonly attr: string; readonly what: string }
  | { readonly kind: 'open-failed'; readonly errors: string[] }
  | { readonly kind: 'attr-failed'; readonly attr: string; readonly reason: string }
  | { readonly kind: 'crashed'; readonly message: string }
);

interface WorkerSetup {
  readonly factoryUrl: string;
  readonly errorLines: number;
}

/** A config attribute read whole during an attempt, sent at once: a file the library then spins on still has it walked. */
interface Progress {
  readonly kind: 'progress';
  readonly attr: string;
  readonly value: WireAttr;
}

type WorkerMessage = { readonly kind: 'ready' } | { readonly kind: 'load-failed'; readonly message: string } | Progress | AttemptReply;

class Reader {
  private pending: { resolve: (reply: AttemptReply | 'timeout') => void; reject: (e: Error) => void; timer: NodeJS.Timeout; progress: (progress: Progress) => void } | undefined;
  private ended = false;
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly worker: Worker;

  private constructor(worker: Worker) {
    this.worker = worker;
    worker.unref(); // an idle reader never keeps the process alive
    worker.on('message', (msg: WorkerMessage) => {
      if (msg.kind === 'ready' || msg.kind === 'load-failed') return;
      if (msg.kind === 'progress') this.pending?.progress(msg);
      else this.settle((pending) => pending.resolve(msg));
    });
    worker.on('error', (e: Error) => this.fail(e));
    worker.on('exit', (code) => this.fail(new Error(`the HDF5 reader exited (${code})`)));
  }

  static start(): Promise<Reader> {
    const setup: WorkerSetup = {
      // h5wasm exports only its high-level module (one shared instance); its Emscripten module factory sits beside it.
      factoryUrl: new URL('./hdf5_util.js', import.meta.resolve('h5wasm')).href,
      errorLines: HDF5_BOUNDS.errorLines,
    };
    const worker = new Worker(`(${hdf5Worker.toString()})()`, { eval: true, workerData: setup });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        void worker.terminate();
        reject(new Error(`the HDF5 reader did not start within ${HDF5_BOUNDS.startMs} ms`));
      }, HDF5_BOUNDS.startMs);
      const onMessage = (msg: WorkerMessage): void => {
        if (msg.kind !== 'ready' && msg.kind !== 'load-failed') return;
        clearTimeout(timer);
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
        if (msg.kind === 'ready') resolve(new Reader(worker));
        else {
          void worker.terminate();
          reject(new Error(msg.message));
        }
      };
      const onError = (e: Error): void => {
        clearTimeout(timer);
        reject(e);
      };
      const onExit = (code: number): void => onError(new Error(`the HDF5 reader exited (${code}) before it started`));
      worker.on('message', onMessage);
      worker.once('error', onError);
      worker.once('exit', onExit);
    });
  }

  /** One attempt, within `timeoutMs`: 'timeout' ends the worker (the library may be spinning). */
  attempt(req: AttemptRequest, timeoutMs: number, progress: (update: Progress) => void): Promise<AttemptReply | 'timeout'> {
    if (this.ended) return Promise.reject(new Error('the HDF5 reader has ended'));
    clearTimeout(this.idleTimer);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.end();
        this.settle((pending) => pending.resolve('timeout'));
      }, Math.max(0, timeoutMs));
      this.pending = { resolve, reject, timer, progress };
      this.worker.ref();
      this.worker.postMessage(req, req.pages.map(([, page]) => page.buffer as ArrayBuffer)); // moved, not copied
    });
  }

  forget(file: number): void {
    if (!this.ended) this.worker.postMessage({ type: 'forget', file } satisfies ForgetRequest);
  }

  /** Ends the worker unless another file comes within `ms`. */
  idle(ms: number): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => retire(this), ms);
    this.idleTimer.unref();
  }

  end(): void {
    clearTimeout(this.idleTimer);
    if (this.ended) return;
    this.ended = true;
    void this.worker.terminate();
  }

  get alive(): boolean {
    return !this.ended;
  }

  private settle(action: (pending: NonNullable<Reader['pending']>) => void): void {
    const pending = this.pending;
    if (pending === undefined) return;
    this.pending = undefined;
    clearTimeout(pending.timer);
    this.worker.unref();
    action(pending);
  }

  private fail(e: Error): void {
    this.ended = true; // the next file starts a new reader
    this.settle((pending) => pending.reject(e));
  }
}

let reader: Promise<Reader> | undefined;

function startedReader(): Promise<Reader> {
  const current = reader;
  if (current !== undefined) {
    return current.then((running) => (running.alive ? running : restart()), () => restart());
  }
  return restart();
}

function restart(): Promise<Reader> {
  const started = Reader.start();
  reader = started;
  started.catch(() => {
    if (reader === started) reader = undefined; // a failed start is tried again next time
  });
  return started;
}

function retire(retired: Reader): void {
  retired.end();
  void reader?.then((cur) => { if (cur === retired) reader = undefined; }, () => undefined);
}

/**
 * The worker thread's program, started from its source text: it reaches nothing outside
 * this function (its bounds come in each request). It loads a private instance of h5wasm's
 * Emscripten module (the in-memory file system build), captures the library's error stack
 * instead of printing it, and answers each attempt synchronously: open the virtual file,
 * read the root attributes, close.
 */
function hdf5Worker(): void {
  const { parentPort, workerData } = process.getBuiltinModule('node:worker_threads');
  const port = parentPort;
  if (port === null) return;
  const setup = workerData as WorkerSetup;
  const H5T_STRING = 3;
  const POINTER_BYTES = 4; // wasm32
  const EIO = 29; // Emscripten's errno numbers
  const ENODEV = 43;
  const EROFS = 69;
  const errors: string[] = [];
  let errorCount = 0; // lines printed, kept or not: a failed lookup is told by it
  const files = new Map<number, Map<number, Uint8Array>>();
  let counter = 0;
  let h5module: H5Module | undefined;

  interface H5Metadata { type: number; size: number; vlen: boolean; shape: number[] | null; total_size: number }
  interface EmNode { usedBytes: number; contents: unknown; stream_ops: Record<string, unknown> }
  interface EmFS {
    createFile(parent: string, name: string, properties: object, canRead: boolean, canWrite: boolean): EmNode;
    unlink(path: string): void;
    ErrnoError: new (errno: number) => Error;
  }
  interface H5Module {
    FS: EmFS;
    HEAPU8: Uint8Array;
    H5F_ACC_RDONLY: number;
    open(filename: string, mode: number, trackOrder: boolean, libverLow: number, libverHigh: number): bigint;
    close_file(id: bigint): number;
    get_attribute_metadata(id: bigint, obj: string, attr: string): H5Metadata;
    get_attribute_data(id: bigint, obj: string, attr: string, ptr: bigint): number;
    reclaim_vlen_memory(id: bigint, obj: string, attr: string, ptr: bigint): number;
    _malloc(n: number): number;
    _free(ptr: number): void;
  }
  type Factory = (arg: object) => Promise<H5Module>;

  const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));
  // A trap in the WebAssembly (RuntimeError), or Emscripten's abort(): the instance is unusable.
  const isCrash = (e: unknown): boolean => e instanceof Error && (e.name === 'RuntimeError' || /^Aborted\(|program has already aborted/i.test(e.message));
  const tooBig = (what: string): Error => Object.assign(new Error(what), { tooBig: true });

  /**
   * One string attribute of the root group, as h5py hands it to Keras: a fixed-length string
   * as its bytes less trailing NULs (numpy's bytes_), a variable-length one up to its first
   * NUL. Absent only when the library looked it up without error; throws otherwise.
   */
  const readString = (h5: H5Module, id: bigint, attr: string, maxBytes: number, maxElements: number): WireAttr => {
    let md: H5Metadata;
    try {
      md = h5.get_attribute_metadata(id, '/', attr);
    } catch (e) {
      // h5wasm throws this when H5Aexists_by_name is not 1; the caller tells absence from a failed lookup by the error stack.
      if (message(e).includes('name not defined')) return { present: false };
      throw e;
    }
    if (md.type !== H5T_STRING) throw new Error(`it is not a string (HDF5 type class ${md.type})`);
    if (md.shape === null || md.total_size === 0) throw new Error('it holds no value (an empty dataspace)');
    const count = md.total_size;
    if (count > maxElements) throw tooBig(`is an array of ${count} strings`);
    if (!md.vlen && md.size * count > maxBytes) throw tooBig(`holds ${md.size * count} bytes`);
    const nbytes = md.vlen ? POINTER_BYTES * count : md.size * count;
    const ptr = h5._malloc(Math.max(1, nbytes));
    if (ptr === 0) throw new Error(`the reader could not allocate ${nbytes} bytes`);
    let read = false;
    try {
      if (h5.get_attribute_data(id, '/', attr, BigInt(ptr)) < 0) throw new Error('reading its value failed');
      read = true;
      const heap = h5.HEAPU8;
      const values: Uint8Array[] = [];
      let total = 0;
      for (let i = 0; i < count; i++) {
        let start: number;
        let end: number;
        if (md.vlen) {
          start = new DataView(heap.buffer, ptr + POINTER_BYTES * i, POINTER_BYTES).getUint32(0, true);
          const nul = start === 0 ? 0 : heap.indexOf(0, start);
          end = start === 0 ? 0 : nul < 0 ? heap.length : nul;
        } else {
          start = ptr + md.size * i;
          end = start + md.size;
          while (end > start && heap[end - 1] === 0) end--;
        }
        total += end - start;
        if (total > maxBytes) throw tooBig(`holds more than ${maxBytes} bytes`);
        values.push(heap.slice(start, end));
      }
      return { present: true, values };
    } finally {
      if (read && md.vlen) {
        try {
          h5.reclaim_vlen_memory(id, '/', attr, BigInt(ptr));
        } catch {
          /* the strings stay in the heap: a leak, not a wrong answer */
        }
      }
      h5._free(ptr);
    }
  };

  const attempt = (h5: H5Module, req: AttemptRequest): AttemptReply => {
    let pages = files.get(req.file);
    if (pages === undefined) files.set(req.file, (pages = new Map()));
    for (const [pageNo, page] of req.pages) pages.set(pageNo, page);
    const P = req.pageBytes;
    const size = req.size;
    const known = pages;
    const missing: Range[] = [];
    let stopped: string | undefined;
    let reads = 0;
    let served = 0;
    const serve = (into: Uint8Array, offset: number, length: number, position: number): number => {
      if (++reads > req.readsPerAttempt) stopped ??= `the HDF5 library made more than ${req.readsPerAttempt} reads of the file in one attempt`;
      const start = Math.max(0, position);
      const end = Math.min(size, start + Math.max(0, length));
      served += Math.max(0, end - start);
      if (served > req.servedBytesPerAttempt) stopped ??= `the HDF5 library read more than ${req.servedBytesPerAttempt} bytes of the file in one attempt`;
      if (h5.HEAPU8.length > req.heapBytes) stopped ??= `the HDF5 library grew its heap past ${req.heapBytes} bytes on this file`;
      if (stopped !== undefined) throw new h5.FS.ErrnoError(EIO);
      for (let page = Math.floor(start / P); page * P < end; page++) {
        if (!known.has(page)) {
          missing.push({ start, end });
          throw new h5.FS.ErrnoError(EIO);
        }
      }
      for (let at = start; at < end; ) {
        const pageNo = Math.floor(at / P);
        const page = known.get(pageNo) as Uint8Array;
        const from = at - pageNo * P;
        const n = Math.min(end - at, page.length - from);
        into.set(page.subarray(from, from + n), offset + (at - start));
        at += n;
      }
      return Math.max(0, end - start);
    };
    const heapBytes = (): number => h5.HEAPU8.length;
    const interrupted = (): AttemptReply | undefined => {
      if (missing.length > 0) return { kind: 'missing', ranges: missing, heapBytes: heapBytes() };
      if (stopped !== undefined) return { kind: 'bound', detail: stopped, heapBytes: heapBytes() };
      return undefined;
    };

    errors.length = 0;
    errorCount = 0;
    const name = `f${++counter}`;
    const node = h5.FS.createFile('/', name, {}, true, false);
    // MEMFS reports usedBytes as the file's size (fstat): HDF5 checks it against the superblock's end of file.
    node.usedBytes = size;
    node.contents = null;
    node.stream_ops = {
      ...node.stream_ops,
      read: (_s: unknown, into: Uint8Array, offset: number, length: number, position: number | bigint) => serve(into, offset, length, Number(position)),
      write: () => {
        throw new h5.FS.ErrnoError(EROFS);
      },
      mmap: () => {
        throw new h5.FS.ErrnoError(ENODEV);
      },
    };
    let id = -1n;
    try {
      id = h5.open(`/${name}`, h5.H5F_ACC_RDONLY, false, -1, -1);
      if (id < 0n) return interrupted() ?? { kind: 'open-failed', errors: errors.slice(), heapBytes: heapBytes() };
      const attrs: [string, WireAttr][] = [];
      for (const attr of ['model_config', 'training_config', 'keras_version', 'backend']) {
        const config = attr === 'model_config' || attr === 'training_config';
        const before = errors.length;
        const printedBefore = errorCount;
        let value: WireAttr;
        try {
          value = readString(h5, id, attr, config ? req.configBytes : req.infoBytes, req.configElements);
        } catch (e) {
          const stop = interrupted();
          if (stop !== undefined) return stop;
          if (isCrash(e)) throw e;
          if (!config) continue; // keras_version or backend: format facts only
          if ((e as { tooBig?: boolean }).tooBig === true) return { kind: 'too-big', attr, what: message(e), heapBytes: heapBytes() };
          return { kind: 'attr-failed', attr, reason: innermost(errors.slice(before)) ?? message(e), heapBytes: heapBytes() };
        }
        const stop = interrupted();
        if (stop !== undefined) return stop;
        // A lookup the library failed on is not an absent attribute: it says so on its error stack.
        if (errorCount > printedBefore) {
          if (!config) continue;
          return { kind: 'attr-failed', attr, reason: innermost(errors.slice(before)) ?? 'the HDF5 library reported an error', heapBytes: heapBytes() };
        }
        attrs.push([attr, value]);
        if (config && value.present) port.postMessage({ kind: 'progress', attr, value } satisfies Progress);
      }
      return { kind: 'read', attrs, heapBytes: heapBytes() };
    } catch (e) {
      const stop = interrupted();
      if (stop !== undefined) return stop;
      return { kind: 'crashed', message: message(e), heapBytes: heapBytes() };
    } finally {
      if (id >= 0n) {
        try {
          h5.close_file(id);
        } catch {
          /* best effort: the worker is ended after a crash */
        }
      }
      try {
        h5.FS.unlink(`/${name}`);
      } catch {
        /* already gone */
      }
    }
  };

  const innermost = (lines: readonly string[]): string | undefined => {
    let reason: string | undefined;
    for (const line of lines) {
      const match = /#\d+:.*? in [\w.]+\(\): (.*)$/.exec(line);
      if (match?.[1] !== undefined) reason = match[1].trim();
    }
    return reason?.slice(0, 300);
  };

  // An indirect eval keeps the dynamic import as Node runs it (a test runner rewrites import() in source).
  const load = (0, eval)('(u) => import(u)') as (url: string) => Promise<{ default: Factory }>;
  load(setup.factoryUrl)
    .then((mod) => mod.default({
      noInitialRun: true,
      print: () => undefined,
      printErr: (line: unknown) => {
        errorCount++;
        if (errors.length < setup.errorLines) errors.push(String(line));
      },
    }))
    .then(
      (h5) => {
        h5module = h5;
        port.postMessage({ kind: 'ready' });
      },
      (e: unknown) => port.postMessage({ kind: 'load-failed', message: message(e) }),
    );

  port.on('message', (req: AttemptRequest | ForgetRequest) => {
    if (req.type === 'forget') {
      files.delete(req.file);
      return;
    }
    if (h5module === undefined) return;
    const reply = attempt(h5module, req);
    if (reply.kind !== 'missing') files.delete(req.file);
    port.postMessage(reply);
  });
}
