import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * 7-Zip (the 7z-wasm build of 7-Zip 24.09) unpacks what Node cannot: 7z archives (nullifAI
 * wrapped PyTorch models in them) and bz2, xz and lzma streams (joblib's other codecs). It
 * runs in a worker thread of its own, ended past `timeMs`; it never writes a file outside its
 * in-memory file system; its output is cut at `maxBytes` as it is written (7-Zip's stdout).
 */
export interface Unpacked {
  /** Members in archive order (a stream has one), their bytes cut at the output cap. */
  readonly members: { readonly name: string; readonly size: number | undefined; readonly bytes: Buffer; readonly encrypted: boolean }[];
  /** The output reached `maxBytes`: what follows was not unpacked. */
  readonly capped: boolean;
  /** 7-Zip's complaint, when it had one (a corrupt stream, a wrong password). */
  readonly error?: string;
}

export type UnpackResult =
  | { readonly ok: true; readonly value: Unpacked }
  | { readonly ok: false; readonly why: 'limit' | 'not-inspected'; readonly detail: string };

export interface UnpackBounds {
  /** Bytes of unpacked output kept, all members together. */
  readonly maxBytes: number;
  /** Members listed at most. */
  readonly maxEntries: number;
  /** Milliseconds 7-Zip may run (listing and unpacking together). */
  readonly timeMs: number;
}

const require = createRequire(import.meta.url);

/** Milliseconds an idle 7-Zip worker is kept for the next file before it is ended. */
const IDLE_MS = 30_000;

/**
 * One worker with 7-Zip loaded (compiling it costs ~0.2 s), kept between files and ended when
 * idle; a job that runs past its time ends it (the next job starts another). Jobs run one at
 * a time.
 */
class SevenZipWorker {
  private static current: SevenZipWorker | undefined;
  private static queue: Promise<unknown> = Promise.resolve();
  private idle: NodeJS.Timeout | undefined;
  private pending: ((m: WorkerReply | { kind: 'crashed'; detail: string }) => void) | undefined;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (m: WorkerReply) => this.answer(m));
    worker.on('error', (e) => this.crash(`7-Zip failed: ${e.message}`));
    worker.on('exit', () => this.crash('7-Zip stopped without an answer'));
  }

  /** Runs one job after those before it. */
  static run(input: Uint8Array, bounds: UnpackBounds, modulePath: string): Promise<UnpackResult> {
    const job = SevenZipWorker.queue.then(() => (SevenZipWorker.current ??= SevenZipWorker.spawn(modulePath)).job(input, bounds));
    SevenZipWorker.queue = job.catch(() => undefined);
    return job;
  }

  private static spawn(modulePath: string): SevenZipWorker {
    return new SevenZipWorker(new Worker(`(${sevenZipWorker.toString()})()`, { eval: true, workerData: { modulePath }, stdout: true, stderr: true }));
  }

  private job(input: Uint8Array, bounds: UnpackBounds): Promise<UnpackResult> {
    if (this.idle !== undefined) clearTimeout(this.idle);
    this.worker.ref();
    return new Promise<UnpackResult>((resolve) => {
      const timer = setTimeout(() => {
        this.end();
        resolve({ ok: false, why: 'limit', detail: `7-Zip ran past ${bounds.timeMs} ms and was stopped: the rest was not unpacked` });
      }, bounds.timeMs);
      this.pending = (m) => {
        clearTimeout(timer);
        this.pending = undefined;
        this.rest();
        if (m.kind === 'too-many') resolve({ ok: false, why: 'limit', detail: `more than ${bounds.maxEntries} members: not unpacked` });
        else if (m.kind === 'failed' || m.kind === 'crashed') resolve({ ok: false, why: 'not-inspected', detail: m.kind === 'failed' ? `7-Zip could not read it: ${m.detail}` : m.detail });
        else resolve({ ok: true, value: split(m) });
      };
      const buffer = input.buffer as ArrayBuffer;
      this.worker.postMessage({ input: buffer, maxBytes: bounds.maxBytes, maxEntries: bounds.maxEntries }, [buffer]);
    });
  }

  private answer(m: WorkerReply): void {
    this.pending?.(m);
  }

  private crash(detail: string): void {
    if (SevenZipWorker.current === this) SevenZipWorker.current = undefined;
    this.pending?.({ kind: 'crashed', detail });
  }

  /** Idle: the worker never keeps the process alive, and is ended after IDLE_MS. */
  private rest(): void {
    this.worker.unref();
    this.idle = setTimeout(() => this.end(), IDLE_MS);
    this.idle.unref();
  }

  private end(): void {
    if (SevenZipWorker.current === this) SevenZipWorker.current = undefined;
    this.pending = undefined;
    void this.worker.terminate();
  }
}

/** Lists and unpacks an archive or stream with 7-Zip, in a worker, within `bounds`. Never throws. */
export async function unpackWith7z(bytes: Buffer, bounds: UnpackBounds): Promise<UnpackResult> {
  let modulePath: string;
  try {
    modulePath = `file://${require.resolve('7z-wasm').replace(/7zz\.umd\.js$/, '7zz.es6.js')}`;
  } catch {
    return { ok: false, why: 'not-inspected', detail: '7-Zip (the 7z-wasm package) is not installed' };
  }
  const input = new Uint8Array(bytes.byteLength);
  input.set(bytes);
  return SevenZipWorker.run(input, bounds, modulePath);
}

interface Listed { name: string; size: number | undefined; dir: boolean; encrypted: boolean }
type WorkerReply =
  | { kind: 'too-many' }
  | { kind: 'failed'; detail: string }
  | { kind: 'done'; entries: Listed[]; data: ArrayBuffer; length: number; capped: boolean; error: string };

