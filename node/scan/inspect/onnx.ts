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
type Msg = 'model' | 'graph' | 'node' | 'attribute' | 'tensor' | 'sparse' | 'training' | 'function' | 'opset';
const CHILDREN: Readonly<Record<Msg, Readonly<Record<number, Msg>>>> = {
  model: { 7: 'graph', 8: 'opset', 20: 'training', 25: 'function' },
  graph: { 1: 'node', 5: 'tensor', 15: 'sparse' },
  node: { 5: 'attribute' },
  attribute: { 5: 'tensor', 6: 'graph', 10: 'tensor', 11: 'graph', 22: 'sparse', 23: 'sparse' },
  sparse: { 1: 'tensor', 2: 'tensor' },
  training: { 1: 'graph', 2: 'graph' },
  function: { 7: 'node', 9: 'opset' },
  tensor: {},
  opset: {},
};
const MODEL_FIELDS = new Set([1, 2, 3, 4, 5, 6, 7, 8, 14, 20, 25]);

/**
 * Operator domains onnxruntime runs with its own kernels (include/onnxruntime/core/graph/constants.h:
 * kOnnxDomain and its alias, kMLDomain, kMSDomain, kMSNchwcDomain, kMSExperimentalDomain,
 * kMSInternalNHWCDomain, kPytorchAtenDomain) plus ONNX's own training domains. A node in any
 * other domain runs only with a custom-op library (or an execution provider) the user loads.
 */
export const STANDARD_ONNX_DOMAINS: ReadonlySet<string> = new Set([
  '', 'ai.onnx', 'ai.onnx.ml', 'ai.onnx.training', 'ai.onnx.preview.training',
  'com.microsoft', 'com.microsoft.nchwc', 'com.microsoft.experimental', 'com.ms.internal.nhwc', 'org.pytorch.aten',
]);
/** onnxruntime's marker for external data already in memory: its `offset` is read as a raw address. */
const ORT_MEMORY_ADDRESS_TAG = '*/_ORT_MEM_ADDR_/*';
/** Windows device names: a file by that name (any extension, any folder) opens the device. */
const WINDOWS_DEVICE = /^(?:con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$)\s*(?:\..*)?$/i;
/** Custom domains, and (domain, op type) pairs, remembered: past these nodes are only counted. */
const MAX_CUSTOM_DOMAINS = 1_000;
const MAX_CUSTOM_OPS = 10_000;
/** Where nodes of custom domains past MAX_CUSTOM_DOMAINS are counted. */
const OVERFLOW = '\0more';

/** Why an inspection stopped early. */
export class Stop extends Error {
  constructor(readonly why: 'malformed' | 'limit', message: string) {
    super(message);
  }
}

/** Sequential reads over a source through a bounded window: large fields are skipped, never read. */
export class Window {
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
    let value = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      const byte = this.buf[pos - this.start + i];
      if (byte === undefined) throw new Stop('malformed', `varint at byte ${pos} runs past the end`);
      value += (byte & 0x7f) * mul;
      mul *= 128;
      if ((byte & 0x80) === 0) return [value, i + 1];
    }
    throw new Stop('malformed', `varint at byte ${pos} is longer than 10 bytes`);
  }
  slice(pos: number, n: number): Buffer {
    return this.buf.subarray(pos - this.start, pos - this.start + n);
  }
}

/** True when a location leaves the directory it is relative to, or is not relative at all. */
export function escapesDirectory(location: string): boolean {
  const normalized = location.replaceAll('\\', '/');
  if (normalized.startsWith('/') || /^[A-Za-z]:/.test(normalized) || normalized.includes('\0')) return true;
  const norm = posix.normalize(normalized);
  return norm === '..' || norm.startsWith('../');
}

