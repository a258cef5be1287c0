import type { InspectLimits } from './constants.js';
import { walkPickle } from './pickle.js';
import type { ByteSource } from './source.js';
import type { Finding, NpyMeta } from './types.js';

const MAGIC = Buffer.from('\x93NUMPY', 'latin1');
const FIRST_PICKLE_READ = 1024 * 1024;

/** True when bytes start with the NumPy array file magic (`\x93NUMPY`). */
export function isNpyMagic(head: Buffer): boolean {
  return head.length >= MAGIC.length && head.subarray(0, MAGIC.length).equals(MAGIC);
}

/** What inspecting one .npy array found. */
export interface NpyInspection {
  readonly findings: Finding[];
  readonly meta: Partial<NpyMeta>;
}

/**
 * A dtype that holds Python objects: the top-level descr (`'|O'`), or a field of a structured
 * one (`[('a', '<i4'), ('b', '|O')]`). Such an array's data is a pickle, and `np.load(…,
 * allow_pickle=True)` unpickles it.
 */
const OBJECT_DESCR = /'descr'\s*:\s*['"][|<>=]?O\d*['"]/;
const OBJECT_FIELD = /\(\s*(?:u?['"][^'"]*['"]|\(\s*['"][^'"]*['"]\s*,\s*['"][^'"]*['"]\s*\))\s*,\s*['"][|<>=]?O\d*['"]/;

/**
 * Inspects a NumPy `.npy` array file: its header (a Python dict literal: descr, fortran_order,
 * shape) is read, never evaluated. An array of objects stores its data as a pickle, which is
 * walked like any other (imports judged, nothing run); numeric data is never read. Reads the
 * header and, for object arrays, at most `limits.pickleBytes` of the data. Never throws for
 * bad bytes.
 */
export async function inspectNpy(source: ByteSource, lim: InspectLimits, path?: string): Promise<NpyInspection> {
  const at = path === undefined ? {} : { path };
  const findings: Finding[] = [];
  const bad = (detail: string): NpyInspection => ({ findings: [{ kind: 'malformed', severity: 'high', ...at, detail: `.npy: ${detail}` }], meta: {} });
  const head = await source.read(0, 12);
  if (!isNpyMagic(head) || head.length < 10) return bad('shorter than its preamble');
  const major = head[6] as number;
  const minor = head[7] as number;
  if (major < 1 || major > 3) return bad(`unknown format version ${major}.${minor}`);
  if (major > 1 && head.length < 12) return bad('shorter than its preamble');
  const headerLength = major === 1 ? head.readUInt16LE(8) : head.readUInt32LE(8);
  const headerStart = major === 1 ? 10 : 12;
  if (headerLength > lim.npyHeaderBytes) {
    return { findings: [{ kind: 'limit', severity: 'medium', ...at, offset: headerStart, detail: `.npy header of ${headerLength} bytes is longer than the ${lim.npyHeaderBytes} inspected (numpy itself refuses headers over 10000 bytes unless told otherwise)` }], meta: { version: `${major}.${minor}` } };
  }
  const dataStart = headerStart + headerLength;
  if (dataStart > source.size) return bad(`header of ${headerLength} bytes runs past the end of the file`);
  const header = (await source.read(headerStart, headerLength)).toString(major === 3 ? 'utf8' : 'latin1');
  const descr = /'descr'\s*:\s*(['"][^'"]*['"]|\[[\s\S]*\])\s*,\s*'(?:fortran_order|shape)'/.exec(header)?.[1] ?? /'descr'\s*:\s*(['"][^'"]*['"])/.exec(header)?.[1];
  if (descr === undefined || !/^\s*\{/.test(header)) return bad('header is not a dict with a descr');
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  const shape = shapeText?.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  const objectDtype = OBJECT_DESCR.test(header) || (descr.startsWith('[') && OBJECT_FIELD.test(descr));
  const meta: NpyMeta = {
    version: `${major}.${minor}`,
    descr: descr.length > 1024 ? `${descr.slice(0, 1024)}…` : descr,
    fortranOrder: fortran === 'True',
    ...(shape !== undefined && shape.every((n) => Number.isSafeInteger(n) && n >= 0) ? { shape } : {}),
    objectDtype,
    dataOffset: dataStart,
  };
  if (!objectDtype) return { findings, meta };

  // The data is one pickle of the array (np.save: pickle.dump(array, protocol=3)).
  const size = source.size - dataStart;
  for (let want = Math.min(FIRST_PICKLE_READ, lim.pickleBytes, size); ; want = Math.min(want * 2, lim.pickleBytes, size)) {
    const bytes = await source.read(dataStart, want);
    const walk = walkPickle(bytes, { complete: bytes.length === size, limits: lim, ...(path === undefined ? {} : { path }) });
    if (walk.needsMore && want < Math.min(lim.pickleBytes, size)) continue;
    if (walk.meta.opcodes === 0 || (bytes[0] !== 0x80 && walk.findings.some((f) => f.kind === 'malformed'))) {
      findings.push({ kind: 'malformed', severity: 'high', ...at, offset: dataStart, detail: '.npy: an object array whose data is not a pickle' });
    } else {
      findings.push(...walk.findings.map((f) => (f.offset === undefined ? f : { ...f, offset: f.offset + dataStart })));
    }
    return { findings, meta: { ...meta, pickle: walk.meta } };
  }
}
