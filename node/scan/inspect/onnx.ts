import { posix } from 'node:path';
import { INSPECT_LIMITS, type InspectLimits } from './constants.js';
import type { ByteSource } from './source.js';
import type { Finding, OnnxMeta } from './types.js';

/** What ONNX inspection found. */
export interface OnnxInspection {
  readonly findings: Finding[];
  readonly meta: OnnxMeta;
}

/** The ONNX messages walked, and which of their fields lead to more of them. */
type Msg = 'model' | 'graph' | 'node' | 'attribute' | 'tensor' | 'sparse' | 'training' | 'function';
const CHILDREN: Readonly<Record<Msg, Readonly<Record<number, Msg>>>> = {
  model: { 7: 'graph', 20: 'training', 25: 'function' },
  graph: { 1: 'node', 5: 'tensor', 15: 'sparse' },
  node: { 5: 'attribute' },
  attribute: { 5: 'tensor', 6: 'graph', 10: 'tensor', 11: 'graph', 22: 'sparse', 23: 'sparse' },
  sparse: { 1: 'tensor', 2: 'tensor' },
  training: { 1: 'graph', 2: 'graph' },
  function: { 7: 'node' },
  tensor: {},
};
const MODEL_FIELDS = new Set([1, 2, 3, 4, 5, 6, 7, 8, 14, 20, 25]);

class Stop extends Error {
  constructor(readonly why: 'malformed' | 'limit', message: string) {
    super(message);
  }
}

/** Sequential reads over a source through a bounded window: large fields are skipped, never read. */
class Window {
  private buf: Buffer = Buffer.alloc(0);
  private start = 0;
  constructor(private readonly source: ByteSource, private readonly size: number) {}
  async ensure(pos: number, n: number): Promise<void> {
    if (pos >= this.start && pos + n <= this.start + this.buf.length) return;
    this.start = pos;
    this.buf = await this.source.read(pos, Math.max(n, this.size));
  }
  /** A varint at `pos` (after ensure): its value and length. */
  varint(pos: number): [number, number] {
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      const b = this.buf[pos - this.start + i];
      if (b === undefined) throw new Stop('malformed', `varint at byte ${pos} runs past the end`);
      v += (b & 0x7f) * mul;
      mul *= 128;
      if ((b & 0x80) === 0) return [v, i + 1];
    }
    throw new Stop('malformed', `varint at byte ${pos} is longer than 10 bytes`);
  }
  slice(pos: number, n: number): Buffer {
    return this.buf.subarray(pos - this.start, pos - this.start + n);
  }
}

/** True when a location leaves the directory it is relative to, or is not relative at all. */
export function escapesDirectory(location: string): boolean {
  const p = location.replaceAll('\\', '/');
  if (p.startsWith('/') || /^[A-Za-z]:/.test(p) || p.includes('\0')) return true;
  const norm = posix.normalize(p);
  return norm === '..' || norm.startsWith('../');
}

/** True when a source starts like an ONNX ModelProto: `ir_version` first, then a `graph` field. */
export async function isOnnx(source: ByteSource): Promise<boolean> {
  const w = new Window(source, 64);
  let pos = 0;
  try {
    for (let i = 0; i < 32 && pos < source.size; i++) {
      await w.ensure(pos, 20);
      const [tag, tl] = w.varint(pos);
      const field = Math.floor(tag / 8);
      const wire = tag % 8;
      if (i === 0 && tag !== 0x08) return false;
      if (!MODEL_FIELDS.has(field)) return false;
      pos += tl;
      if (wire === 0) {
        const [v, vl] = w.varint(pos);
        if (i === 0 && (v < 1 || v > 100)) return false;
        pos += vl;
      } else if (wire === 2) {
        const [len, ll] = w.varint(pos);
        pos += ll;
        if (pos + len > source.size) return false;
        if (field === 7) return true;
        pos += len;
      } else return false;
    }
  } catch {
    return false;
  }
  return false;
}

/**
 * Walks an ONNX ModelProto — graphs, subgraphs in node attributes, training and function graphs
 * — to every TensorProto, and reports each external-data `location` that is absolute or leaves
 * the model's directory as `path-escape` (resolving symlinks is the caller's job). Tensor bytes
 * are skipped, not read; nesting, field count and string sizes are bounded. Never throws for
 * bad bytes.
 */
