import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { inspectArchive } from './archive.js';
import { INSPECT_LIMITS, type InspectLimits } from './constants.js';
import { createGunzip, createInflate } from 'node:zlib';
import { compressionOf, detectFormat, hdf5SignatureAt } from './detect.js';
import { inspectGguf } from './gguf.js';
import { inspectHdf5 } from './hdf5.js';
import { inspectSavedModel } from './savedmodel.js';
import { unpackWith7z } from './sevenzip.js';
import { coverageOf } from './coverage.js';
import { inspectNpy } from './npy.js';
import { inspectOnnx } from './onnx.js';
import { walkPickleSource } from './pickle.js';
import { inspectSafetensors } from './safetensors.js';
import { inspectTar } from './tar.js';
import { bufferSource, fileSource, type ByteSource } from './source.js';
import type { Finding, Inspection, ModelFormat } from './types.js';

export { INSPECT_LIMITS, type InspectLimits } from './constants.js';
export { detectFormat } from './detect.js';
export { bufferSource, fileSource, type ByteSource } from './source.js';
export { walkPickle, type PickleWalk } from './pickle.js';
export { classifyImport } from './pickle-imports.js';
export { inspectArchive } from './archive.js';
export { inspectGguf } from './gguf.js';
export { inspectNpy, isNpyMagic } from './npy.js';
export { inspectTar, isTarHeader } from './tar.js';
export { inspectSafetensors } from './safetensors.js';
export { inspectOnnx, escapesDirectory } from './onnx.js';
export * from './types.js';
export { coverageOf, type Coverage, type CoverageState } from './coverage.js';

/** Options for {@link inspectFile} and {@link inspectSource}. */
export interface InspectOptions {
  /** Tighter or looser limits than {@link INSPECT_LIMITS}. */
  readonly limits?: Partial<InspectLimits>;
  /** Streams unwrapped so far (a compressed stream inside a compressed stream…). */
  readonly depth?: number;
}

/** Compressed streams unwrapped inside one another, at most. */
const MAX_UNWRAP = 1;

/**
 * Inspects one model file statically — nothing in it is unpickled or executed — with bounded
 * memory: GGUF and safetensors headers only, zip central directories and their pickle members,
 * raw pickles up to `pickleBytes`, ONNX by skipping tensor bytes. The format comes from the
 * content. Never throws: a path that is not a readable regular file (missing, a directory, a
 * FIFO, a device, no permission) is format `unknown` with an `unreadable` finding.
 */
