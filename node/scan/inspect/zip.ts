import { inflateRawSync } from 'node:zlib';
import { INSPECT_LIMITS, type InspectLimits } from './constants.js';
import type { ByteSource } from './source.js';

/** One member of a zip archive, as its central directory declares it. */
export interface ZipEntry {
  /** The name as Python's zipfile sees it: cut at the first NUL. */
  readonly name: string;
  /** The name as the central directory writes it (local headers must match it). */
  readonly rawName?: string;
  /** 0 stored, 8 deflated; anything else is not read. */
  readonly method: number;
  readonly encrypted: boolean;
  readonly compressedSize: number;
  readonly uncompressedSize: number;
  readonly localHeaderOffset: number;
}

/** A central directory, or why it could not be read. */
export type ZipDirectory =
  | { readonly ok: true; readonly entries: ZipEntry[]; readonly directoryOffset: number; readonly overlapping: string[] }
  | { readonly ok: false; readonly why: 'malformed' | 'limit'; readonly detail: string };

/** A member's bytes, or why they were not read. */
export type ZipMember =
  | { readonly ok: true; readonly bytes: Buffer }
  | { readonly ok: false; readonly why: 'malformed' | 'limit' | 'zip-bomb'; readonly detail: string };

const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_LOCAL = 0x04034b50;
const EOCD_SIZE = 22;
const CENTRAL_SIZE = 46;
const LOCAL_SIZE = 30;
const MAX_COMMENT = 0xffff;
const U32_MAX = 0xffffffff;

/**
 * True when bytes start like a zip archive: a local file header, or an end record (an empty
 * archive, which np.load also opens as a zip; readers find the last end record in the file).
 */
export function isZipMagic(head: Buffer): boolean {
  return head.length >= 4 && (head.readUInt32LE(0) === SIG_LOCAL || head.readUInt32LE(0) === SIG_EOCD);
}

function u64(buf: Buffer, at: number): number {
  const value = buf.readBigUInt64LE(at);
  return value > BigInt(Number.MAX_SAFE_INTEGER) ? Number.POSITIVE_INFINITY : Number(value);
}

/**
 * Reads a zip central directory (ZIP64 included) from the end of a source, checking every
 * count, size and offset against the source and `limits` before using it. Never throws for bad
 * bytes: a directory that lies is `{ ok: false }` with the reason.
 */
