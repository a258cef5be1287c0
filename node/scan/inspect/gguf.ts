import { inspectChatTemplate } from './chat-template.js';
import { INSPECT_LIMITS, type InspectLimits } from './constants.js';
import { GGML_TYPES, GGUF_SCALAR_BYTES, GGUF_VALUE } from './gguf-types.js';
import { readPrefix, type ByteSource } from './source.js';
import type { Finding, GgufMeta } from './types.js';

/** What GGUF inspection found: findings and whatever of the header was read before any break. */
export interface GgufInspection {
  readonly findings: Finding[];
  readonly meta: Partial<GgufMeta>;
}

type Scalar = string | number | boolean;

class Stop extends Error {
  constructor(readonly why: 'malformed' | 'truncated' | 'limit', message: string) {
    super(message);
  }
}

const MAGIC = 0x46554747; // "GGUF" read little-endian
const KEPT_STRING = 1024;
const DEFAULT_ALIGNMENT = 32;
/** Chat templates of one file parsed together, at most, in units of `chatTemplateBytes` (llama.cpp knows a handful of named ones). */
const CHAT_TEMPLATE_BUDGET = 4;

/** `tokenizer.chat_template`, and the named templates beside it (`tokenizer.chat_template.tool_use`). */
function isChatTemplateKey(key: string): boolean {
  return key === 'tokenizer.chat_template' || key.startsWith('tokenizer.chat_template.');
}

/** True when bytes start with the GGUF magic. */
export function isGgufMagic(head: Buffer): boolean {
  return head.length >= 4 && head.readUInt32LE(0) === MAGIC;
}

/**
 * Parses a GGUF (v1–v3, either byte order) header: metadata keys and values, then tensor
 * infos, with every count, length and offset checked against the file's size and `limits`
 * before use. Reads at most `ggufHeaderBytes` from the start. Reports architecture, name,
 * license, base models and whether a chat template is present; a truncated or lying header, a
 * duplicate key or tensor, or a tensor whose data lies outside the file is a `malformed`
 * finding. Each chat template (`tokenizer.chat_template`, `tokenizer.chat_template.NAME`) is
 * judged by {@link inspectChatTemplate} as it is read (loaders such as llama-cpp-python render
 * it with jinja2), its findings carrying the key as their path. Never throws for bad bytes.
 */
export async function inspectGguf(source: ByteSource, limits: Partial<InspectLimits> = {}): Promise<GgufInspection> {
  const lim = { ...INSPECT_LIMITS, ...limits };
  const buf = await readPrefix(source, lim.ggufHeaderBytes);
  return parseGgufHeader(buf, source.size, lim);
}