export async function inspectOnnx(source: ByteSource, limits: Partial<InspectLimits> = {}): Promise<OnnxInspection> {
  const lim = { ...INSPECT_LIMITS, ...limits };
  const findings: Finding[] = [];
  const meta: OnnxMeta = { initializers: 0, externalData: [] };
  const w = new Window(source, lim.onnxWindow);
  type Frame = { msg: Msg; end: number; name?: string; locations?: string[] };
  const stack: Frame[] = [{ msg: 'model', end: source.size }];
  let pos = 0;
  let fields = 0;
  const readString = async (at: number, len: number): Promise<string> => {
    await w.ensure(at, Math.min(len, lim.onnxString));
    return w.slice(at, Math.min(len, lim.onnxString)).toString('utf8');
  };
  try {
    while (stack.length > 0) {
      const frame = stack[stack.length - 1] as Frame;
      if (pos >= frame.end) {
        if (pos > frame.end) throw new Stop('malformed', `a ${frame.msg} field runs past its message at byte ${frame.end}`);
        stack.pop();
        if (frame.msg === 'tensor') endTensor(frame, findings, meta);
        continue;
      }
      if (++fields > lim.onnxFields) throw new Stop('limit', `more than ${lim.onnxFields} protobuf fields`);
      await w.ensure(pos, 20);
      const [tag, tl] = w.varint(pos);
      const field = Math.floor(tag / 8);
      const wire = tag % 8;
      const fieldAt = pos;
      pos += tl;
      if (field === 0) throw new Stop('malformed', `field number 0 at byte ${fieldAt}`);
      if (wire === 0) {
        const [v, vl] = w.varint(pos);
        if (frame.msg === 'model' && field === 1) meta.irVersion = v;
        pos += vl;
      } else if (wire === 1) pos += 8;
      else if (wire === 5) pos += 4;
      else if (wire === 2) {
        const [len, ll] = w.varint(pos);
        pos += ll;
        if (pos + len > frame.end) throw new Stop('malformed', `field ${field} of a ${frame.msg} at byte ${fieldAt} claims ${len} bytes, past its message`);
        const child = CHILDREN[frame.msg][field];
        if (child !== undefined) {
          if (stack.length >= lim.onnxDepth) throw new Stop('limit', `messages nested deeper than ${lim.onnxDepth}`);
          if (frame.msg === 'graph' && field === 5) meta.initializers++;
          stack.push(child === 'tensor' ? { msg: child, end: pos + len, locations: [] } : { msg: child, end: pos + len });
          continue;
        }
        if (frame.msg === 'model' && field === 2) meta.producer = (await readString(pos, len)).slice(0, 256);
        if (frame.msg === 'tensor' && field === 8) frame.name = await readString(pos, len);
        if (frame.msg === 'tensor' && field === 13) {
          if (len > 2 * lim.onnxString) throw new Stop('limit', `external_data entry of ${len} bytes`);
          await w.ensure(pos, len);
          const entry = parseEntry(w.slice(pos, len));
          if (entry?.key === 'location') frame.locations?.push(entry.value);
        }
        pos += len;
      } else throw new Stop('malformed', `wire type ${wire} at byte ${fieldAt}`);
    }
  } catch (e) {
    if (!(e instanceof Stop)) throw e;
    findings.push(e.why === 'limit'
      ? { kind: 'limit', severity: 'medium', offset: pos, detail: `ONNX walk stopped: ${e.message}` }
      : { kind: 'malformed', severity: 'high', offset: pos, detail: `ONNX: ${e.message}` });
  }
  return { findings, meta };
}

function endTensor(frame: { name?: string; locations?: string[] }, findings: Finding[], meta: OnnxMeta): void {
  const tensor = frame.name ?? '(unnamed)';
  for (const location of frame.locations ?? []) {
    if (meta.externalData.length < 10_000) meta.externalData.push({ tensor, location });
    if (escapesDirectory(location)) {
      findings.push({ kind: 'path-escape', severity: 'high', detail: `tensor ${tensor} reads its data from ${JSON.stringify(location)}, outside the model's directory` });
    }
  }
}

/** A StringStringEntryProto: key (1) and value (2). */
function parseEntry(b: Buffer): { key: string; value: string } | undefined {
  let key = '';
  let value = '';
  let p = 0;
  while (p < b.length) {
    const tag = b[p++] as number;
    if (tag !== 0x0a && tag !== 0x12) return undefined;
    let len = 0;
    let mul = 1;
    for (;;) {
      const c = b[p++];
      if (c === undefined || mul > 2 ** 28) return undefined;
      len += (c & 0x7f) * mul;
      mul *= 128;
      if ((c & 0x80) === 0) break;
    }
    if (p + len > b.length) return undefined;
    const s = b.toString('utf8', p, p + len);
    if (tag === 0x0a) key = s;
    else value = s;
    p += len;
  }
  return { key, value };
}
