import { constants as zlibConstants, inflateRawSync } from 'node:zlib';
import { INSPECT_LIMITS, type InspectLimits } from './constants.js';
import { inspectKerasConfig, KERAS_MARKERS } from './keras.js';
import { inspectNpy, isNpyMagic } from './npy.js';
import { walkPickle } from './pickle.js';
import { bufferSource, type ByteSource } from './source.js';
import type { Finding, ZipMeta } from './types.js';
import { bombRatio, isZipMagic, readLocalHeader, readZipDirectory, readZipMember, type ZipEntry } from './zip.js';

/** What inspecting a zip archive found, and whether it is a PyTorch checkpoint. */
export interface ArchiveInspection {
  readonly pytorch: boolean;
  readonly findings: Finding[];
  readonly meta: ZipMeta;
}

const PICKLE_NAME = /\.(?:pkl|pickle)$/i;
const ARCHIVE_NAME = /\.(?:zip|pt|pth|bin|ckpt|npz|keras|mar|nemo)$/i;
const NPY_NAME = /\.npy$/i;
/** Compressed bytes inflated to read the header of a large deflated .npy member (a header np.save writes is well under 4 KiB). */
const NPY_HEAD_COMPRESSED = 4 * 1024;
/** Compressed bytes inflated to see whether a member not named .npy starts with the NumPy magic. */
const SNIFF_COMPRESSED = 32;
/** Bytes the partial inflations of one archive (sniffs, large members' headers) may produce, together. */
const SNIFF_BUDGET = 64 * 1024 * 1024;
/** What they can inflate to: deflate's own ceiling is about 1032 to 1. */
const NPY_HEAD_INFLATED = 1032 * NPY_HEAD_COMPRESSED + 1024;
/** PyTorch tensor storages (`archive/data/0`): raw numbers, never sniffed. */
const STORAGE_NAME = /(?:^|\/)data\/\d+$/;

/** True when a member name is where torch.save puts the pickle of a zip checkpoint. */
export function isTorchDataPickle(name: string): boolean {
  return name === 'data.pkl' || name.endsWith('/data.pkl');
}

function looksLikePickle(head: Buffer): boolean {
  return head[0] === 0x80 && (head[1] ?? 0xff) >= 2 && (head[1] ?? 0xff) <= 5;
}

/**
 * Inspects a zip archive: every pickle member (`data.pkl`, `constants.pkl`, any `*.pkl`, and
 * members that start like a pickle) is walked with {@link walkPickle}, archives inside it are
 * opened to `limits.zipDepth`, and members whose declared sizes mark a zip bomb are reported.
 * Tensor storages are never read. Never throws for bad bytes.
 */
