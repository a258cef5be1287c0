import { INSPECT_LIMITS, type InspectLimits } from './constants.js';
import type { ByteSource } from './source.js';
import type { Finding, SafetensorsMeta } from './types.js';

/** What safetensors inspection found: findings and what of the header could be read. */
export interface SafetensorsInspection {
  readonly findings: Finding[];
  readonly meta: Partial<SafetensorsMeta>;
}

/** Bits per element of each safetensors dtype. */
const DTYPE_BITS: Readonly<Record<string, number>> = {
  BOOL: 8, U8: 8, I8: 8, F8_E5M2: 8, F8_E4M3: 8, F8_E8M0: 8,
  I16: 16, U16: 16, F16: 16, BF16: 16,
  I32: 32, U32: 32, F32: 32,
  I64: 64, U64: 64, F64: 64, C64: 64,
  F4: 4, F6_E2M3: 6, F6_E3M2: 6,
};

const MAX_REPORTED = 20;

/** True when bytes look like the start of a safetensors file: a sane header length, then `{`. */
export function isSafetensorsHead(head: Buffer): boolean {
  if (head.length < 9) return false;
  const n = head.readBigUInt64LE(0);
  // A header length that runs past the end of the file is still a safetensors file: a malformed one.
  return n >= 2n && n <= BigInt(INSPECT_LIMITS.safetensorsHeaderBytes) && head[8] === 0x7b;
}

/**
 * Checks a safetensors file the way its reference implementation does, without reading tensor
 * data: the 8-byte header length (≤ `safetensorsHeaderBytes` and within the file), a JSON object
 * header, known dtypes, each tensor's byte size equal to dtype × shape, and data offsets that are
 * inside the data section, contiguous and not overlapping, ending where the file ends.
 * `__metadata__` is passed through. Never throws for bad bytes.
 */
export async function inspectSafetensors(source: ByteSource, limits: Partial<InspectLimits> = {}): Promise<SafetensorsInspection> {
  const lim = { ...INSPECT_LIMITS, ...limits };
  const findings: Finding[] = [];
  const meta: Partial<SafetensorsMeta> = {};
  const bad = (detail: string): SafetensorsInspection => {
    findings.push({ kind: 'malformed', severity: 'high', detail: `safetensors: ${detail}` });
    return { findings, meta };
  };
  if (source.size < 8) return bad(`file of ${source.size} bytes has no header length`);
  const n = (await source.read(0, 8)).readBigUInt64LE(0);
  if (n > BigInt(lim.safetensorsHeaderBytes)) return bad(`header length ${n} is more than ${lim.safetensorsHeaderBytes}`);
  const headerBytes = Number(n);
  if (8 + headerBytes > source.size) return bad(`header length ${headerBytes} runs past the ${source.size}-byte file`);
  meta.headerBytes = headerBytes;
  const raw = await source.read(8, headerBytes);
  if (raw[0] !== 0x7b) return bad('header does not start with {');
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(raw));
  } catch (e) {
    return bad(`header is not UTF-8 JSON: ${(e as Error).message.slice(0, 200)}`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) return bad('header is not a JSON object');

  const dataBytes = source.size - 8 - headerBytes;
  meta.dataBytes = dataBytes;
  const tensors: { name: string; begin: number; end: number }[] = [];
  const dtypes: Record<string, number> = {};
  let reported = 0;
  const report = (detail: string): void => {
    if (++reported <= MAX_REPORTED) findings.push({ kind: 'malformed', severity: 'high', detail: `safetensors: ${detail}` });
  };
  for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      const ok = typeof info === 'object' && info !== null && !Array.isArray(info) && Object.values(info).every((v) => typeof v === 'string');
      if (ok) meta.metadata = info as Record<string, string>;
      else report('__metadata__ is not a map of strings');
      continue;
    }
    const t = info as { dtype?: unknown; shape?: unknown; data_offsets?: unknown } | null;
    const shape = t?.shape;
    const offsets = t?.data_offsets;
    const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
    if (typeof t !== 'object' || t === null || typeof t.dtype !== 'string' || !Array.isArray(shape) || !shape.every(isCount)
      || !Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
      report(`tensor ${name}: needs a dtype, a shape of counts and two data offsets`);
      continue;
    }
    const [begin, end] = offsets as [number, number];
    dtypes[t.dtype] = (dtypes[t.dtype] ?? 0) + 1;
    if (end < begin) report(`tensor ${name}: data offsets [${begin}, ${end}] run backwards`);
    else if (end > dataBytes) report(`tensor ${name}: data [${begin}, ${end}) lies outside the ${dataBytes}-byte data section`);
    const bits = DTYPE_BITS[t.dtype];
    if (bits === undefined) report(`tensor ${name}: unknown dtype ${t.dtype}`);
    else {
      const elements = (shape as number[]).reduce((a, b) => a * b, 1);
      const size = (elements * bits) / 8;
      if (!Number.isSafeInteger(size)) report(`tensor ${name}: shape [${shape.join(', ')}] is not a whole number of bytes of ${t.dtype}`);
      else if (size !== end - begin) report(`tensor ${name}: ${t.dtype} × [${shape.join(', ')}] is ${size} bytes, its offsets hold ${end - begin}`);
    }
    tensors.push({ name, begin, end });
  }
  meta.tensorCount = tensors.length;
  meta.dtypes = dtypes;

  tensors.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const t of tensors) {
    if (t.begin < cursor) report(`tensor ${t.name}: data [${t.begin}, ${t.end}) overlaps the tensor before it`);
    else if (t.begin > cursor) report(`gap of ${t.begin - cursor} bytes before tensor ${t.name}: tensors are not contiguous`);
    cursor = Math.max(cursor, t.end);
  }
  if (cursor !== dataBytes && cursor <= dataBytes) report(`tensors end at byte ${cursor} of a ${dataBytes}-byte data section`);
  if (reported > MAX_REPORTED) findings.push({ kind: 'malformed', severity: 'high', detail: `safetensors: ${reported - MAX_REPORTED} more problems` });
  return { findings, meta };
}