export async function inspectFile(path: string, opts: InspectOptions = {}): Promise<Inspection> {
  let handle;
  try {
    // O_NONBLOCK: opening a FIFO must not wait for a writer.
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    return unreadable(`cannot open: ${describe(e)}`);
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) return unreadable(`not a regular file (${kindOf(st)})`);
    return await inspectSource(fileSource(handle, st.size), opts);
  } catch (e) {
    return unreadable(`read failed: ${describe(e)}`);
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/**
 * Inspects bytes from any source (an open file, an archive member in memory); see
 * {@link inspectFile}. Throws only when the source's own reads fail.
 */
export async function inspectSource(source: ByteSource, opts: InspectOptions = {}): Promise<Inspection> {
  const lim = { ...INSPECT_LIMITS, ...opts.limits };
  const format = await detectFormat(source);
  const primary = await inspectAs(format, source, lim, opts);
  // An HDF5 file after a user block, in a file that is something else from its first byte: h5py
  // reads the one and that format's loader the other. Both are inspected; both findings count.
  if (format === 'hdf5') return primary;
  const at = await hdf5SignatureAt(source);
  if (at === undefined) return primary;
  const hdf5 = await inspectHdf5(source, lim);
  const tag = `(HDF5 after a ${at}-byte user block)`;
  return { ...primary, findings: [...primary.findings, ...hdf5.findings.map((finding) => ({ ...finding, path: `${tag}${finding.path === undefined ? '' : `!${finding.path}`}` }))] } as Inspection;
}

async function inspectAs(format: ModelFormat, source: ByteSource, lim: InspectLimits, opts: InspectOptions): Promise<Inspection> {
  switch (format) {
    case 'gguf': {
      const result = await inspectGguf(source, lim);
      return { format, findings: result.findings, meta: result.meta };
    }
    case 'safetensors': {
      const result = await inspectSafetensors(source, lim);
      return { format, findings: result.findings, meta: result.meta };
    }
    case 'zip':
    case 'pytorch-zip': {
      const result = await inspectArchive(source, { limits: lim });
      return { format: result.pytorch ? 'pytorch-zip' : 'zip', findings: result.findings, meta: result.meta };
    }
    case 'pickle': {
      const result = await walkPickleSource(source, lim);
      return { format, findings: result.findings, meta: result.meta };
    }
    case 'onnx': {
      const result = await inspectOnnx(source, lim);
      // ONNX and a TensorFlow SavedModel are both protobufs whose first field can be the same
      // `08 01`: bytes TF would load as a SavedModel can pass for ONNX. Walked as one too, the
      // graph ops it would run are reported.
      const tf = await inspectSavedModel(source, lim);
      return { format, findings: [...result.findings, ...tf.findings.filter((finding) => finding.kind === 'dangerous-op').map((finding) => ({ ...finding, detail: `read as a TensorFlow SavedModel: ${finding.detail}` }))], meta: result.meta };
    }
    case 'tar': {
      const result = await inspectTar(source, lim);
      return { format, findings: result.findings, meta: result.meta };
    }
    case 'npy': {
      const result = await inspectNpy(source, lim);
      return { format, findings: result.findings, meta: result.meta };
    }
    case 'hdf5': {
      const result = await inspectHdf5(source, lim);
      return { format, findings: result.findings, meta: result.meta };
    }
    case 'savedmodel': {
      const result = await inspectSavedModel(source, lim);
      return { format, findings: result.findings, meta: result.meta };
    }
    case '7z':
      return inspectWith7z(source, lim, opts.depth ?? 0, '7z');
    case 'compressed':
      return inspectCompressed(source, lim, opts.depth ?? 0);
    case 'unknown':
      return { format, findings: [], meta: {} };
  }
}

/**
 * A compressed stream (joblib.dump(…, compress=…), a .gz): gzip and zlib are inflated, to
 * `compressedBytes`, and what they hold is inspected as a file of its own; the codecs Node
 * cannot inflate (bz2, xz, lzma, lz4, zstd) are not inspected, and say so.
 */
async function inspectCompressed(source: ByteSource, lim: InspectLimits, depth: number): Promise<Inspection> {
  const head = await source.read(0, 16);
  const codec = compressionOf(head) ?? 'unknown';
  const only = (finding: Finding): Inspection => ({ format: 'compressed', findings: [finding], meta: { codec } });
  if (codec === 'bz2' || codec === 'xz' || codec === 'lzma') return inspectWith7z(source, lim, depth, codec);
  if (codec !== 'gzip' && codec !== 'zlib') return only({ kind: 'not-inspected', severity: 'high', detail: `a ${codec} stream is not decompressed by this scanner: what it holds (joblib writes pickles this way) was not read` });
  if (depth >= MAX_UNWRAP) return only({ kind: 'not-inspected', severity: 'high', detail: `a ${codec} stream inside a compressed stream is not unwrapped` });
  const r0 = await inflateCapped(source, codec, lim.compressedBytes);
  if (r0.bytes.length === 0 && r0.error !== undefined) return only({ kind: 'malformed', severity: 'high', detail: `${codec} stream does not inflate: ${r0.error}` });
  const findings: Finding[] = [];
  // A stream that breaks part-way still gave a loader its first bytes: what inflated is inspected.
  if (r0.error !== undefined) findings.push({ kind: 'malformed', severity: 'medium', detail: `${codec} stream is truncated or corrupt after ${r0.bytes.length} bytes: ${r0.error}` });
  if (r0.capped) findings.push({ kind: 'limit', severity: 'high', detail: `${codec} stream inflates past ${lim.compressedBytes} bytes: the rest was not inspected` });
  const nested = await inspectSource(bufferSource(r0.bytes), { limits: lim, depth: depth + 1 });
  findings.unshift(...nested.findings.map((finding) => ({ ...finding, path: `(${codec})${finding.path === undefined ? '' : `!${finding.path}`}` })));
  if (nested.format === 'unknown') findings.push({ kind: 'not-inspected', severity: 'high', detail: `the ${codec} stream holds ${r0.bytes.length} bytes in no format this scanner reads` });
  return { format: 'compressed', findings, meta: { codec, inner: nested.format, bytes: r0.bytes.length } };
}

/**
 * A 7z archive, or a bz2/xz/lzma stream, unpacked by 7-Zip in a worker (bounded in bytes read,
 * bytes unpacked, members and time); each member is inspected as a file of its own. An
 * encrypted member, or anything 7-Zip cannot read, is not-inspected; the output cap is a limit.
 */
async function inspectWith7z(source: ByteSource, lim: InspectLimits, depth: number, kind: '7z' | 'bz2' | 'xz' | 'lzma'): Promise<Inspection> {
  const format = kind === '7z' ? '7z' : 'compressed';
  const meta: Record<string, unknown> = kind === '7z' ? {} : { codec: kind };
  const only = (finding: Finding): Inspection => ({ format, findings: [finding], meta });
  const what = kind === '7z' ? 'a 7z archive' : `a ${kind} stream`;
  if (depth >= MAX_UNWRAP) return only({ kind: 'not-inspected', severity: 'high', detail: `${what} inside a compressed stream or archive is not unwrapped` });
  if (source.size > lim.sevenZipBytes) return only({ kind: 'limit', severity: 'high', detail: `${what} of ${source.size} bytes is more than the ${lim.sevenZipBytes} read to unpack it` });
  const unpacked = await unpackWith7z(await source.read(0, source.size), { maxBytes: lim.compressedBytes, maxEntries: lim.sevenZipEntries, timeMs: lim.sevenZipTimeMs });
  if (!unpacked.ok) return only({ kind: unpacked.why, severity: 'high', detail: `${what}: ${unpacked.detail}` });
  const findings: Finding[] = [];
  const members: string[] = [];
  for (const member of unpacked.value.members) {
    const at = kind === '7z' ? member.name : `(${kind})`;
    members.push(member.name);
    if (member.encrypted) {
      findings.push({ kind: 'not-inspected', severity: 'high', path: at, detail: 'an encrypted member: what it holds was not read' });
      continue;
    }
    const inner = await inspectSource(bufferSource(member.bytes), { limits: lim, depth: depth + 1 });
    findings.push(...inner.findings.map((finding) => ({ ...finding, path: `${at}${finding.path === undefined ? '' : `!${finding.path}`}` })));
    if (inner.format === 'unknown' && (kind !== '7z' || coverageOf('unknown', [], member.name).codeCapable)) {
      findings.push({ kind: 'not-inspected', severity: 'high', path: at, detail: `${member.bytes.length} bytes in no format this scanner reads` });
    }
  }
  if (unpacked.value.capped) findings.push({ kind: 'limit', severity: 'high', detail: `${what} unpacks past ${lim.compressedBytes} bytes: the rest was not inspected` });
  else if (unpacked.value.error !== undefined) findings.push({ kind: 'malformed', severity: 'high', detail: `7-Zip: ${unpacked.value.error.replace(/\s+/g, ' ').slice(0, 300)}` });
  return { format, findings, meta: { ...meta, members: members.slice(0, 100) } };
}

/** Compressed bytes fed to the inflater at a time (deflate inflates at most ~1032 times that). */
const INFLATE_CHUNK = 64 * 1024;

/**
 * Inflates a gzip or zlib stream from a source, a chunk at a time, keeping at most `cap`
 * output bytes: a bomb costs `cap` of memory and the time to inflate that much, never more.
 */
async function inflateCapped(source: ByteSource, codec: 'gzip' | 'zlib', cap: number): Promise<{ bytes: Buffer; capped: boolean; error?: string }> {
  const inflater = codec === 'gzip' ? createGunzip() : createInflate();
  // One buffer of the cap, written in place: its pages cost memory only as output fills them,
  // and no concatenation doubles the peak at the end.
  let out: Buffer | undefined;
  let size = 0;
  let capped = false;
  let error: string | undefined;
  // 'close' comes last on every path: after the end, after an error, after destroy().
  const closed = new Promise<void>((resolve) => inflater.once('close', resolve));
  inflater.on('data', (chunk: Buffer) => {
    if (capped) return;
    out ??= Buffer.allocUnsafeSlow(cap);
    const room = cap - size;
    if (chunk.length > room) {
      chunk.copy(out, size, 0, room);
      size = cap;
      capped = true;
      inflater.destroy();
      return;
    }
    chunk.copy(out, size);
    size += chunk.length;
  });
  inflater.on('error', (e) => {
    error = e.message;
  });
  for (let at = 0; at < source.size && !inflater.destroyed; at += INFLATE_CHUNK) {
    const chunk = await source.read(at, INFLATE_CHUNK);
    if (inflater.destroyed) break;
    await Promise.race([new Promise<void>((resolve) => inflater.write(chunk, () => resolve())), closed]);
  }
  if (!inflater.destroyed) inflater.end();
  await closed;
  return { bytes: out === undefined ? Buffer.alloc(0) : out.subarray(0, size), capped, ...(error === undefined ? {} : { error }) };
}

/** The most severe finding's severity, or undefined when there are none. */
export function worstSeverity(findings: readonly Finding[]): Finding['severity'] | undefined {
  const order = ['critical', 'high', 'medium', 'low', 'info'] as const;
  return order.find((severity) => findings.some((finding) => finding.severity === severity));
}

function unreadable(detail: string): Inspection {
  return { format: 'unknown', findings: [{ kind: 'unreadable', severity: 'low', detail }], meta: {} };
}

function describe(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err.code ?? err.message ?? String(e);
}

function kindOf(st: { isDirectory(): boolean; isFIFO(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isSocket(): boolean }): string {
  if (st.isDirectory()) return 'directory';
  if (st.isFIFO()) return 'fifo';
  if (st.isCharacterDevice()) return 'character device';
  if (st.isBlockDevice()) return 'block device';
  if (st.isSocket()) return 'socket';
  return 'special file';
}