export async function inspectArchive(
  source: ByteSource,
  opts: { limits?: Partial<InspectLimits>; depth?: number; prefix?: string; total?: { left: number } } = {},
): Promise<ArchiveInspection> {
  const lim = { ...INSPECT_LIMITS, ...opts.limits };
  const depth = opts.depth ?? 0;
  const prefix = opts.prefix ?? '';
  const findings: Finding[] = [];
  const meta: ZipMeta = { entries: 0, pickles: [], members: [] };
  const dir = await readZipDirectory(source, lim);
  if (!dir.ok) {
    const where = prefix === '' ? {} : { path: prefix.slice(0, -1) };
    findings.push({ kind: dir.why, severity: dir.why === 'limit' ? 'medium' : 'high', ...where, detail: `zip archive: ${dir.detail}` });
    return { pytorch: false, findings, meta };
  }
  meta.entries = dir.entries.length;
  for (const name of dir.overlapping) {
    findings.push({ kind: 'zip-bomb', severity: 'high', path: prefix + name, detail: `entry ${name} overlaps the next entry's data (overlapping entries are how non-recursive zip bombs multiply)` });
  }
  const pytorch = dir.entries.some((e) => isTorchDataPickle(e.name));
  const keras = dir.entries.some((e) => e.name === 'config.json') && dir.entries.some((e) => KERAS_MARKERS.includes(e.name));
  const overlapping = new Set(dir.overlapping);
  const seenData = new Set<number>();
  const sniff = { budget: SNIFF_BUDGET, spent: false };
  let opened = 0;
  const total = opts.total ?? { left: lim.zipTotalBytes };
  for (const entry of dir.entries) {
    const path = prefix + entry.name;
    // An entry listed again, or overlapping another (already a zip-bomb finding), is read once at most.
    if (overlapping.has(entry.name) || seenData.has(entry.localHeaderOffset)) continue;
    seenData.add(entry.localHeaderOffset);
    const ratio = bombRatio(entry, lim);
    if (ratio !== undefined) {
      findings.push({ kind: 'zip-bomb', severity: 'high', path, detail: `declares ${entry.uncompressedSize} bytes from ${entry.compressedSize} compressed (ratio ${Math.round(ratio)}, limit ${lim.zipRatio})` });
      continue;
    }
    if (entry.name.endsWith('/') || STORAGE_NAME.test(entry.name)) continue;
    // Each member looked into costs reads and a walk: a hostile archive of 65,535 tiny pickles is
    // cut off here, and what was not opened is a limit (the gate denies it).
    if (++opened > lim.zipMembersOpened) {
      findings.push({ kind: 'limit', severity: 'high', path: prefix.slice(0, -1) || entry.name, detail: `more than ${lim.zipMembersOpened} members to open: the rest of the archive was not inspected` });
      break;
    }
    // Each member's walk is bounded; together they are too: many members each just under a
    // bound (config.json walks, 1 MiB pickles) would otherwise cost minutes. Charged for what
    // is read whole; a plain array's header is not.
    const charge = (): boolean => {
      total.left -= Math.min(entry.uncompressedSize, lim.zipMemberBytes);
      if (total.left >= 0) return true;
      findings.push({ kind: 'limit', severity: 'high', path, detail: `the archive's members read add up to more than ${lim.zipTotalBytes} bytes: the rest was not inspected` });
      return false;
    };
    if (entry.name === 'config.json') {
      // keras.saving.load_model builds the model from config.json before it looks for weights.
      if (entry.uncompressedSize > lim.kerasConfigBytes) {
        if (keras) findings.push({ kind: 'limit', severity: 'medium', path, detail: `Keras config of ${entry.uncompressedSize} bytes is larger than the ${lim.kerasConfigBytes} inspected` });
        continue;
      }
      if (!charge()) break;
      const member = await readZipMember(source, entry, lim);
      if (!member.ok) findings.push({ kind: member.why, severity: member.why === 'limit' ? 'medium' : 'high', path, detail: member.detail });
      // keras.saving.load_model deserializes config.json whatever else the archive holds and
      // whatever its shape (a dict or list around the model is recursed into): always walked.
      else {
        findings.push(...inspectKerasConfig(member.bytes, lim, path));
        meta.members.push({ path, format: 'keras-config' });
      }
      continue;
    }
    if (await isNpyMember(source, entry, sniff, findings, path)) {
      if (entry.method === 8 && entry.uncompressedSize <= lim.zipMemberBytes && !charge()) break;
      const src = await npyMemberSource(source, entry, lim, sniff);
      if (!src.ok) {
        findings.push({ kind: src.why, severity: src.why === 'limit' ? 'medium' : 'high', path, detail: src.detail });
        continue;
      }
      const r = await inspectNpy(src.source, lim, path);
      findings.push(...r.findings);
      if (r.meta.objectDtype === true) meta.pickles.push(path);
      meta.members.push({ path, format: 'npy', ...(r.meta.pickle === undefined ? {} : { meta: r.meta.pickle }) });
      continue;
    }
    const guess = await memberKind(source, entry, findings, path);
    if (guess === undefined) continue;
    if (guess === 'zip' && depth + 1 > lim.zipDepth) {
      findings.push({ kind: 'limit', severity: 'medium', path, detail: `archive nested deeper than ${lim.zipDepth}: not opened` });
      continue;
    }
    if (!charge()) break;
    const member = await readZipMember(source, entry, lim);
    if (!member.ok) {
      findings.push({ kind: member.why, severity: member.why === 'limit' ? 'medium' : 'high', path, detail: member.detail });
      continue;
    }
    const kind = guess !== 'sniff' ? guess : isZipMagic(member.bytes) ? 'zip' : looksLikePickle(member.bytes) || PICKLE_NAME.test(entry.name) ? 'pickle' : undefined;
    if (kind === undefined) continue;
    if (kind === 'zip' && depth + 1 > lim.zipDepth) {
      findings.push({ kind: 'limit', severity: 'medium', path, detail: `archive nested deeper than ${lim.zipDepth}: not opened` });
      continue;
    }
    if (kind === 'pickle') meta.pickles.push(path);
    if (kind === 'pickle') {
      const walk = walkPickle(member.bytes, { path, limits: lim });
      findings.push(...walk.findings);
      meta.members.push({ path, format: 'pickle', meta: walk.meta });
    } else {
      const inner = await inspectArchive(bufferSource(member.bytes), { limits: lim, depth: depth + 1, prefix: `${path}!`, total });
      findings.push(...inner.findings);
      meta.pickles.push(...inner.meta.pickles);
      meta.members.push({ path, format: 'zip' }, ...inner.meta.members);
    }
  }
  return { pytorch, findings, meta };
}