/** True when a source starts like an ONNX ModelProto: `ir_version` first, then a `graph` field. */
export async function isOnnx(source: ByteSource): Promise<boolean> {
  const window = new Window(source, 64);
  let pos = 0;
  try {
    for (let i = 0; i < 32 && pos < source.size; i++) {
      await window.ensure(pos, 20);
      const [tag, tl] = window.varint(pos);
      const field = Math.floor(tag / 8);
      const wire = tag % 8;
      if (i === 0 && tag !== 0x08) return false;
      if (!MODEL_FIELDS.has(field)) return false;
      pos += tl;
      if (wire === 0) {
        const [value, vl] = window.varint(pos);
        if (i === 0 && (value < 1 || value > 100)) return false;
        pos += vl;
      } else if (wire === 2) {
        const [len, ll] = window.varint(pos);
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
 * — to every TensorProto and NodeProto. Reports each external-data `location` that is absolute
 * or leaves the model's directory, names a Windows device, or is onnxruntime's in-memory marker
 * as `path-escape` (resolving symlinks is the caller's job); and, as `dangerous-op`, each
 * operator domain onnxruntime does not ship (a custom-op library must be loaded to run it) unless
 * the model defines that operator as a local function, a `PyOp` node (Python run by onnxruntime's
 * language-interop build) and `com.microsoft` PythonOp nodes (onnxruntime training's Python
 * autograd functions). Tensor bytes are skipped, not read; nesting, field count and string sizes
 * are bounded. Never throws for bad bytes.
 */
export async function inspectOnnx(source: ByteSource, limits: Partial<InspectLimits> = {}): Promise<OnnxInspection> {
  const lim = { ...INSPECT_LIMITS, ...limits };
  const findings: Finding[] = [];
  const meta: OnnxMeta = { initializers: 0, externalData: [] };
  const ops = newOpState();
  const window = new Window(source, lim.onnxWindow);
  type Frame = {
    msg: Msg;
    end: number;
    name?: string;
    locations?: string[];
    /** A node's op_type and domain, a function's or an opset's domain. */
    op?: string;
    domain?: string;
    /** A node's attributes that say what a Python operator runs. */
    attrs?: Map<string, string>;
    /** An attribute's string value. */
    s?: string;
  };
  const stack: Frame[] = [{ msg: 'model', end: source.size }];
  let pos = 0;
  let fields = 0;
  const readString = async (at: number, len: number): Promise<string> => {
    await window.ensure(at, Math.min(len, lim.onnxString));
    return window.slice(at, Math.min(len, lim.onnxString)).toString('utf8');
  };
  try {
    while (stack.length > 0) {
      const frame = stack[stack.length - 1] as Frame;
      if (pos >= frame.end) {
        if (pos > frame.end) throw new Stop('malformed', `a ${frame.msg} field runs past its message at byte ${frame.end}`);
        stack.pop();
        if (frame.msg === 'tensor') endTensor(frame, findings, meta);
        else if (frame.msg === 'node') endNode(frame, ops);
        else if (frame.msg === 'function') ops.functions.add(`${frame.domain ?? ''}\0${frame.name ?? ''}`);
        else if (frame.msg === 'opset') ops.opsets.add(frame.domain ?? '');
        else if (frame.msg === 'attribute' && frame.name !== undefined && frame.s !== undefined && PYTHON_ATTRS.has(frame.name)) {
          const parent = stack[stack.length - 1];
          if (parent?.msg === 'node') (parent.attrs ??= new Map()).set(frame.name, frame.s);
        }
        continue;
      }
      if (++fields > lim.onnxFields) throw new Stop('limit', `more than ${lim.onnxFields} protobuf fields`);
      await window.ensure(pos, 20);
      const [tag, tl] = window.varint(pos);
      const field = Math.floor(tag / 8);
      const wire = tag % 8;
      const fieldAt = pos;
      pos += tl;
      if (field === 0) throw new Stop('malformed', `field number 0 at byte ${fieldAt}`);
      if (wire === 0) {
        const [value, vl] = window.varint(pos);
        if (frame.msg === 'model' && field === 1) meta.irVersion = value;
        pos += vl;
      } else if (wire === 1) pos += 8;
      else if (wire === 5) pos += 4;
      else if (wire === 2) {
        const [len, ll] = window.varint(pos);
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
          await window.ensure(pos, len);
          const entry = parseEntry(window.slice(pos, len));
          if (entry?.key === 'location') frame.locations?.push(entry.value);
        }
        if (frame.msg === 'node') {
          if (field === 3) frame.name = await readString(pos, len);
          else if (field === 4) frame.op = await readString(pos, len);
          else if (field === 7) frame.domain = await readString(pos, len);
        } else if (frame.msg === 'function') {
          if (field === 1) frame.name = await readString(pos, len);
          else if (field === 10) frame.domain = await readString(pos, len);
        } else if (frame.msg === 'opset' && field === 1) frame.domain = await readString(pos, len);
        else if (frame.msg === 'attribute' && stack[stack.length - 2]?.msg === 'node') {
          if (field === 1) frame.name = await readString(pos, len);
          else if (field === 4) frame.s = await readString(pos, len);
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
  judgeOps(ops, findings);
  return { findings, meta };
}

/** Attributes of a Python operator that name what it runs. */
const PYTHON_ATTRS = new Set(['module', 'class_name', 'func_name']);

/** What the walk gathers about operators, judged once every local function is known. */
interface OpState {
  /** Nodes in domains onnxruntime does not ship: domain → node count and op types. */
  readonly custom: Map<string, { nodes: number; ops: Map<string, number> }>;
  /** Distinct (domain, op type) pairs remembered. */
  kinds: number;
  /** Domains that opset_import declares (the model's and its functions'). */
  readonly opsets: Set<string>;
  /** Model-local functions, as `domain\0name`. */
  readonly functions: Set<string>;
  /** PyOp nodes (the first 100) and how many there were. */
  readonly pyops: { node: string; domain: string; module: string; cls: string }[];
  pyopCount: number;
  /** com.microsoft PythonOp / PythonOpGrad nodes, and the functions they name (the first 20). */
  pythonOps: number;
  readonly pythonFuncs: Set<string>;
}

function newOpState(): OpState {
  return { custom: new Map(), kinds: 0, opsets: new Set(), functions: new Set(), pyops: [], pyopCount: 0, pythonOps: 0, pythonFuncs: new Set() };
}

function endNode(frame: { name?: string; op?: string; domain?: string; attrs?: Map<string, string> }, ops: OpState): void {
  const domain = frame.domain ?? '';
  const op = frame.op ?? '';
  if (op === 'PyOp') {
    if (++ops.pyopCount <= 100) {
      ops.pyops.push({ node: frame.name ?? '(unnamed)', domain, module: frame.attrs?.get('module') ?? '?', cls: frame.attrs?.get('class_name') ?? '?' });
    }
    return;
  }
  if (STANDARD_ONNX_DOMAINS.has(domain)) {
    if ((domain === 'com.microsoft') && (op === 'PythonOp' || op === 'PythonOpGrad')) {
      ops.pythonOps++;
      const fn = frame.attrs?.get('func_name');
      if (fn !== undefined && ops.pythonFuncs.size < 20) ops.pythonFuncs.add(fn.slice(0, 200));
    }
    return;
  }
  let stats = ops.custom.get(domain) ?? (ops.custom.size >= MAX_CUSTOM_DOMAINS ? ops.custom.get(OVERFLOW) : undefined);
  if (stats === undefined) {
    stats = { nodes: 0, ops: new Map() };
    ops.custom.set(ops.custom.size >= MAX_CUSTOM_DOMAINS ? OVERFLOW : domain, stats);
  }
  stats.nodes++;
  const seen = stats.ops.get(op);
  if (seen !== undefined) stats.ops.set(op, seen + 1);
  else if (ops.kinds < MAX_CUSTOM_OPS) {
    stats.ops.set(op, 1);
    ops.kinds++;
  } // past the cap a node is only counted: never taken for a local function
}

/** Findings for the operators seen: each custom domain once, Python operators, unused custom opsets. */
function judgeOps(ops: OpState, findings: Finding[]): void {
  for (const pyop of ops.pyops) {
    findings.push({
      kind: 'dangerous-op', severity: 'critical',
      detail: `PyOp node ${JSON.stringify(pyop.node.slice(0, 200))} (domain ${JSON.stringify(pyop.domain.slice(0, 200))}) names Python module ${JSON.stringify(pyop.module.slice(0, 200))}, class ${JSON.stringify(pyop.cls.slice(0, 200))}: onnxruntime built with language interop ops imports and runs it`,
    });
  }
  if (ops.pyopCount > ops.pyops.length) findings.push({ kind: 'dangerous-op', severity: 'critical', detail: `and ${ops.pyopCount - ops.pyops.length} more PyOp nodes` });
  if (ops.pythonOps > 0) {
    const named = ops.pythonFuncs.size > 0 ? ` (${[...ops.pythonFuncs].map((fn) => JSON.stringify(fn)).join(', ')})` : '';
    findings.push({
      kind: 'dangerous-op', severity: 'high',
      detail: `${ops.pythonOps} com.microsoft PythonOp/PythonOpGrad node(s)${named}: onnxruntime training calls the Python torch.autograd.Function registered under that name`,
    });
  }
  let reported = 0;
  let unreported = 0;
  for (const [domain, stats] of ops.custom) {
    const own = [...stats.ops].filter(([op]) => !ops.functions.has(`${domain}\0${op}`));
    const local = [...stats.ops].reduce((sum, [op, count]) => sum + (ops.functions.has(`${domain}\0${op}`) ? count : 0), 0);
    const nodes = stats.nodes - local;
    if (nodes <= 0) continue;
    if (++reported > 50) {
      unreported += nodes;
      continue;
    }
    const names = own.slice(0, 8).map(([op]) => op.slice(0, 100)).join(', ') + (own.length > 8 ? ', …' : '');
    const what = domain === OVERFLOW ? 'more custom operator domains' : `custom operator domain ${JSON.stringify(domain.slice(0, 200))}`;
    findings.push({
      kind: 'dangerous-op', severity: 'high',
      detail: `${what} (op ${names || '?'}; ${nodes} node${nodes === 1 ? '' : 's'}): the runtime must load a native library to run it`,
    });
  }
  if (unreported > 0) findings.push({ kind: 'dangerous-op', severity: 'high', detail: `and ${unreported} more nodes in ${reported - 50} more custom operator domains` });
  const functionDomains = new Set([...ops.functions].map((key) => key.slice(0, key.indexOf('\0'))));
  const pyopDomains = new Set(ops.pyops.map((pyop) => pyop.domain));
  for (const domain of ops.opsets) {
    if (STANDARD_ONNX_DOMAINS.has(domain) || ops.custom.has(domain) || functionDomains.has(domain) || pyopDomains.has(domain)) continue;
    findings.push({ kind: 'dangerous-op', severity: 'low', detail: `opset_import declares custom operator domain ${JSON.stringify(domain.slice(0, 200))}, which no node uses` });
  }
}

/** Why an external-data location is a hazard, when it is one. */
function locationHazard(location: string): string | undefined {
  if (escapesDirectory(location)) return 'outside the model\'s directory';
  if (location === ORT_MEMORY_ADDRESS_TAG) return 'onnxruntime\'s in-memory marker: its offset is read as a raw memory address';
  const base = location.replaceAll('\\', '/').split('/').pop() ?? '';
  if (WINDOWS_DEVICE.test(base.replace(/[ .]+$/, ''))) return 'a Windows device name, not a file';
  return undefined;
}

function endTensor(frame: { name?: string; locations?: string[] }, findings: Finding[], meta: OnnxMeta): void {
  const tensor = frame.name ?? '(unnamed)';
  for (const location of frame.locations ?? []) {
    if (meta.externalData.length < 10_000) meta.externalData.push({ tensor, location });
    const hazard = locationHazard(location);
    if (hazard !== undefined) {
      findings.push({ kind: 'path-escape', severity: 'high', detail: `tensor ${tensor} reads its data from ${JSON.stringify(location)}, ${hazard}` });
    }
  }
}

/** A StringStringEntryProto: key (1) and value (2). */
function parseEntry(buf: Buffer): { key: string; value: string } | undefined {
  let key = '';
  let value = '';
  let pos = 0;
  while (pos < buf.length) {
    const tag = buf[pos++] as number;
    if (tag !== 0x0a && tag !== 0x12) return undefined;
    let len = 0;
    let mul = 1;
    for (;;) {
      const byte = buf[pos++];
      if (byte === undefined || mul > 2 ** 28) return undefined;
      len += (byte & 0x7f) * mul;
      mul *= 128;
      if ((byte & 0x80) === 0) break;
    }
    if (pos + len > buf.length) return undefined;
    const text = buf.toString('utf8', pos, pos + len);
    if (tag === 0x0a) key = text;
    else value = text;
    pos += len;
  }
  return { key, value };
}