/** The concatenated output cut back into members by the sizes the listing declares. */
function split(m: Extract<WorkerReply, { kind: 'done' }>): Unpacked {
  const data = Buffer.from(m.data, 0, m.length);
  const files = m.entries.filter((e) => !e.dir);
  const members: Unpacked['members'][number][] = [];
  let at = 0;
  for (const [i, e] of files.entries()) {
    // A member of unknown size (a bare stream) is the rest of the output.
    const take = e.size === undefined || i === files.length - 1 && e.size > data.length - at ? data.length - at : Math.min(e.size, data.length - at);
    members.push({ name: e.name, size: e.size, bytes: data.subarray(at, at + take), encrypted: e.encrypted });
    at += take;
  }
  // 7-Zip writes the members' bytes back to back: unless the output is exactly the sizes
  // listed, the cuts fall in the wrong places, and what each member holds is not known.
  const listed = files.every((e) => e.size !== undefined) ? files.reduce((n, e) => n + (e.size ?? 0), 0) : undefined;
  const mismatch = !m.capped && listed !== undefined && data.length !== listed ? `7-Zip wrote ${data.length} bytes where the listing declares ${listed}` : '';
  const error = [m.error.trim(), mismatch].filter((x) => x !== '').join('; ');
  return { members, capped: m.capped, ...(error === '' ? {} : { error }) };
}

/**
 * The worker's whole program: it is turned into source text, so it uses nothing from outside
 * itself. 7-Zip's stdout is taken a byte at a time; throwing from it stops 7-Zip (an I/O error
 * to it), which is how the output cap holds.
 */
function sevenZipWorker(): void {
  void (async () => {
    const { parentPort, workerData } = process.getBuiltinModule('node:worker_threads');
    const port = parentPort as NonNullable<typeof parentPort>;
    type Module = { FS: { mkdir(p: string): void; writeFile(p: string, d: Uint8Array): void; unlink(p: string): void }; callMain(a: string[]): void };
    let sink: (c: number) => void = () => undefined;
    let err = '';
    let sz: Module | undefined;
    let loadError: string | undefined;
    try {
      // An indirect eval keeps the dynamic import as Node runs it (a test runner rewrites import() in source).
      const load = (0, eval)('(u) => import(u)') as (url: string) => Promise<unknown>;
      const factory = (await load((workerData as { modulePath: string }).modulePath)) as { default: (o: object) => Promise<Module> };
      sz = await factory.default({
        stdin: () => null,
        stdout: (c: number) => sink(c),
        stderr: (c: number) => {
          if (err.length < 4096) err += String.fromCharCode(c);
        },
        quit: () => undefined,
      });
      sz.FS.mkdir('/w');
    } catch (e) {
      loadError = (e as Error).message;
    }
    port.on('message', (job: { input: ArrayBuffer; maxBytes: number; maxEntries: number }) => {
      if (sz === undefined) {
        port.postMessage({ kind: 'failed', detail: loadError ?? '7-Zip did not load' });
        return;
      }
      try {
        sz.FS.writeFile('/w/in', new Uint8Array(job.input));
        let listing = '';
        sink = (c) => {
          if (listing.length < 16 * 1024 * 1024) listing += String.fromCharCode(c);
        };
        err = '';
        // -pX: an encrypted archive fails on a wrong password instead of asking for one.
        try {
          sz.callMain(['l', '-slt', '-bd', '-pX', '/w/in']);
        } catch {
          /* what was listed is used; err says why it stopped */
        }
        const body = listing.split(/\n----------\n/)[1] ?? '';
        const entries: { name: string; size: number | undefined; dir: boolean; encrypted: boolean }[] = [];
        for (const block of body.split(/\n\s*\n/)) {
          const f = new Map<string, string>();
          for (const line of block.split('\n')) {
            const eq = line.indexOf(' = ');
            if (eq > 0) f.set(line.slice(0, eq), line.slice(eq + 3));
          }
          // A bare stream (xz, bz2) lists its one member without a Path.
          if (!f.has('Path') && !f.has('Size') && !f.has('Packed Size')) continue;
          const size = f.get('Size');
          entries.push({ name: f.get('Path') ?? '', size: size !== undefined && /^\d+$/.test(size) ? Number(size) : undefined, dir: f.get('Folder') === '+', encrypted: f.get('Encrypted') === '+' });
          if (entries.length > job.maxEntries) {
            port.postMessage({ kind: 'too-many' });
            return;
          }
        }
        if (entries.length === 0) {
          port.postMessage({ kind: 'failed', detail: err.replace(/\s+/g, ' ').trim().slice(0, 300) || 'nothing listed' });
          return;
        }
        const declared = entries.every((e) => e.dir || e.size !== undefined) ? entries.reduce((n, e) => n + (e.dir ? 0 : (e.size ?? 0)), 0) : job.maxBytes;
        const out = new Uint8Array(Math.min(job.maxBytes, declared) + 1);
        let n = 0;
        let capped = false;
        sink = (c) => {
          if (n >= job.maxBytes) {
            capped = true;
            throw new Error('output cap');
          }
          if (n >= out.length) throw new Error('output past the sizes listed');
          out[n++] = c;
        };
        err = '';
        try {
          sz.callMain(['x', '-so', '-bd', '-pX', '/w/in']);
        } catch {
          /* the cap, or 7-Zip's own failure: err says which */
        }
        port.postMessage({ kind: 'done', entries, data: out.buffer, length: n, capped, error: capped ? '' : err.slice(0, 1000) }, [out.buffer]);
      } catch (e) {
        port.postMessage({ kind: 'failed', detail: (e as Error).message });
      } finally {
        sink = () => undefined;
        try {
          sz.FS.unlink('/w/in');
        } catch {
          /* not written */
        }
      }
    });
  })();
}
