import type { InspectLimits } from './constants.js';
import { walkPickle, type PickleWalk } from './pickle.js';
import type { ByteSource } from './source.js';
import type { Finding, PickleMeta, TarMeta } from './types.js';

const BLOCK = 512;
/** Bytes read at once while stepping through a member's pickles and raw records. */
const WINDOW = 1024 * 1024;
/** The members torch.load's tar loader (the oldest torch.save format) unpickles. */
const TORCH_MEMBERS = ['storages', 'tensors', 'pickle'] as const;
type TorchMember = (typeof TORCH_MEMBERS)[number];

/** Bytes per element of the storage types a legacy checkpoint names (torch.<Type>Storage). */
const ELEMENT_SIZE: Record<string, number> = {
  Double: 8, Float: 4, Half: 2, BFloat16: 2, Long: 8, Int: 4, Short: 2, Char: 1, Byte: 1, Bool: 1,
  ComplexDouble: 16, ComplexFloat: 8, QUInt8: 1, QInt8: 1, QInt32: 4, QUInt4x2: 1, QUInt2x4: 1, Untyped: 1,
};

/** True when the first block is a tar header: its checksum holds (what Python's tarfile checks). */
export function isTarHeader(head: Buffer): boolean {
  if (head.length < BLOCK) return false;
  const stored = octal(head, 148, 8);
  if (stored === undefined) return false;
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : (head[i] as number);
  return sum === stored && head.subarray(0, 100).some((byte) => byte !== 0);
}

function octal(buf: Buffer, at: number, len: number): number | undefined {
  const first = buf[at] as number;
  if (first & 0x80) {
    // base-256 (GNU): big sizes
    let value = 0;
    for (let i = 1; i < len; i++) value = value * 256 + (buf[at + i] as number);
    return Number.isSafeInteger(value) ? value : undefined;
  }
  const text = buf.toString('latin1', at, at + len).replace(/[\0 ]+$/, '').replace(/^ +/, '');
  if (!/^[0-7]*$/.test(text)) return undefined;
  return text === '' ? 0 : Number.parseInt(text, 8);
}

function cstring(buf: Buffer, at: number, len: number): string {
  const raw = buf.subarray(at, at + len);
  const nul = raw.indexOf(0);
  return raw.toString('utf8', 0, nul < 0 ? raw.length : nul);
}

/** What inspecting a tar archive found. */
export interface TarInspection {
  readonly findings: Finding[];
  readonly meta: TarMeta;
}

interface Member { name: string; type: string; offset: number; size: number }

/**
 * Inspects a tar archive the way `torch.load` reads one (the tar format of the first
 * torch.save): the `storages`, `tensors` and `pickle` members are unpickled by it, so every
 * pickle in them is walked, stepping over the raw storage and tensor records between them
 * by the sizes the records declare. A link in one of those places (torch would read another
 * member's bytes) is a high finding. Other members are listed, never read. Never throws for
 * bad bytes; bounded by `tarEntries`, `tarRecords` and `pickleBytes`.
 */