function parseGgufHeader(buf: Buffer, fileSize: number, lim: InspectLimits): GgufInspection {
  const findings: Finding[] = [];
  const meta: Partial<GgufMeta> = { baseModels: [], hasChatTemplate: false, general: {}, alignment: DEFAULT_ALIGNMENT };
  const general: Record<string, Scalar> = {};
  let templateBytesLeft = lim.chatTemplateBytes * CHAT_TEMPLATE_BUDGET;
  let pos = 0;
  let le = true;

  const need = (n: number, what: string): void => {
    if (pos + n <= buf.length) return;
    if (pos + n <= fileSize) throw new Stop('limit', `${what} lies past the ${buf.length} header bytes inspected`);
    throw new Stop('truncated', `header truncated: ${what} at byte ${pos} needs ${n} bytes, the file has ${fileSize}`);
  };
  const u32 = (what: string): number => (need(4, what), (pos += 4), le ? buf.readUInt32LE(pos - 4) : buf.readUInt32BE(pos - 4));
  const u64 = (what: string): number => {
    need(8, what);
    // Two 32-bit halves: BigInt reads are slow across 10^6 keys.
    const lo = le ? buf.readUInt32LE(pos) : buf.readUInt32BE(pos + 4);
    const hi = le ? buf.readUInt32LE(pos + 4) : buf.readUInt32BE(pos);
    pos += 8;
    if (hi >= 0x200000) throw new Stop('malformed', `${what} is ${(BigInt(hi) << 32n) + BigInt(lo)}, beyond any file`);
    return hi * 0x100000000 + lo;
  };
  const len = (what: string): number => (meta.version === 1 ? u32(what) : u64(what));
  /** A string's bytes are skipped; only the first `keep` are decoded. */
  const str = (what: string, keep: number): string => {
    const n = len(what);
    if (n > lim.ggufString) throw new Stop('malformed', `${what} claims ${n} bytes, more than ${lim.ggufString}`);
    need(n, what);
    pos += n;
    return buf.toString('utf8', pos - n, pos - n + Math.min(n, keep));
  };
  const scalar = (type: number, what: string): Scalar | undefined => {
    const size = GGUF_SCALAR_BYTES[type];
    if (size === undefined) throw new Stop('malformed', `${what} has unknown value type ${type}`);
    need(size, what);
    pos += size;
    const at = pos - size;
    switch (type) {
      case GGUF_VALUE.UINT8: return buf.readUInt8(at);
      case GGUF_VALUE.INT8: return buf.readInt8(at);
      case GGUF_VALUE.UINT16: return le ? buf.readUInt16LE(at) : buf.readUInt16BE(at);
      case GGUF_VALUE.INT16: return le ? buf.readInt16LE(at) : buf.readInt16BE(at);
      case GGUF_VALUE.UINT32: return le ? buf.readUInt32LE(at) : buf.readUInt32BE(at);
      case GGUF_VALUE.INT32: return le ? buf.readInt32LE(at) : buf.readInt32BE(at);
      case GGUF_VALUE.FLOAT32: return le ? buf.readFloatLE(at) : buf.readFloatBE(at);
      case GGUF_VALUE.BOOL: return buf[at] !== 0;
      case GGUF_VALUE.UINT64: return Number(le ? buf.readBigUInt64LE(at) : buf.readBigUInt64BE(at));
      case GGUF_VALUE.INT64: return Number(le ? buf.readBigInt64LE(at) : buf.readBigInt64BE(at));
      case GGUF_VALUE.FLOAT64: return le ? buf.readDoubleLE(at) : buf.readDoubleBE(at);
      default: return undefined;
    }
  };
  /** Reads (and mostly skips) one value; arrays of arrays nest at most `ggufArrayDepth`. */
  const value = (type: number, what: string, depth: number): Scalar | undefined => {
    if (type === GGUF_VALUE.STRING) return str(what, KEPT_STRING);
    if (type !== GGUF_VALUE.ARRAY) return scalar(type, what);
    if (depth >= lim.ggufArrayDepth) throw new Stop('malformed', `${what} nests arrays deeper than ${lim.ggufArrayDepth}`);
    const elemType = u32(`${what} element type`);
    const count = len(`${what} element count`);
    if (count > lim.ggufArray) throw new Stop('malformed', `${what} claims ${count} elements, more than ${lim.ggufArray}`);
    const size = GGUF_SCALAR_BYTES[elemType];
    if (size !== undefined) {
      need(count * size, what);
      pos += count * size;
    } else if (elemType === GGUF_VALUE.STRING || elemType === GGUF_VALUE.ARRAY) {
      // Each element needs at least its length: a count the file cannot hold is a lie, found before looping.
      need(count * (meta.version === 1 ? 4 : 8), `${what} (${count} elements)`);
      for (let i = 0; i < count; i++) value(elemType, what, depth + 1);
    } else throw new Stop('malformed', `${what} has unknown element type ${elemType}`);
    return undefined;
  };

  try {
    need(4, 'magic');
    if (buf.readUInt32LE(0) !== MAGIC) throw new Stop('malformed', 'no GGUF magic');
    pos = 4;
    need(4, 'version');
    const rawVersion = buf.readUInt32LE(4);
    le = rawVersion <= 0xffff;
    meta.version = u32('version');
    meta.littleEndian = le;
    if (meta.version < 1 || meta.version > 3) throw new Stop('malformed', `unsupported GGUF version ${meta.version}`);
    const tensorCount = len('tensor count');
    const kvCount = len('metadata key count');
    meta.tensorCount = tensorCount;
    meta.kvCount = kvCount;
    if (kvCount > lim.ggufKeys) throw new Stop('malformed', `header declares ${kvCount} metadata keys, more than ${lim.ggufKeys}`);
    if (tensorCount > lim.ggufTensors) throw new Stop('malformed', `header declares ${tensorCount} tensors, more than ${lim.ggufTensors}`);
    // The smallest key/value is 13 bytes (v1) and the smallest tensor info 24: a count the file cannot hold is caught now.
    if (pos + kvCount * 13 + tensorCount * 24 > fileSize) throw new Stop('malformed', `header declares ${kvCount} keys and ${tensorCount} tensors, more than a ${fileSize}-byte file can hold`);

    const keys = new Set<string>();
    for (let i = 0; i < kvCount; i++) {
      const rawKey = str('a metadata key', lim.ggufString);
      // llama.cpp keeps keys as C strings: a key with a NUL is the part before it to every
      // lookup, so `tokenizer.chat_template\0x` shadows the real template. No writer makes one.
      const nul = rawKey.indexOf('\0');
      const key = nul < 0 ? rawKey : rawKey.slice(0, nul);
      if (nul >= 0) findings.push({ kind: 'malformed', severity: 'high', path: key, detail: `metadata key ${JSON.stringify(rawKey.slice(0, 200))} holds a NUL: llama.cpp reads it as ${JSON.stringify(key.slice(0, 200))}` });
      if (keys.has(key)) throw new Stop('malformed', `duplicate metadata key ${JSON.stringify(key.slice(0, 200))}`);
      keys.add(key);
      const type = u32(key);
      if (isChatTemplateKey(key)) {
        if (type === GGUF_VALUE.STRING) {
          // Decoded whole (at most ggufString bytes, already in memory), judged, and let go.
          const at = pos;
          const text = str(key, lim.ggufString);
          const bytes = pos - at - (meta.version === 1 ? 4 : 8);
          if (bytes > lim.chatTemplateBytes || bytes <= templateBytesLeft) {
            // (One over the limit is not parsed: inspectChatTemplate says so.)
            findings.push(...inspectChatTemplate(text, key, lim));
            if (bytes <= lim.chatTemplateBytes) templateBytesLeft -= bytes;
          } else {
            findings.push({ kind: 'limit', severity: 'high', path: key, offset: at, detail: `${key} not parsed: the file's chat templates together exceed ${lim.chatTemplateBytes * CHAT_TEMPLATE_BUDGET} bytes` });
            // Still named if it mentions Python internals (what the parser would not see).
            findings.push(...inspectChatTemplate(text, key, { ...lim, chatTemplateBytes: 0 }).filter((finding) => finding.kind !== 'limit'));
          }
          meta.hasChatTemplate = true;
        } else {
          // llama.cpp turns any value into text (an array as ["…", …]), and a loader may render that.
          findings.push({ kind: 'not-inspected', severity: 'high', path: key, offset: pos, detail: `${key} holds a value of GGUF type ${type}, not a string: a loader may still render its text as a template, and it was not inspected` });
          value(type, key, 0);
        }
        continue;
      }
      const read = value(type, key, 0);
      if (key === 'general.alignment') {
        if (typeof read !== 'number' || read <= 0 || !Number.isInteger(read) || (read & (read - 1)) !== 0) throw new Stop('malformed', `general.alignment ${String(read)} is not a power of two`);
        meta.alignment = read;
      }
      if (key.startsWith('general.') && read !== undefined && Object.keys(general).length < 256) general[key] = read;
    }
    meta.general = general;
    fillGeneral(meta, general);

    const alignment = meta.alignment ?? DEFAULT_ALIGNMENT;
    const tensors: { name: string; offset: number; size: number | undefined }[] = [];
    const names = new Set<string>();
    for (let i = 0; i < tensorCount; i++) {
      const name = str(`tensor ${i} name`, lim.ggufString);
      if (names.has(name)) throw new Stop('malformed', `duplicate tensor ${JSON.stringify(name.slice(0, 200))}`);
      names.add(name);
      const dims = u32(`tensor ${name} dimension count`);
      if (dims > lim.ggufDims) throw new Stop('malformed', `tensor ${name} has ${dims} dimensions, more than ${lim.ggufDims}`);
      let elements = 1;
      for (let dim = 0; dim < dims; dim++) elements *= u64(`tensor ${name} dimension ${dim}`);
      const typeId = u32(`tensor ${name} type`);
      const offset = u64(`tensor ${name} offset`);
      const type = GGML_TYPES[typeId];
      if (!Number.isSafeInteger(elements)) throw new Stop('malformed', `tensor ${name} has more elements than any file holds`);
      if (offset % alignment !== 0) findings.push({ kind: 'malformed', severity: 'high', detail: `tensor ${name} offset ${offset} is not aligned to ${alignment}` });
      if (type === undefined) findings.push({ kind: 'malformed', severity: 'medium', detail: `tensor ${name} has unknown ggml type ${typeId}: its size is not checked` });
      else if (elements % type.block !== 0) findings.push({ kind: 'malformed', severity: 'high', detail: `tensor ${name} has ${elements} elements, not a whole number of ${type.name} blocks` });
      tensors.push({ name, offset, size: type ? Math.ceil(elements / type.block) * type.bytes : undefined });
    }
    const dataOffset = Math.ceil(pos / alignment) * alignment;
    meta.dataOffset = dataOffset;
    let dataEnd = dataOffset;
    let outside = 0;
    for (const tensor of tensors) {
      const end = dataOffset + tensor.offset + (tensor.size ?? 0);
      dataEnd = Math.max(dataEnd, end);
      if (end > fileSize && ++outside <= 20) {
        findings.push({ kind: 'malformed', severity: 'high', detail: `tensor ${tensor.name} data (bytes ${dataOffset + tensor.offset}–${end}) lies outside the ${fileSize}-byte file` });
      }
    }
    if (outside > 20) findings.push({ kind: 'malformed', severity: 'high', detail: `${outside - 20} more tensors lie outside the file` });
    meta.dataEnd = dataEnd;
  } catch (e) {
    if (!(e instanceof Stop)) throw e;
    findings.push(e.why === 'limit'
      ? { kind: 'limit', severity: 'medium', offset: pos, detail: `GGUF header not fully inspected: ${e.message}` }
      // A header cut short is usually an unfinished download; a lying one is aimed at parsers.
      : { kind: 'malformed', severity: e.why === 'truncated' ? 'medium' : 'high', offset: pos, detail: `GGUF: ${e.message}` });
    meta.general = general;
    fillGeneral(meta, general);
  }
  return { findings, meta };
}

function fillGeneral(meta: Partial<GgufMeta>, general: Record<string, Scalar>): void {
  const text = (key: string): string | undefined => (typeof general[key] === 'string' ? (general[key] as string) : undefined);
  const architecture = text('general.architecture');
  const name = text('general.name');
  const license = text('general.license');
  if (architecture !== undefined) meta.architecture = architecture;
  if (name !== undefined) meta.name = name;
  if (license !== undefined) meta.license = license;
  const bases: Record<string, Scalar>[] = [];
  for (const [key, value] of Object.entries(general)) {
    const match = /^general\.base_model\.(\d+)\.(.+)$/.exec(key);
    if (!match) continue;
    const index = Number(match[1]);
    if (index >= 64) continue;
    while (bases.length <= index) bases.push({});
    (bases[index] as Record<string, Scalar>)[match[2] as string] = value;
  }
  meta.baseModels = bases;
}