/** Whether a member is a pickle or an archive to open, by name and then by its first bytes. */
async function memberKind(source: ByteSource, entry: ZipEntry, findings: Finding[], path: string): Promise<'pickle' | 'zip' | 'sniff' | undefined> {
  const named = PICKLE_NAME.test(entry.name) ? 'pickle' : undefined;
  if (entry.method !== 0 || entry.encrypted) {
    // A compressed member's first bytes are not its content: read the likely ones, then look.
    return PICKLE_NAME.test(entry.name) || ARCHIVE_NAME.test(entry.name) ? 'sniff' : undefined;
  }
  const local = await readLocalHeader(source, entry, 4);
  if (!local.ok) {
    findings.push({ kind: 'malformed', severity: 'high', path, detail: local.detail });
    return undefined;
  }
  if (isZipMagic(local.head)) return 'zip';
  if (named || looksLikePickle(local.head)) return 'pickle';
  return undefined;
}

/**
 * A `.npy` member: by name, or by content: np.load reads any member of an archive that
 * starts with the NumPy magic as an array. A compressed member's first bytes are inflated
 * to see (within a budget for the whole archive; past it, a limit finding once).
 */
async function isNpyMember(source: ByteSource, entry: ZipEntry, sniff: { budget: number; spent: boolean }, findings: Finding[], path: string): Promise<boolean> {
  if (NPY_NAME.test(entry.name)) return true;
  if (entry.encrypted || (entry.method !== 0 && entry.method !== 8)) return false;
  const local = await readLocalHeader(source, entry, entry.method === 0 ? 6 : SNIFF_COMPRESSED);
  if (!local.ok) return false;
  if (entry.method === 0) return isNpyMagic(local.head);
  if (sniff.budget <= 0) {
    if (!sniff.spent) findings.push({ kind: 'limit', severity: 'medium', path, detail: `more compressed members than can be opened to look for NumPy arrays (${SNIFF_BUDGET} bytes inflated in all): the rest were not` });
    sniff.spent = true;
    return false;
  }
  try {
    const out = inflateRawSync(local.head, { finishFlush: zlibConstants.Z_SYNC_FLUSH, maxOutputLength: 1032 * SNIFF_COMPRESSED + 1024 });
    sniff.budget -= out.length;
    return isNpyMagic(out);
  } catch {
    return false;
  }
}

/**
 * The bytes of a .npy member, as a source an inspector reads what it needs from: a window
 * on the archive for a stored member (np.savez); the whole member, inflated, for a
 * compressed one (np.savez_compressed) up to `zipMemberBytes`; past that, what the first
 * 4 KiB of compressed bytes inflate to (the header; reads beyond it come back short),
 * charged to the archive's budget of partial inflations.
 */
async function npyMemberSource(
  source: ByteSource,
  entry: ZipEntry,
  lim: InspectLimits,
  sniff: { budget: number },
): Promise<{ ok: true; source: ByteSource } | { ok: false; why: 'malformed' | 'limit' | 'zip-bomb'; detail: string }> {
  if (entry.encrypted) return { ok: false, why: 'limit', detail: `entry ${entry.name} is encrypted and cannot be inspected` };
  if (entry.method !== 0 && entry.method !== 8) return { ok: false, why: 'limit', detail: `entry ${entry.name} uses compression method ${entry.method}, which is not read` };
  if (entry.method === 8 && entry.uncompressedSize <= lim.zipMemberBytes) {
    const m = await readZipMember(source, entry, lim);
    return m.ok ? { ok: true, source: bufferSource(m.bytes) } : m;
  }
  const local = await readLocalHeader(source, entry);
  if (!local.ok) return { ok: false, why: 'malformed', detail: local.detail };
  const size = entry.uncompressedSize;
  if (entry.method === 0) {
    if (entry.compressedSize !== size) return { ok: false, why: 'malformed', detail: `stored entry ${entry.name} declares ${entry.compressedSize} bytes stored but ${size} uncompressed` };
    const start = local.dataStart;
    return { ok: true, source: { size, read: (offset, length) => source.read(start + Math.max(0, offset), Math.max(0, Math.min(length, size - offset))) } };
  }
  if (sniff.budget <= 0) return { ok: false, why: 'limit', detail: `entry ${entry.name}: this archive's partial inflations reached ${SNIFF_BUDGET} bytes; its header was not read` };
  let head: Buffer;
  try {
    const compressed = await source.read(local.dataStart, Math.min(entry.compressedSize, NPY_HEAD_COMPRESSED));
    head = inflateRawSync(compressed, { finishFlush: zlibConstants.Z_SYNC_FLUSH, maxOutputLength: NPY_HEAD_INFLATED });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ERR_BUFFER_TOO_LARGE') return { ok: false, why: 'zip-bomb', detail: `entry ${entry.name}: its first ${NPY_HEAD_COMPRESSED} compressed bytes inflate past ${NPY_HEAD_INFLATED}` };
    return { ok: false, why: 'malformed', detail: `entry ${entry.name} does not inflate: ${(e as Error).message}` };
  }
  sniff.budget -= head.length;
  const prefix = bufferSource(head);
  return { ok: true, source: { size, read: (offset, length) => prefix.read(offset, length) } };
}