export async function readZipDirectory(source: ByteSource, limits: Partial<InspectLimits> = {}): Promise<ZipDirectory> {
  const lim = { ...INSPECT_LIMITS, ...limits };
  const bad = (detail: string): ZipDirectory => ({ ok: false, why: 'malformed', detail });
  if (source.size < EOCD_SIZE) return bad('too short for a zip end-of-central-directory record');
  const tailStart = Math.max(0, source.size - EOCD_SIZE - MAX_COMMENT);
  const tail = await source.read(tailStart, source.size - tailStart);
  // The last end-record signature with a whole record after it, whatever its comment length
  // says: that is the one miniz (torch.load) and Python's zipfile (np.load, Keras) read. Skipping
  // one whose comment runs past the file would read another archive than they do.
  let eocd = -1;
  for (let i = tail.length - EOCD_SIZE; i >= 0; i--) {
    if (tail.readUInt32LE(i) === SIG_EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) return bad('no end-of-central-directory record');
  let count = tail.readUInt16LE(eocd + 10);
  let dirSize = tail.readUInt32LE(eocd + 12);
  let dirOffset = tail.readUInt32LE(eocd + 16);
  let dirLimit = tailStart + eocd;
  if (eocd >= 20 && tail.readUInt32LE(eocd - 20) === SIG_ZIP64_LOCATOR) {
    const recAt = u64(tail, eocd - 12);
    if (!(recAt + 56 <= tailStart + eocd - 20)) return bad('ZIP64 end record offset is outside the file');
    const rec = await source.read(recAt, 56);
    if (rec.length < 56 || rec.readUInt32LE(0) !== SIG_ZIP64_EOCD) return bad('ZIP64 locator points at no ZIP64 end record');
    count = u64(rec, 32);
    dirSize = u64(rec, 40);
    dirOffset = u64(rec, 48);
    dirLimit = recAt;
  }
  if (count > lim.zipEntries) return { ok: false, why: 'limit', detail: `archive declares ${count} entries, more than ${lim.zipEntries}` };
  if (dirSize > lim.zipDirectoryBytes) return { ok: false, why: 'limit', detail: `central directory of ${dirSize} bytes, more than ${lim.zipDirectoryBytes}` };
  if (!(dirOffset + dirSize <= dirLimit)) return bad(`central directory (offset ${dirOffset}, ${dirSize} bytes) lies outside the file`);
  const dir = await source.read(dirOffset, dirSize);
  const entries: ZipEntry[] = [];
  let pos = 0;
  for (let i = 0; i < count; i++) {
    if (pos + CENTRAL_SIZE > dir.length || dir.readUInt32LE(pos) !== SIG_CENTRAL) return bad(`central directory entry ${i} is missing or truncated`);
    const flags = dir.readUInt16LE(pos + 8);
    const method = dir.readUInt16LE(pos + 10);
    let compressedSize = dir.readUInt32LE(pos + 20);
    let uncompressedSize = dir.readUInt32LE(pos + 24);
    const nameLen = dir.readUInt16LE(pos + 28);
    const extraLen = dir.readUInt16LE(pos + 30);
    const commentLen = dir.readUInt16LE(pos + 32);
    let localHeaderOffset = dir.readUInt32LE(pos + 42);
    const next = pos + CENTRAL_SIZE + nameLen + extraLen + commentLen;
    if (next > dir.length) return bad(`central directory entry ${i} runs past the directory`);
    const name = dir.toString('utf8', pos + CENTRAL_SIZE, pos + CENTRAL_SIZE + nameLen);
    const extra = dir.subarray(pos + CENTRAL_SIZE + nameLen, pos + CENTRAL_SIZE + nameLen + extraLen);
    for (let at = 0; at + 4 <= extra.length; ) {
      const id = extra.readUInt16LE(at);
      const len = extra.readUInt16LE(at + 2);
      if (id === 0x0001) {
        let cursor = at + 4;
        const take = (): number => {
          if (cursor + 8 > at + 4 + len || cursor + 8 > extra.length) return Number.NaN;
          cursor += 8;
          return u64(extra, cursor - 8);
        };
        if (uncompressedSize === U32_MAX) uncompressedSize = take();
        if (compressedSize === U32_MAX) compressedSize = take();
        if (localHeaderOffset === U32_MAX) localHeaderOffset = take();
      }
      at += 4 + len;
    }
    if (![compressedSize, uncompressedSize, localHeaderOffset].every(Number.isFinite)) return bad(`entry ${name}: ZIP64 sizes are missing or impossible`);
    if (localHeaderOffset + LOCAL_SIZE + compressedSize > dirOffset) return bad(`entry ${name}: its data (offset ${localHeaderOffset}, ${compressedSize} bytes) lies outside the archive`);
    const nul = name.indexOf('\u0000');
    entries.push({ name: nul < 0 ? name : name.slice(0, nul), ...(nul < 0 ? {} : { rawName: name }), method, encrypted: (flags & 1) === 1, compressedSize, uncompressedSize, localHeaderOffset });
    pos = next;
  }
  return { ok: true, entries, directoryOffset: dirOffset, overlapping: overlaps(entries) };
}

/** Entries whose data runs into the next entry's header: the shape of a non-recursive zip bomb. */
function overlaps(entries: readonly ZipEntry[]): string[] {
  const sorted = [...entries].sort((a, b) => a.localHeaderOffset - b.localHeaderOffset);
  const out: string[] = [];
  for (let i = 0; i + 1 < sorted.length; i++) {
    const entry = sorted[i] as ZipEntry;
    const following = sorted[i + 1] as ZipEntry;
    if (entry.localHeaderOffset + LOCAL_SIZE + Buffer.byteLength(entry.rawName ?? entry.name) + entry.compressedSize > following.localHeaderOffset) out.push(entry.name);
  }
  return out;
}

/**
 * Where each entry's data starts, read from its local header, with the first bytes of the data.
 * A local name that differs from the central one is reported: readers that trust local headers
 * would see another archive.
 */
export async function readLocalHeader(
  source: ByteSource,
  entry: ZipEntry,
  peek = 0,
): Promise<{ ok: true; dataStart: number; head: Buffer } | { ok: false; detail: string }> {
  const header = await source.read(entry.localHeaderOffset, LOCAL_SIZE);
  if (header.length < LOCAL_SIZE || header.readUInt32LE(0) !== SIG_LOCAL) return { ok: false, detail: `entry ${entry.name}: no local header at offset ${entry.localHeaderOffset}` };
  const nameLen = header.readUInt16LE(26);
  const extraLen = header.readUInt16LE(28);
  const dataStart = entry.localHeaderOffset + LOCAL_SIZE + nameLen + extraLen;
  const rest = await source.read(entry.localHeaderOffset + LOCAL_SIZE, nameLen + extraLen + Math.min(peek, entry.compressedSize));
  const localName = rest.toString('utf8', 0, nameLen);
  if (localName !== (entry.rawName ?? entry.name)) return { ok: false, detail: `entry ${entry.name}: its local header names it ${JSON.stringify(localName.slice(0, 200))}` };
  if (dataStart + entry.compressedSize > source.size) return { ok: false, detail: `entry ${entry.name}: its data runs past the end of the file` };
  return { ok: true, dataStart, head: rest.subarray(nameLen + extraLen) };
}

/** The declared compression ratio of an entry, when it is beyond what model files do. */
export function bombRatio(entry: ZipEntry, limits: Partial<InspectLimits> = {}): number | undefined {
  const lim = { ...INSPECT_LIMITS, ...limits };
  if (entry.uncompressedSize < 1024 * 1024) return undefined;
  const ratio = entry.uncompressedSize / Math.max(1, entry.compressedSize);
  return ratio > lim.zipRatio ? ratio : undefined;
}

/**
 * One member's uncompressed bytes, stored or deflated, at most `zipMemberBytes` of them.
 * Inflation is capped at the declared size: a member that inflates past it, or short of it, is
 * malformed, and nothing larger than the cap is ever held.
 */
export async function readZipMember(source: ByteSource, entry: ZipEntry, limits: Partial<InspectLimits> = {}): Promise<ZipMember> {
  const lim = { ...INSPECT_LIMITS, ...limits };
  if (entry.encrypted) return { ok: false, why: 'limit', detail: `entry ${entry.name} is encrypted and cannot be inspected` };
  if (entry.method !== 0 && entry.method !== 8) return { ok: false, why: 'limit', detail: `entry ${entry.name} uses compression method ${entry.method}, which is not read` };
  if (entry.uncompressedSize > lim.zipMemberBytes || entry.compressedSize > lim.zipMemberBytes) {
    return { ok: false, why: 'limit', detail: `entry ${entry.name} is ${entry.uncompressedSize} bytes, more than the ${lim.zipMemberBytes} inspected` };
  }
  const ratio = bombRatio(entry, lim);
  if (ratio !== undefined) return { ok: false, why: 'zip-bomb', detail: `entry ${entry.name} declares ${entry.uncompressedSize} bytes from ${entry.compressedSize} (ratio ${Math.round(ratio)})` };
  const local = await readLocalHeader(source, entry);
  if (!local.ok) return { ok: false, why: 'malformed', detail: local.detail };
  const raw = await source.read(local.dataStart, entry.compressedSize);
  if (entry.method === 0) {
    if (entry.compressedSize !== entry.uncompressedSize) return { ok: false, why: 'malformed', detail: `stored entry ${entry.name} declares ${entry.compressedSize} bytes stored but ${entry.uncompressedSize} uncompressed` };
    return { ok: true, bytes: raw };
  }
  try {
    const out = inflateRawSync(raw, { maxOutputLength: Math.max(1, entry.uncompressedSize) });
    if (out.length !== entry.uncompressedSize) return { ok: false, why: 'malformed', detail: `entry ${entry.name} inflates to ${out.length} bytes, not the ${entry.uncompressedSize} declared` };
    return { ok: true, bytes: out };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ERR_BUFFER_TOO_LARGE') return { ok: false, why: 'zip-bomb', detail: `entry ${entry.name} inflates past the ${entry.uncompressedSize} bytes it declares` };
    return { ok: false, why: 'malformed', detail: `entry ${entry.name} does not inflate: ${(e as Error).message}` };
  }
}