export async function inspectTar(source: ByteSource, lim: InspectLimits): Promise<TarInspection> {
  const findings: Finding[] = [];
  const meta: TarMeta = { entries: 0, torch: false, members: [] };
  const members: Member[] = [];
  let longName: string | undefined;
  /** pax records from global headers (type g): Python's tarfile applies them to every later member. */
  const globalPax = new Map<string, string>();
  let localPax: Map<string, string> | undefined;
  for (let off = 0; off < source.size;) {
    if (off + BLOCK > source.size) {
      findings.push({ kind: 'malformed', severity: 'high', offset: off, detail: 'tar: the archive ends inside a header' });
      break;
    }
    const header = await source.read(off, BLOCK);
    if (header.every((byte) => byte === 0)) break;
    if (!isTarHeader(header)) {
      findings.push({ kind: 'malformed', severity: 'high', offset: off, detail: 'tar: a header whose checksum does not hold' });
      break;
    }
    if (++meta.entries > lim.tarEntries) {
      findings.push({ kind: 'limit', severity: 'medium', offset: off, detail: `tar: more than ${lim.tarEntries} entries; the rest were not read` });
      break;
    }
    const type = String.fromCharCode(header[156] as number);
    const extended = type === 'L' || type === 'x' || type === 'g';
    // A pax `size` record replaces the header's size for the member it applies to (tarfile reads its data that long).
    const paxSize = extended ? undefined : (localPax?.get('size') ?? globalPax.get('size'));
    const size = paxSize !== undefined ? (/^\d+$/.test(paxSize) ? Number(paxSize) : undefined) : octal(header, 124, 12);
    if (size === undefined || !Number.isSafeInteger(size) || off + BLOCK + size > source.size) {
      findings.push({ kind: 'malformed', severity: 'high', offset: off, detail: 'tar: an entry whose size is unreadable or runs past the end' });
      break;
    }
    const data = off + BLOCK;
    const ustarPrefix = header.toString('latin1', 257, 262) === 'ustar' ? cstring(header, 345, 155) : '';
    let name = (ustarPrefix === '' ? '' : `${ustarPrefix}/`) + cstring(header, 0, 100);
    if (extended) {
      // A long name (GNU) or extended header (pax) for the next entry: it renames it.
      if (size > 1024 * 1024) {
        // It could rename the next entry to one torch reads: not read, so not passed either.
        findings.push({ kind: 'malformed', severity: 'high', offset: off, detail: `tar: a ${size}-byte ${type === 'L' ? 'long-name' : 'extended'} header (over 1 MiB)` });
        break;
      }
      const raw = await source.read(data, size);
      if (type === 'L') longName = raw.toString('utf8').replace(/\0.*$/s, '');
      else {
        const records = paxRecords(raw);
        if (records === undefined) {
          // tarfile refuses such a header; what it would name the next member is unknown.
          findings.push({ kind: 'malformed', severity: 'high', offset: off, detail: `tar: a pax ${type === 'g' ? 'global' : 'extended'} header whose records do not parse` });
          break;
        }
        if (type === 'g') for (const [key, value] of records) globalPax.set(key, value);
        else localPax = records;
      }
    } else {
      const pathRecord = localPax?.get('path') ?? globalPax.get('path');
      if (longName !== undefined) name = longName;
      if (pathRecord !== undefined) name = pathRecord;
      longName = undefined;
      localPax = undefined;
      members.push({ name, type, offset: data, size });
    }
    off = data + Math.ceil(size / BLOCK) * BLOCK;
  }
  meta.torch = TORCH_MEMBERS.every((wanted) => members.some((member) => member.name === wanted));
  for (const member of members) {
    const role = (TORCH_MEMBERS as readonly string[]).includes(member.name.replace(/\/+$/, '')) ? (member.name.replace(/\/+$/, '') as TorchMember) : undefined;
    if (role === undefined) continue;
    if (member.type === '1' || member.type === '2') {
      findings.push({ kind: 'malformed', severity: 'high', path: member.name, detail: `tar: ${member.name} is a ${member.type === '1' ? 'hard' : 'symbolic'} link, so torch.load would unpickle the bytes of whatever it names` });
      continue;
    }
    if (member.type !== '0' && member.type !== '\0' && member.type !== '7') continue;
    const result = await walkMember(source, member, role, lim);
    findings.push(...result.findings);
    meta.members.push({ path: member.name, format: 'pickle', meta: result.meta });
  }
  return { findings, meta };
}

/**
 * pax records (`LEN key=value\n`, LEN counting the whole record) read by their lengths, as
 * Python's tarfile does; a later record for a key replaces an earlier one. Undefined when a
 * length does not hold.
 */
function paxRecords(bytes: Buffer): Map<string, string> | undefined {
  const out = new Map<string, string>();
  let at = 0;
  while (at < bytes.length && bytes[at] !== 0) {
    const space = bytes.indexOf(0x20, at);
    if (space < 0) return undefined;
    const len = Number(bytes.toString('latin1', at, space));
    if (!Number.isSafeInteger(len) || len <= space - at + 1 || at + len > bytes.length || bytes[at + len - 1] !== 0x0a) return undefined;
    const record = bytes.toString('utf8', space + 1, at + len - 1);
    const eq = record.indexOf('=');
    if (eq < 0) return undefined;
    out.set(record.slice(0, eq), record.slice(eq + 1));
    at += len;
  }
  return out;
}

/** A read cursor over one member, buffered in windows. */
class Cursor {
  private buf: Buffer = Buffer.alloc(0);
  private at = 0;
  constructor(private readonly source: ByteSource, private readonly m: Member) {}
  get size(): number { return this.m.size; }
  /** Up to `n` bytes at member offset `pos` (fewer at the end). */
  async bytes(pos: number, n: number): Promise<Buffer> {
    const want = Math.min(n, this.m.size - pos);
    if (pos >= this.at && pos + want <= this.at + this.buf.length) return this.buf.subarray(pos - this.at, pos - this.at + want);
    this.at = pos;
    this.buf = await this.source.read(this.m.offset + pos, Math.max(want, Math.min(WINDOW, this.m.size - pos)));
    return this.buf.subarray(0, want);
  }
}

