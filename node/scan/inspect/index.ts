import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { inspectArchive } from './archive.js';
import { INSPECT_LIMITS, type InspectLimits } from './constants.js';
import { detectFormat } from './detect.js';
import { inspectGguf } from './gguf.js';
import { inspectHdf5 } from './hdf5.js';
import { inspectSavedModel } from './savedmodel.js';
import { inspectNpy } from './npy.js';
import { inspectOnnx } from './onnx.js';
import { walkPickleSource } from './pickle.js';
import { inspectSafetensors } from './safetensors.js';
import { inspectTar } from './tar.js';
import { fileSource, type ByteSource } from './source.js';
import type { Finding, Inspection } from './types.js';

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

/** Options for {@link inspectFile} and {@link inspectSource}. */
export interface InspectOptions {
  /** Tighter or looser limits than {@link INSPECT_LIMITS}. */
  readonly limits?: Partial<InspectLimits>;
}

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
  switch (format) {
    case 'gguf': {
      const r = await inspectGguf(source, lim);
      return { format, findings: r.findings, meta: r.meta };
    }
    case 'safetensors': {
      const r = await inspectSafetensors(source, lim);
      return { format, findings: r.findings, meta: r.meta };
    }
    case 'zip':
    case 'pytorch-zip': {
      const r = await inspectArchive(source, { limits: lim });
      return { format: r.pytorch ? 'pytorch-zip' : 'zip', findings: r.findings, meta: r.meta };
    }
    case 'pickle': {
      const r = await walkPickleSource(source, lim);
      return { format, findings: r.findings, meta: r.meta };
    }
    case 'onnx': {
      const r = await inspectOnnx(source, lim);
      return { format, findings: r.findings, meta: r.meta };
    }
    case 'tar': {
      const r = await inspectTar(source, lim);
      return { format, findings: r.findings, meta: r.meta };
    }
    case 'npy': {
      const r = await inspectNpy(source, lim);
      return { format, findings: r.findings, meta: r.meta };
    }
    case 'hdf5': {
      const r = await inspectHdf5(source, lim);
      return { format, findings: r.findings, meta: r.meta };
    }
    case 'savedmodel': {
      const r = await inspectSavedModel(source, lim);
      return { format, findings: r.findings, meta: r.meta };
    }
    case '7z':
      return { format, findings: [{ kind: 'not-inspected', severity: 'high', detail: '7z archives are not opened by this scanner: what it holds (a pickle, a checkpoint) was not read' }], meta: {} };
    case 'compressed':
      return { format, findings: [{ kind: 'not-inspected', severity: 'high', detail: 'compressed stream not read' }], meta: {} };
    case 'unknown':
      return { format, findings: [], meta: {} };
  }
}

/** The most severe finding's severity, or undefined when there are none. */
export function worstSeverity(findings: readonly Finding[]): Finding['severity'] | undefined {
  const order = ['critical', 'high', 'medium', 'low', 'info'] as const;
  return order.find((s) => findings.some((f) => f.severity === s));
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
