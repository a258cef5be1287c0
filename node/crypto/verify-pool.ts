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
}

/**
 * Signature checks on worker threads (issue 24: ingest on both cores), one per core (at most
 * 4): requests made in the same turn of the event loop are packed into batches of 64 and
 * each batch goes to the least loaded worker, so the main thread pays one message per batch,
 * not a threadpool job per signature, and LevelDB keeps the libuv threadpool to itself.
 *
 * A worker that fails answers nothing: its unanswered checks are done again on the main
 * thread by `fallback` (the same verdicts), and a new worker replaces it. Workers keep the
 * process alive only while they hold work.
 */
export class VerifyPool {
  private readonly lanes: (Lane | undefined)[];
  private queue: Request[] = [];
  private flushing = false;
  private nextId = 0;

  constructor(
    /** The same check on this thread: precheck and OpenSSL (used when a worker fails). */
    private readonly fallback: (sig: Uint8Array, msg: Uint8Array, key: Uint8Array) => boolean,
    workers = Math.max(1, Math.min(4, availableParallelism())),
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
    // A few checks (a publish, a gossip message) are spread over the workers too, not queued behind each other on one.
    const size = Math.min(BATCH, Math.ceil(queue.length / this.lanes.length));
    for (let i = 0; i < queue.length; i += size) this.send(queue.slice(i, i + size));
  }

  private send(batch: Request[]): void {
    let best = 0;
    for (let i = 0; i < this.lanes.length; i++) if ((this.lanes[i]?.load ?? 0) < (this.lanes[best]?.load ?? 0)) best = i;
    const lane = this.lanes[best] ?? this.start(best);
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
    const worker = new Worker(WORKER, { eval: true, name: 'chorus-verify' });
    const lane: Lane = { worker, pending: new Map(), load: 0 };
    worker.unref();
    worker.on('message', ({ id, out }: { id: number; out: Uint8Array }) => {
      const batch = lane.pending.get(id);
      if (batch === undefined) return;
      lane.pending.delete(id);
      lane.load -= batch.length;
      if (lane.pending.size === 0) worker.unref();
      batch.forEach((r, i) => r.resolve(out[i] === 1));
    });
    const gone = (): void => {
      if (this.lanes[index] === lane) this.lanes[index] = undefined;
      this.fail(lane);
    };
    worker.on('error', gone);
    worker.on('exit', gone);
    this.lanes[index] = lane;
    return lane;
  }

  /** A worker that will not answer: what it held is checked here, never left hanging. */
  private fail(lane: Lane): void {
    for (const batch of lane.pending.values()) for (const r of batch) r.resolve(this.fallback(r.sig, r.msg, r.key));
    lane.pending.clear();
    lane.load = 0;
  }
}