async function walkMember(source: ByteSource, member: Member, role: TorchMember, lim: InspectLimits): Promise<{ findings: Finding[]; meta: PickleMeta }> {
  const findings: Finding[] = [];
  const meta: PickleMeta = { protocol: 0, pickles: 0, opcodes: 0, bytes: 0, imports: [], persistentIds: 0 };
  const cursor = new Cursor(source, member);
  const stop = (kind: 'malformed' | 'limit', at: number, detail: string): { findings: Finding[]; meta: PickleMeta } => {
    findings.push({ kind, severity: kind === 'limit' ? 'medium' : 'high', path: member.name, offset: at, detail: `tar ${role}: ${detail}` });
    return { findings, meta };
  };
  /** Walks the one pickle at `pos`; undefined (with a finding) when it cannot be read whole. */
  const one = async (pos: number): Promise<PickleWalk | undefined> => {
    for (let want = 4096; ; want *= 2) {
      const bytes = await cursor.bytes(pos, Math.min(want, lim.pickleBytes));
      const complete = pos + bytes.length >= cursor.size;
      const walk = walkPickle(bytes, { complete, path: member.name, limits: { ...lim, picklesPerStream: 1 } });
      if (walk.needsMore && !complete && want < lim.pickleBytes) continue;
      meta.protocol = Math.max(meta.protocol, walk.meta.protocol);
      meta.pickles += walk.meta.pickles;
      meta.opcodes += walk.meta.opcodes;
      meta.bytes += walk.end;
      for (const imp of walk.meta.imports) if (meta.imports.length < lim.pickleImports && !meta.imports.some((known) => known.module === imp.module && known.name === imp.name)) meta.imports.push({ ...imp, offset: imp.offset + pos });
      meta.persistentIds += walk.meta.persistentIds;
      findings.push(...walk.findings.map((finding) => (finding.offset === undefined ? finding : { ...finding, offset: finding.offset + pos })));
      return walk.findings.some((finding) => finding.kind === 'malformed' || finding.kind === 'limit') ? undefined : walk;
    }
  };
  if (role === 'pickle') {
    await one(0);
    return { findings, meta };
  }
  // storages: count; per storage an args pickle (key, location, torch.<T>Storage), an int64
  // element count and the raw elements; then the storage views pickle.
  // tensors: count; per tensor an args pickle, int32 ndim, 4 bytes, ndim int64 sizes and
  // strides, an int64 offset.
  const first = await one(0);
  if (first === undefined) return { findings, meta };
  const count = smallInt(await cursor.bytes(0, first.end));
  if (count === undefined) return stop('limit', 0, 'the record count is not a plain integer: the records were not walked');
  if (count > lim.tarRecords) return stop('limit', 0, `${count} records, more than the ${lim.tarRecords} walked`);
  let pos = first.end;
  for (let i = 0; i < count; i++) {
    const args = await one(pos);
    if (args === undefined) return { findings, meta };
    pos += args.end;
    if (role === 'storages') {
      const type = args.meta.imports.map((imp) => /^(?:torch|torch\.cuda)$/.test(imp.module) ? /^(\w+)Storage$/.exec(imp.name)?.[1] : undefined).find((storage) => storage !== undefined);
      const size = type === undefined ? undefined : ELEMENT_SIZE[type];
      if (size === undefined) return stop('limit', pos, 'a storage record names no storage type known here: the rest was not walked');
      const countBytes = await cursor.bytes(pos, 8);
      if (countBytes.length < 8) return stop('malformed', pos, 'a storage record ends early');
      const elements = countBytes.readBigUInt64LE(0);
      const next = BigInt(pos) + 8n + elements * BigInt(size);
      if (next > BigInt(cursor.size)) return stop('malformed', pos, `a storage declares ${elements} elements, past the end of the member`);
      pos = Number(next);
    } else {
      const dims = await cursor.bytes(pos, 8);
      if (dims.length < 8) return stop('malformed', pos, 'a tensor record ends early');
      const ndim = dims.readInt32LE(0);
      if (ndim < 0 || ndim > 64) return stop('malformed', pos, `a tensor with ${ndim} dimensions`);
      pos += 8 + 16 * ndim + 8;
      if (pos > cursor.size) return stop('malformed', pos, 'a tensor record runs past the end of the member');
    }
  }
  if (role === 'storages') await one(pos);
  return { findings, meta };
}

/** The integer a tiny pickle holds (PROTO, BININT1/BININT2/BININT, STOP), if that is all it is. */
function smallInt(data: Buffer): number | undefined {
  try {
    return smallIntOf(data);
  } catch {
    return undefined; // shorter than its opcode says
  }
}

function smallIntOf(data: Buffer): number | undefined {
  let i = data[0] === 0x80 ? 2 : 0;
  const op = data[i++];
  let value: number | undefined;
  if (op === 0x4b) value = data[i++];
  else if (op === 0x4d) { value = data.readUInt16LE(i); i += 2; }
  else if (op === 0x4a) { value = data.readInt32LE(i); i += 4; }
  if (data[i] === 0x94) i++; // MEMOIZE
  return value !== undefined && value >= 0 && data[i] === 0x2e && i === data.length - 1 ? value : undefined;
}
