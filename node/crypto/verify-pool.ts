import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

/**
 * The worker's code (run with `eval`, so it needs no file beside the compiled one and runs the
 * same under the test runner): Ed25519 verification through OpenSSL for a batch packed in
 * one buffer, each item `[64 sig][32 key][u32 length][message]`; answers one byte per item.
 */
const WORKER = `
const { parentPort } = require('node:worker_threads');
const { createPublicKey, verify } = require('node:crypto');
const PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const keys = new Map();
function keyFor(raw) {
  const k = raw.toString('latin1');
  let key = keys.get(k);
  if (key !== undefined) return key;
  try { key = createPublicKey({ key: Buffer.concat([PREFIX, raw]), format: 'der', type: 'spki' }); } catch { key = null; }
  if (keys.size >= 4096) keys.delete(keys.keys().next().value);
  keys.set(k, key);
  return key;
}
parentPort.on('message', ({ id, count, buf }) => {
  const data = Buffer.from(buf);
  const out = new Uint8Array(count);
  let at = 0;
  for (let i = 0; i < count; i++) {
    const sig = data.subarray(at, at + 64);
    const key = keyFor(data.subarray(at + 64, at + 96));
    const len = data.readUInt32LE(at + 96);
    const msg = data.subarray(at + 100, at + 100 + len);
    at += 100 + len;
    try { out[i] = key !== null && verify(null, msg, key, sig) ? 1 : 0; } catch { out[i] = 0; }
  }
  parentPort.postMessage({ id, out }, [out.buffer]);
});
`;

/** How long no new worker is tried after one failed or could not start. */
const NO_THREADS_MS = 5_000;

/** A turn with at most this many checks uses the threadpool, not the workers. */
const SMALL = 16;

/** Items sent to a worker in one message, at most. */
const BATCH = 64;

interface Request {
  readonly sig: Uint8Array;
  readonly msg: Uint8Array;
  readonly key: Uint8Array;
  resolve(ok: boolean): void;
}

interface Lane {
  readonly worker: Worker;
  /** Batches sent and not answered, by id. */
  readonly pending: Map<number, Request[]>;
  /** Items sent and not answered. */
  load: number;
  /** Batches it answered: a worker that failed before answering any cannot run here. */
  answered: number;
}

/**
 * Signature checks on worker threads (issue 24: ingest on both cores), one per core (at most
 * 4): requests made in the same turn of the event loop are packed into batches of 64 and
 * each batch goes to the least loaded worker, so the main thread pays one message per batch,
 * not a threadpool job per signature, and LevelDB keeps the libuv threadpool to itself.
 *
 * A worker that fails answers nothing: its unanswered checks are done again on the main
 * thread by `fallback` (the same verdicts), and a new worker replaces it — after 5 s if it
 * failed before answering anything (the others take the batches meanwhile; with none, they
 * are checked on the main thread). A thread that cannot be started (a thread or process
 * limit) is the same: the batch is checked here, never lost. Turns with at most 16 checks go to the libuv threadpool (`few`): waking a worker costs
 * more. Workers keep the process alive only while they hold work.
 */
export class VerifyPool {
  private readonly lanes: (Lane | undefined)[];
  private queue: Request[] = [];
  private flushing = false;
  private nextId = 0;
  private closing = false;
  /** After a worker failed or could not start: until then, batches with no worker are checked here. */
  private noThreadsUntil = 0;

  constructor(
    /** The same check on this thread: precheck and OpenSSL (used when a worker fails). */
    private readonly fallback: (sig: Uint8Array, msg: Uint8Array, key: Uint8Array) => boolean,
    workers = Math.max(1, Math.min(4, availableParallelism())),
    /** The same check on the libuv threadpool, for a turn with only a few (see SMALL). */
    private readonly few?: (sig: Uint8Array, msg: Uint8Array, key: Uint8Array) => Promise<boolean>,
  ) {
    this.lanes = new Array<Lane | undefined>(workers).fill(undefined);
  }

  /** Whether `sig` is a valid signature of `msg` by `key` (precheck already passed). */
  verify(sig: Uint8Array, msg: Uint8Array, key: Uint8Array): Promise<boolean> {
    return new Promise((resolve) => {
      this.queue.push({ sig, msg, key, resolve });
      if (!this.flushing) {
        this.flushing = true;
        queueMicrotask(() => this.flush());
      }
    });
  }

