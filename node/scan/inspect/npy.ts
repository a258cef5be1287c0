import type { InspectLimits } from './constants.js';
import { walkPickleSource } from './pickle.js';
import type { ByteSource } from './source.js';
import type { Finding, NpyMeta } from './types.js';

const MAGIC = Buffer.from('\x93NUMPY', 'latin1');

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
 * The header np.save writes for an array of plain values, and nothing else: exactly the
 * keys descr, fortran_order and shape in that order, single-quoted, a numeric, bytes,
 * string or datetime type (or a flat list of named fields of those), integer dimensions.
 * numpy reads the header with ast.literal_eval and takes any dtype it can build, so a
 * header that is not this one (quotes, escapes, comments, duplicate keys, names, objects,
 * StringDType…) is not trusted to mean plain data: its data is walked as a pickle.
 * Written without ambiguous repetition, so it runs in linear time on hostile headers.
 */
const TYPESTR = String.raw`'[|<>=]?(?:[?bBhHiIlLqQpPeEfdgFDGuifcSUVa]\d*|[mM]8(?:\[\w+\])?)'`;
const DIMS = String.raw`\(\s*(?:\d+\s*(?:,\s*\d+\s*)*(?:,\s*)?)?\)`;
const FIELD = String.raw`\(\s*'[^'\\\n]*'\s*,\s*${TYPESTR}\s*(?:,\s*${DIMS}\s*)?\)`;
const PLAIN_HEADER = new RegExp(String.raw`^\{\s*'descr'\s*:\s*(${TYPESTR}|\[\s*${FIELD}\s*(?:,\s*${FIELD}\s*)*(?:,\s*)?\])\s*,\s*'fortran_order'\s*:\s*(True|False)\s*,\s*'shape'\s*:\s*(${DIMS})\s*(?:,\s*)?\}\s*$`);

/**
 * Inspects a NumPy `.npy` array file: its header (a Python dict literal: descr, fortran_order,
 * shape) is matched, never evaluated. An array of objects stores its data as a pickle, which is
 * walked like any other (imports judged, nothing run); so is the data under any header that
 * is not a plain array's (fail closed). Plain numeric data is never read. Reads the
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
  const plain = PLAIN_HEADER.exec(header);
  const objectDtype = plain === null;
  const shape = plain?.[3]?.slice(1, -1).split(',').map((x) => x.trim()).filter((x) => x !== '').map(Number);
  const meta: NpyMeta = {
    version: `${major}.${minor}`,
    ...(plain ? { descr: (plain[1] as string).slice(0, 1024), fortranOrder: plain[2] === 'True' } : {}),
    ...(shape !== undefined && shape.every((n) => Number.isSafeInteger(n)) ? { shape } : {}),
    objectDtype,
    dataOffset: dataStart,
  };
  if (!objectDtype) return { findings, meta };

  // The data is one pickle of the array (np.save: pickle.dump(array, protocol=3)).
  const walk = await walkPickleSource(source, lim, dataStart, path);
  if (walk.meta.imports.length > 0 || !walk.findings.some((f) => f.kind === 'malformed')) {
    // A pickle, whole or broken: what it imports ran before any break.
    findings.push(...walk.findings.map((f) => (f.offset === undefined ? f : { ...f, offset: f.offset + dataStart })));
  } else {
    findings.push({ kind: 'limit', severity: 'medium', ...at, offset: dataStart, detail: '.npy: the header is not one np.save writes for plain values, and the data is not a pickle either: numpy may read it in ways not inspected here' });
  }
  return { findings, meta: { ...meta, pickle: walk.meta } };
}