  /** Stops the workers (answers what they held on this thread). */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.lanes.map((lane, i) => {
      if (lane === undefined) return undefined;
      this.lanes[i] = undefined;
      this.fail(lane);
      return lane.worker.terminate();
    }));
  }

  private flush(): void {
    this.flushing = false;
    const queue = this.queue;
    this.queue = [];
    // A few (a publish group, a gossip message): waking a worker costs more than the libuv threadpool's job.
    if (this.few !== undefined && queue.length <= SMALL) {
      for (const r of queue) void this.few(r.sig, r.msg, r.key).then(r.resolve, () => r.resolve(this.fallback(r.sig, r.msg, r.key)));
      return;
    }
    // A few checks (a publish, a gossip message) are spread over the workers too, not queued behind each other on one.
    const size = Math.min(BATCH, Math.ceil(queue.length / this.lanes.length));
    for (let i = 0; i < queue.length; i += size) {
      const batch = queue.slice(i, i + size);
      try {
        this.send(batch);
      } catch {
        this.here(batch); // whatever went wrong, every check taken from the queue is answered
      }
    }
  }

  private send(batch: Request[]): void {
    // The least loaded worker; a slot with none may start one, unless one failed a moment ago.
    const mayStart = performance.now() >= this.noThreadsUntil;
    let best = -1;
    for (let i = 0; i < this.lanes.length; i++) {
      const load = this.lanes[i]?.load;
      if (load === undefined && !mayStart) continue;
      if (best < 0 || (load ?? 0) < (this.lanes[best]?.load ?? 0)) best = i;
    }
    if (best < 0) return this.here(batch);
    let lane = this.lanes[best];
    if (lane === undefined) {
      // No thread to be had (a thread or process limit, memory): this batch is checked here,
      // and no new thread is tried for a while.
      try {
        lane = this.start(best);
      } catch {
        this.noThreadsUntil = performance.now() + NO_THREADS_MS;
        return this.here(batch);
      }
    }
    let bytes = 0;
    for (const r of batch) bytes += 100 + r.msg.length;
    const buf = Buffer.allocUnsafe(bytes);
    let at = 0;
    for (const r of batch) {
      buf.set(r.sig, at);
      buf.set(r.key, at + 64);
      buf.writeUInt32LE(r.msg.length, at + 96);
      buf.set(r.msg, at + 100);
      at += 100 + r.msg.length;
    }
    const id = this.nextId++;
    lane.pending.set(id, batch);
    lane.load += batch.length;
    if (lane.pending.size === 1) lane.worker.ref();
    const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
    lane.worker.postMessage({ id, count: batch.length, buf: ab }, [ab]);
  }

  private start(index: number): Lane {
    // execArgv: [] — the code is CommonJS whatever flags the host runs with (--input-type=module).
    const worker = new Worker(WORKER, { eval: true, name: 'chorus-verify', execArgv: [] });
    const lane: Lane = { worker, pending: new Map(), load: 0, answered: 0 };
    worker.unref();
    worker.on('message', ({ id, out }: { id: number; out: Uint8Array }) => {
      const batch = lane.pending.get(id);
      if (batch === undefined) return;
      lane.pending.delete(id);
      lane.load -= batch.length;
      lane.answered++;
      if (lane.pending.size === 0) worker.unref();
      batch.forEach((r, i) => r.resolve(out[i] === 1));
    });
    const gone = (): void => {
      if (this.lanes[index] === lane) this.lanes[index] = undefined;
      // One that failed before answering anything is not replaced at once (a worker that cannot
      // run here would be started again for every batch); one that worked is, at the next batch.
      if (!this.closing && lane.answered === 0) this.noThreadsUntil = performance.now() + NO_THREADS_MS;
      this.fail(lane);
    };
    worker.on('error', gone);
    worker.on('exit', gone);
    this.lanes[index] = lane;
    return lane;
  }

  /** A worker that will not answer: what it held is checked here, never left hanging. */
  private fail(lane: Lane): void {
    for (const batch of lane.pending.values()) this.here(batch);
    lane.pending.clear();
    lane.load = 0;
  }

  /** Checks a batch on this thread. */
  private here(batch: readonly Request[]): void {
    for (const r of batch) r.resolve(this.fallback(r.sig, r.msg, r.key));
  }
}
