import type { InspectLimits } from './constants.js';
import { inspectKerasConfig } from './keras.js';
import { Stop, Window } from './onnx.js';
import type { ByteSource } from './source.js';
import type { Finding, Severity } from './types.js';

/** What inspecting a TensorFlow SavedModel (`saved_model.pb`) found. */
export interface SavedModelInspection {
  readonly findings: Finding[];
  readonly meta: Record<string, unknown>;
}

/**
 * Bounds of the SavedModel walk beside `savedModelBytes` (bytes walked). A file that needs more
 * gets a `limit` finding (high): what follows was not inspected.
 */
export const SAVEDMODEL_BOUNDS = {
  /** Protobuf fields walked in one file. */
  fields: 50_000_000,
  /** Nesting of messages (attribute values naming functions inside attribute values…). */
  depth: 64,
  /** Bytes of one name, op or attribute string read; longer ones are cut. */
  string: 16 * 1024,
  /** Window of file bytes the walker holds at once. */
  window: 1024 * 1024,
  /** dangerous-op findings listed one by one; past this they are summed up in one more. */
  findings: 200,
  /** Function names remembered as called by nodes (to find the saver's functions). */
  calls: 1_000_000,
  /** Distinct op names counted for `meta.ops`. */
  distinctOps: 100_000,
} as const;
export type SavedModelBounds = { -readonly [K in keyof typeof SAVEDMODEL_BOUNDS]: number };

/**
 * Ops that run Python: tf.py_function (EagerPyFunc) and tf.numpy_function / tf.compat.v1.py_func
 * (PyFunc, PyFuncStateless). The `token` attribute names a callable registered in the loading
 * process; whatever is registered under it runs.
 */
const PYTHON_OPS = new Set(['PyFunc', 'PyFuncStateless', 'EagerPyFunc']);

/**
 * Checkpoint ops. Every SavedModel's saver has them — TF1's in the `save/` scope of the graph
 * (save/SaveV2, save/RestoreV2, save/MergeV2Checkpoints), TF2's in the `__inference__traced_save`
 * and `__inference__traced_restore` functions that the SaverDef's nodes call — so there they are
 * not reported. Anywhere else they read or write checkpoint files at a path the graph chooses.
 */
const SAVER_OPS = new Set(['SaveV2', 'RestoreV2', 'MergeV2Checkpoints', 'Save', 'SaveSlices', 'Restore', 'RestoreSlice']);
/**
 * The V1 checkpoint ops are not let through even inside the saver: savers have written V2
 * since TF 1.0, and a V1 `Save` the restore op depends on writes a table to any path a Const
 * names on load (a review found it). A `SaveV2` placed the same way is caught by the second
 * look at the saver's edges (saverEdges: the restore op may not depend on a checkpoint write).
 */
const V1_CHECKPOINT_OPS = new Set(['Save', 'SaveSlices', 'Restore', 'RestoreSlice']);

/** Ops that reach files, the network or another graph, and what they do (high wherever they are). */
const FILE_OPS: ReadonlyMap<string, string> = new Map([
  // tensorflow/core/ops/io_ops.cc
  ['ReadFile', 'reads a whole file at a path the graph computes (tf.io.read_file)'],
  ['WriteFile', 'writes a file at a path the graph computes (tf.io.write_file)'],
  ['MatchingFiles', 'lists files matching a glob (tf.io.matching_files)'],
  ['FileSystemSetConfiguration', 'changes the configuration of a file system'],
  ...['WholeFileReader', 'WholeFileReaderV2', 'TextLineReader', 'TextLineReaderV2', 'TFRecordReader', 'TFRecordReaderV2',
    'FixedLengthRecordReader', 'FixedLengthRecordReaderV2', 'LMDBReader']
    .map((op): [string, string] => [op, 'a reader that opens the files queued to it']),
  ['ImmutableConst', 'memory-maps the file its memory_region_name names'],
  // tensorflow/core/ops/checkpoint_ops.cc
  ['LoadAndRemapMatrix', 'reads a checkpoint at a path the graph computes'],
  ['GenerateVocabRemapping', 'reads two vocabulary files at paths the graph computes'],
  // tf.data sources and sinks (tensorflow/core/ops/dataset_ops.cc, experimental_dataset_ops.cc)
  ...['TextLineDataset', 'TFRecordDataset', 'TFRecordDatasetV2', 'FixedLengthRecordDataset', 'FixedLengthRecordDatasetV2',
    'CSVDataset', 'CSVDatasetV2', 'ExperimentalCSVDataset', 'LMDBDataset', 'ExperimentalLMDBDataset', 'SqlDataset',
    'ExperimentalSqlDataset', 'LoadDataset', 'SnapshotDatasetReader', 'SnapshotNestedDatasetReader', 'SnapshotChunkDataset',
    'MatchingFilesDataset', 'ExperimentalMatchingFilesDataset']
    .map((op): [string, string] => [op, 'a dataset that reads files at paths the graph computes']),
  ...['DatasetToTFRecord', 'ExperimentalDatasetToTFRecord', 'SaveDataset', 'SaveDatasetV2', 'SnapshotDataset', 'SnapshotDatasetV2', 'DistributedSave']
    .map((op): [string, string] => [op, 'writes a dataset to files at a path the graph computes']),
  ...['DataServiceDataset', 'DataServiceDatasetV2', 'DataServiceDatasetV3', 'DataServiceDatasetV4', 'RegisterDataset', 'RegisterDatasetV2']
    .map((op): [string, string] => [op, 'connects to a tf.data service at an address the graph computes']),
  ['DatasetFromGraph', 'runs a GraphDef serialized in a tensor, which this scanner does not read'],
  // summaries (tensorflow/core/ops/summary_ops.cc)
  ['CreateSummaryFileWriter', 'creates event files in a directory the graph computes'],
  ['CreateSummaryDbWriter', 'writes an SQLite database at a path the graph computes'],
  ...['WriteSummary', 'WriteScalarSummary', 'WriteHistogramSummary', 'WriteImageSummary', 'WriteAudioSummary', 'WriteGraphSummary',
    'WriteRawProtoSummary', 'ImportEvent']
    .map((op): [string, string] => [op, 'writes to a summary writer\'s files']),
  // tfdbg (tensorflow/core/ops/debug_ops.cc): debug_urls are file:// or grpc:// targets
  ...['DebugIdentity', 'DebugIdentityV2', 'DebugIdentityV3', 'DebugNanCount', 'DebugNumericSummary']
    .map((op): [string, string] => [op, 'a debugger op that sends tensors to its debug_urls (files or gRPC)']),
  // RPC (tensorflow/core/ops/rpc_ops.cc, tf.distribute.experimental.rpc) and BigQuery
  ...['Rpc', 'TryRpc', 'RpcClient', 'RpcCall', 'RpcServer', 'RpcServerStart', 'RpcServerRegister', 'BigQueryReader', 'GenerateBigQueryReaderPartitions']
    .map((op): [string, string] => [op, 'makes network calls']),
]);

/** Ops that read files in ordinary models, reported at medium. */
const MEDIUM_OPS: ReadonlyMap<string, string> = new Map([
  ['InitializeTableFromTextFile', 'fills a lookup table from a text file: ordinarily a vocabulary asset, but the path is the graph\'s'],
  ['InitializeTableFromTextFileV2', 'fills a lookup table from a text file: ordinarily a vocabulary asset, but the path is the graph\'s'],
  ['CacheDataset', 'caches a dataset in files when its filename input is not empty'],
  ['CacheDatasetV2', 'caches a dataset in files when its filename input is not empty'],
]);

/** Attributes kept for the detail of a finding. */
const KEPT_ATTRS = new Set(['token', 'output_stream', 'debug_urls', 'descriptor_source', 'memory_region_name']);

interface Judged { readonly severity: Severity; readonly why: string; readonly saver: boolean }

/** How an op with these attributes is judged, or undefined when it is not reported. */
function judgeOp(op: string, attrs: ReadonlyMap<string, string[]>): Judged | undefined {
  const attr = (k: string): string | undefined => attrs.get(k)?.[0];
  if (PYTHON_OPS.has(op)) {
    const token = attr('token');
    return { severity: 'critical', saver: false, why: `runs the Python function the loading process registered under token ${token === undefined ? '(none)' : JSON.stringify(token)} (tf.py_function / tf.numpy_function)` };
  }
  if (V1_CHECKPOINT_OPS.has(op)) return { severity: 'high', saver: false, why: 'a V1 checkpoint op (savers have used V2 ops since TF 1.0): reads or writes checkpoint files at a path the graph computes' };
  if (SAVER_OPS.has(op)) return { severity: 'high', saver: true, why: 'reads or writes checkpoint files at a path the graph computes, outside the SavedModel\'s saver' };
  const file = FILE_OPS.get(op);
  if (file !== undefined) {
    const urls = attrs.get('debug_urls');
    const region = attr('memory_region_name');
    const extra = urls !== undefined ? ` ${urls.map((u) => JSON.stringify(u)).join(', ')}` : region !== undefined ? ` ${JSON.stringify(region)}` : '';
    return { severity: 'high', saver: false, why: `${file}${extra}` };
  }
  if (op === 'PrintV2') {
    const stream = attr('output_stream');
    if (stream?.startsWith('file://')) return { severity: 'high', saver: false, why: `appends to the file ${JSON.stringify(stream)} (tf.print output_stream)` };
    return undefined;
  }
  if (op === 'DecodeProtoV2' || op === 'EncodeProto') {
    const src = attr('descriptor_source');
    if (src !== undefined && src !== '' && src !== 'local://') return { severity: 'high', saver: false, why: `reads protobuf descriptors from ${JSON.stringify(src)}` };
    return undefined;
  }
  const medium = MEDIUM_OPS.get(op);
  if (medium !== undefined) return { severity: 'medium', saver: false, why: medium };
  return undefined;
}

/** What the root message of the file is: a SavedModel, a MetaGraphDef (`.meta`) or a GraphDef (frozen `.pb`). */
type Root = 'saved' | 'meta' | 'graph';

/** The messages walked, and which of their (length-delimited) fields lead to more of them. */
type Msg = Root | 'metaInfo' | 'saver' | 'library' | 'function' | 'signature' | 'node' | 'attrEntry' | 'attr' | 'attrList'
  | 'nameAttrList' | 'objectGraph' | 'savedObject' | 'userObject';
const CHILDREN: Readonly<Record<Msg, Readonly<Record<number, Msg>>>> = {
  saved: { 2: 'meta' }, // SavedModel: 1 saved_model_schema_version, 2 meta_graphs
  meta: { 1: 'metaInfo', 2: 'graph', 3: 'saver', 7: 'objectGraph' }, // MetaGraphDef (4 collection_def, 5 signature_def, 6 asset_file_def not read)
  metaInfo: {}, // MetaInfoDef: 4 tags, 5 tensorflow_version
  saver: {}, // SaverDef: 1 filename_tensor_name, 2 save_tensor_name, 3 restore_op_name
  graph: { 1: 'node', 2: 'library' }, // GraphDef: 1 node, 2 library, 3 version, 4 versions
  library: { 1: 'function' }, // FunctionDefLibrary: 1 function, 2 gradient
  function: { 1: 'signature', 3: 'node' }, // FunctionDef: 1 signature (OpDef), 3 node_def
  signature: {}, // OpDef: 1 name
  node: { 5: 'attrEntry' }, // NodeDef: 1 name, 2 op, 3 input, 4 device, 5 attr
  attrEntry: { 2: 'attr' }, // map<string, AttrValue> entry: 1 key, 2 value
  attr: { 1: 'attrList', 10: 'nameAttrList' }, // AttrValue: 1 list, 2 s, 8 tensor, 10 func
  attrList: { 9: 'nameAttrList' }, // AttrValue.ListValue: 2 s, 9 func
  nameAttrList: { 2: 'attrEntry' }, // NameAttrList: 1 name, 2 attr
  objectGraph: { 1: 'savedObject' }, // SavedObjectGraph: 1 nodes
  savedObject: { 4: 'userObject' }, // SavedObject: 4 user_object
  userObject: {}, // SavedUserObject: 1 identifier, 3 metadata (Keras's JSON before keras_metadata.pb)
};

interface Flagged { readonly node: string; readonly op: string; readonly judged: Judged }
interface FnRec { name: string; readonly flagged: Flagged[]; readonly calls: Set<string> }
interface NodeRec { name: string; op: string; readonly attrs: Map<string, string[]>; readonly calls: string[] }
interface Scope {
  readonly index: number;
  tags: string[];
  graphs: number;
  readonly flagged: Flagged[];
  /** Graph-level nodes that name functions (StatefulPartitionedCall's `f`…), by node name. */
  readonly calls: Map<string, string[]>;
  /** Graph-level op names (a function's name calls it), with how many nodes use each and the first few. */
  readonly opUsers: Map<string, { count: number; names: string[] }>;
  readonly functions: FnRec[];
  saver?: { filename: string; save: string; restore: string };
  /** Where its graph_def lies (a repeated singular message is merged, so maybe in pieces), for the second look at the saver's edges. */
  readonly graphAt: [number, number][];
}
interface Frame {
  readonly msg: Msg;
  readonly end: number;
  /** The node a node, attribute or function-name frame belongs to. */
  node?: NodeRec;
  fn?: FnRec;
  /** An attribute map entry: its key and string values, and whether it is the node's own. */
  entry?: { key?: string; values: string[]; own: boolean };
  user?: { identifier?: string; metadata?: Buffer; tooBig?: number };
}

const NODE_NAME = /^[A-Za-z0-9._][A-Za-z0-9_>./-]*$/;
const OP_NAME = /^[A-Za-z_][A-Za-z0-9_>.]*$/;

/** A varint in a buffer at `p`: [value, bytes], or undefined past its end or 5 bytes (lengths here are small). */
function bufVarint(b: Buffer, p: number): [number, number] | undefined {
  let v = 0;
  for (let i = 0; i < 5; i++) {
    const c = b[p + i];
    if (c === undefined) return undefined;
    v += (c & 0x7f) * 2 ** (7 * i);
    if ((c & 0x80) === 0) return [v, i + 1];
  }
  return undefined;
}

/**
 * The length-delimited fields at the start of a buffer, as [field, start, length] (the last
 * may run past the buffer): up to `n` of them, stopping at any other wire type.
 */
function leadingFields(b: Buffer, n: number): [number, number, number][] {
  const out: [number, number, number][] = [];
  let p = 0;
  while (out.length < n && p < b.length) {
    const tag = bufVarint(b, p);
    if (tag === undefined || tag[0] % 8 !== 2) break;
    const len = bufVarint(b, p + tag[1]);
    if (len === undefined) break;
    out.push([Math.floor(tag[0] / 8), p + tag[1] + len[1], len[0]]);
    p += tag[1] + len[1] + len[0];
  }
  return out;
}

/**
 * True when bytes begin a NodeDef: its first fields (up to eight) are NodeDef's own (1–7,
 * length-delimited) and among them are a well-formed name (1) and op (2).
 */
function looksLikeNodeDef(b: Buffer): boolean {
  const fields = leadingFields(b, 8);
  if (fields.some(([f]) => f < 1 || f > 7)) return false;
  const name = fields.find(([f]) => f === 1);
  const op = fields.find(([f]) => f === 2);
  if (name === undefined || op === undefined || name[2] === 0 || op[2] === 0 || name[1] + name[2] > b.length || op[1] + op[2] > b.length) return false;
  return NODE_NAME.test(b.toString('latin1', name[1], name[1] + name[2])) && OP_NAME.test(b.toString('latin1', op[1], op[1] + op[2]));
}

/** True when bytes begin a FunctionDefLibrary: a FunctionDef whose signature (an OpDef) starts with a well-formed name. */
function looksLikeLibrary(b: Buffer): boolean {
  const [fn] = leadingFields(b, 1);
  if (fn?.[0] !== 1) return false;
  const [sig] = leadingFields(b.subarray(fn[1]), 1);
  if (sig?.[0] !== 1) return false;
  const [name] = leadingFields(b.subarray(fn[1] + sig[1]), 1);
  const at = fn[1] + sig[1] + (name?.[1] ?? 0);
  return name?.[0] === 1 && name[2] > 0 && at + name[2] <= b.length && OP_NAME.test(b.toString('latin1', at, at + name[2]));
}

/** Reads the tag and (for wire type 2) length of the field at `pos`: [field, wire, value or length, header bytes]. */
async function header(w: Window, pos: number): Promise<[number, number, number, number]> {
  await w.ensure(pos, 20);
  const [tag, tl] = w.varint(pos);
  const wire = tag % 8;
  if (wire === 0 || wire === 2) {
    const [v, vl] = w.varint(pos + tl);
    return [Math.floor(tag / 8), wire, v, tl + vl];
  }
  return [Math.floor(tag / 8), wire, 0, tl];
}

/** True when the message at [pos, end) starts like a GraphDef: a NodeDef first, or a function library, or versions. */
async function startsLikeGraph(w: Window, pos: number, end: number): Promise<boolean> {
  if (pos >= end) return false;
  const [field, wire, len, hl] = await header(w, pos);
  if (wire !== 2 || pos + hl + len > end) return false;
  const n = Math.min(len, 4096);
  await w.ensure(pos + hl, n);
  const body = w.slice(pos + hl, n);
  if (field === 1) return looksLikeNodeDef(body);
  if (field === 2) return looksLikeLibrary(body);
  // versions: a VersionDef, a few varints (producer 1, min_consumer 2, bad_consumers 3).
  return field === 4 && len > 0 && len <= 32 && [0x08, 0x10, 0x18].includes(body[0] ?? 0);
}

/**
 * Which kind of TensorFlow graph protobuf a source holds, by its content, reading only field
 * headers: a SavedModel (schema version and MetaGraphDefs that tile the file exactly, the first
 * holding a graph_def), a GraphDef (a well-formed NodeDef, function library or versions first,
 * GraphDef fields through the first 64 KiB), or a MetaGraphDef (fields 1–7 tiling the file, with
 * a graph_def). Fields may come in any order, but a NodeDef's name and op must be among its
 * first eight fields and its first 4 KiB.
 */
async function sniffRoot(source: ByteSource): Promise<Root | undefined> {
  const size = source.size;
  if (size < 4) return undefined;
  const w = new Window(source, 4096);
  try {
    const [f0, w0] = await header(w, 0);
    if ((f0 === 1 && w0 === 0) || (f0 === 2 && w0 === 2)) {
      if (await tilesSavedModel(w, size)) return 'saved';
    }
    if ((f0 === 1 || f0 === 2 || f0 === 4) && w0 === 2 && (await startsLikeGraph(w, 0, size))) {
      if (await tilesGraphPrefix(w, size)) return 'graph';
    }
    if ((f0 === 1 || f0 === 2) && w0 === 2 && (await tilesMetaGraph(w, size))) return 'meta';
  } catch {
    return undefined;
  }
  return undefined;
}

async function tilesSavedModel(w: Window, size: number): Promise<boolean> {
  let pos = 0;
  let firstMeta: [number, number] | undefined;
  for (let i = 0; i < 64 && pos < size; i++) {
    const [field, wire, v, hl] = await header(w, pos);
    if (field === 1 && wire === 0) {
      if (v > 1000) return false;
      pos += hl;
    } else if (field === 2 && wire === 2) {
      if (pos + hl + v > size) return false;
      firstMeta ??= [pos + hl, pos + hl + v];
      pos += hl + v;
    } else return false;
  }
  if (pos !== size || firstMeta === undefined) return false;
  // The first MetaGraphDef: fields 1–7, length-delimited, within it; a graph_def among them.
  const [start, end] = firstMeta;
  let p = start;
  for (let i = 0; i < 256 && p < end; i++) {
    const [field, wire, len, hl] = await header(w, p);
    if (field < 1 || field > 7 || wire !== 2 || p + hl + len > end) return false;
    if (field === 2) return startsLikeGraph(w, p + hl, p + hl + len);
    p += hl + len;
  }
  return false;
}

async function tilesMetaGraph(w: Window, size: number): Promise<boolean> {
  let pos = 0;
  let graph: [number, number] | undefined;
  for (let i = 0; i < 256 && pos < size; i++) {
    const [field, wire, len, hl] = await header(w, pos);
    if (field < 1 || field > 7 || wire !== 2 || pos + hl + len > size) return false;
    if (field === 2) graph ??= [pos + hl, pos + hl + len];
    pos += hl + len;
  }
  return pos === size && graph !== undefined && startsLikeGraph(w, graph[0], graph[1]);
}

async function tilesGraphPrefix(w: Window, size: number): Promise<boolean> {
  let pos = 0;
  for (let i = 0; i < 256 && pos < size && pos < 64 * 1024; i++) {
    const [field, wire, v, hl] = await header(w, pos);
    if (field === 3 && wire === 0) pos += hl;
    else if ((field === 1 || field === 2 || field === 4) && wire === 2 && pos + hl + v <= size) pos += hl + v;
    else return false;
  }
  return true;
}

/**
 * Whether a source is a TensorFlow graph protobuf: a SavedModel (`saved_model.pb`), a
 * MetaGraphDef (`.meta`) or a GraphDef (a frozen `.pb`), by content. Reads field headers only
 * (a few dozen small reads); an ONNX model (its fields 3–8 at the top) is never claimed.
 */
export async function isSavedModel(source: ByteSource): Promise<boolean> {
  return (await sniffRoot(source)) !== undefined;
}

/** The name a tensor or control reference names: `^a/b:1` → `a/b`. */
function nodeOf(ref: string): string {
  return ref.replace(/^\^/, '').replace(/:\d+$/, '');
}

/**
 * Walks a SavedModel, MetaGraphDef or GraphDef: every MetaGraphDef's graph_def, each node's op
 * (and the attributes that say where it reads, writes or what Python it calls), every function
 * in the graph's library, the SaverDef, and Keras's metadata in the object graph. Reports ops
 * that run Python (critical), reach files or the network (high; checkpoint ops only outside the
 * saver the SaverDef names), vocabulary-file readers (medium), and Keras Lambda layers in the
 * metadata. Iterative, bounded by `savedModelBytes` and SAVEDMODEL_BOUNDS; tensor bytes are
 * skipped, not read. Never throws for bad bytes; never clean when no graph was reached.
 */
export async function inspectSavedModel(source: ByteSource, lim: InspectLimits, bounds: Partial<SavedModelBounds> = {}): Promise<SavedModelInspection> {
  const b = { ...SAVEDMODEL_BOUNDS, ...bounds };
  const findings: Finding[] = [];
  const w = new Window(source, b.window);
  let root: Root;
  try {
    root = (await sniffRoot(source)) ?? (await guessRoot(source, w));
  } catch {
    root = 'saved';
  }
  const opCounts = new Map<string, number>();
  let moreOps = 0;
  let nodes = 0;
  let functions = 0;
  let graphs = 0;
  let metaGraphs = 0;
  let calls = 0;
  let callsCut = false;
  let schemaVersion: number | undefined;
  let tfVersion: string | undefined;
  let kerasObjects = 0;
  let saverOps = 0;
  let dangerous = 0;
  const overflow = new Map<Severity, number>();
  const tags: string[][] = [];
  const scopes: Scope[] = [];
  let scope: Scope | undefined;
  const newScope = (): Scope => {
    const s: Scope = { index: scopes.length, tags: [], graphs: 0, flagged: [], calls: new Map(), opUsers: new Map(), functions: [], graphAt: [] };
    scopes.push(s);
    return s;
  };
  if (root !== 'saved') scope = newScope();
  if (root === 'meta') metaGraphs = 1;

  const report = (f: Finding): void => {
    if (++dangerous <= b.findings) findings.push(f);
    else overflow.set(f.severity, (overflow.get(f.severity) ?? 0) + 1);
  };
  const resolve = async (s: Scope): Promise<void> => {
    const saverNodes = new Set<string>();
    let prefix: string | undefined;
    if (s.saver !== undefined) {
      for (const ref of [s.saver.filename, s.saver.save, s.saver.restore]) if (ref !== '') saverNodes.add(nodeOf(ref));
      const named = nodeOf(s.saver.restore || s.saver.save);
      if (named.includes('/')) prefix = named.slice(0, named.lastIndexOf('/') + 1);
    }
    const inSaver = (node: string): boolean => saverNodes.has(node) || (prefix !== undefined && node.startsWith(prefix));
    const byName = new Map(s.functions.map((f) => [f.name, f]));
    const closure = (roots: Iterable<string>): Set<string> => {
      const out = new Set<string>();
      const todo = [...roots];
      while (todo.length > 0) {
        const name = todo.pop() as string;
        const fn = byName.get(name);
        if (fn === undefined || out.has(name)) continue;
        out.add(name);
        todo.push(...fn.calls);
      }
      return out;
    };
    // The saver's functions: what the SaverDef's nodes call (TF2: __inference__traced_save/_restore).
    const saverRoots: string[] = [];
    const otherRoots: string[] = [];
    for (const [node, fns] of s.calls) (inSaver(node) ? saverRoots : otherRoots).push(...fns);
    for (const [op, users] of s.opUsers) {
      if (!byName.has(op)) continue;
      const saverUsers = users.names.filter(inSaver).length;
      if (saverUsers > 0) saverRoots.push(op);
      if (saverUsers < users.count) otherRoots.push(op);
    }
    const saverFns = closure(saverRoots);
    // A saver function that other code calls too is not the saver's alone.
    for (const fn of s.functions) if (!saverFns.has(fn.name)) otherRoots.push(...fn.calls);
    const reached = closure(otherRoots);
    const hasSaverOps = s.flagged.some((f) => f.judged.saver && inSaver(f.node))
      || s.functions.some((fn) => saverFns.has(fn.name) && fn.flagged.some((f) => f.judged.saver));
    // TF1 and TF2 alike: no node outside the saver takes a saver node as an input.
    const edges = !hasSaverOps ? undefined : callsCut ? 'unknown' : await saverEdges(w, s.graphAt, inSaver, s.saver?.restore ? nodeOf(s.saver.restore) : undefined, b.fields, lim.savedModelBytes);
    const entered = edges === undefined ? undefined : edges === 'unknown' ? 'unknown' : edges.entered;
    const writeOnRestore = edges === undefined || edges === 'unknown' ? undefined : edges.writeOnRestore;
    const why = entered === undefined ? '' : entered === 'unknown'
      ? ' (the saver\'s edges could not be checked)'
      : ` (node ${JSON.stringify(entered[0])} outside the saver takes saver node ${JSON.stringify(entered[1])} as an input)`;
    const where = s.index > 0 ? ` (meta graph ${s.index}${s.tags.length > 0 ? `, tags ${s.tags.join(',')}` : ''})` : '';
    const emit = (container: string, f: Flagged, also = ''): void => {
      report({ kind: 'dangerous-op', severity: f.judged.severity, path: `${container}/${f.node}`, detail: `op ${f.op}: ${f.judged.why}${also}${where}` });
    };
    for (const f of s.flagged) {
      if (f.node === writeOnRestore) emit('graph', f, ' (the restore op, which loading runs, depends on it: it writes where the graph says on load)');
      else if (f.judged.saver && inSaver(f.node) && entered === undefined) saverOps++;
      else emit('graph', f, f.judged.saver && inSaver(f.node) ? why : '');
    }
    for (const fn of s.functions) {
      const saverOnly = saverFns.has(fn.name) && !reached.has(fn.name);
      for (const f of fn.flagged) {
        if (f.judged.saver && saverOnly && entered === undefined) saverOps++;
        else emit(fn.name, f, f.judged.saver && saverFns.has(fn.name) ? (saverOnly ? why : ' (the saver\'s function, called from outside the saver too)') : '');
      }
    }
    if (s.graphs === 0) {
      findings.push({ kind: 'not-inspected', severity: 'high', detail: `meta graph ${s.index}: no graph_def was reached, so its graph was not inspected` });
    }
  };
  const endNode = (n: NodeRec, parent: Frame | undefined): void => {
    nodes++;
    const seen = opCounts.get(n.op);
    if (seen !== undefined) opCounts.set(n.op, seen + 1);
    else if (opCounts.size < b.distinctOps) opCounts.set(n.op, 1);
    else moreOps++;
    const judged = judgeOp(n.op, n.attrs);
    const flagged = judged === undefined ? undefined : { node: n.name, op: n.op, judged };
    if (parent?.msg === 'function' && parent.fn !== undefined) {
      if (flagged !== undefined) parent.fn.flagged.push(flagged);
      for (const c of [n.op, ...n.calls]) {
        if (parent.fn.calls.has(c)) continue;
        if (calls >= b.calls) callsCut = true;
        else {
          parent.fn.calls.add(c);
          calls++;
        }
      }
    } else if (scope !== undefined) {
      if (flagged !== undefined) scope.flagged.push(flagged);
      if (n.calls.length > 0) {
        if (calls + n.calls.length > b.calls) callsCut = true;
        else {
          scope.calls.set(n.name, [...n.calls, ...(scope.calls.get(n.name) ?? [])]);
          calls += n.calls.length;
        }
      }
      const users = scope.opUsers.get(n.op);
      if (users !== undefined) {
        users.count++;
        if (users.names.length < 4) users.names.push(n.name);
      } else if (scope.opUsers.size < b.distinctOps) scope.opUsers.set(n.op, { count: 1, names: [n.name] });
      else callsCut = true;
    }
  };
  const endUserObject = (u: NonNullable<Frame['user']>, index: number): void => {
    if (!(u.identifier ?? '').startsWith('_tf_keras')) return;
    kerasObjects++;
    const path = `object_graph_def/nodes[${index}]`;
    if (u.tooBig !== undefined) {
      findings.push({ kind: 'limit', severity: 'high', path, detail: `Keras metadata of ${u.tooBig} bytes is more than ${lim.kerasConfigBytes}: it was not inspected (a Lambda layer's code would be in it)` });
    } else if (u.metadata !== undefined && u.metadata.length > 0) {
      findings.push(...inspectKerasConfig(u.metadata, lim, path));
    }
  };

  const stack: Frame[] = [{ msg: root, end: source.size }];
  if (root === 'graph' && scope !== undefined) {
    graphs = 1;
    scope.graphs = 1;
    scope.graphAt.push([0, source.size]);
  }
  const objectIndex: number[] = [];
  let pos = 0;
  let fields = 0;
  const readString = async (at: number, len: number, cap = b.string): Promise<string> => {
    const n = Math.min(len, cap);
    await w.ensure(at, n);
    return w.slice(at, n).toString('utf8');
  };
  try {
    while (stack.length > 0) {
      const frame = stack[stack.length - 1] as Frame;
      if (pos >= frame.end) {
        if (pos > frame.end) throw new Stop('malformed', `a ${frame.msg} field runs past its message at byte ${frame.end}`);
        stack.pop();
        const parent = stack[stack.length - 1];
        if (frame.msg === 'node' && frame.node !== undefined) endNode(frame.node, parent);
        else if (frame.msg === 'attrEntry' && frame.entry?.own && frame.entry.key !== undefined && KEPT_ATTRS.has(frame.entry.key)) {
          frame.node?.attrs.set(frame.entry.key, frame.entry.values);
        } else if (frame.msg === 'meta') {
          scope = undefined;
        } else if (frame.msg === 'objectGraph') {
          objectIndex.pop();
        } else if (frame.msg === 'userObject' && frame.user !== undefined) endUserObject(frame.user, objectIndex[objectIndex.length - 1] ?? 0);
        continue;
      }
      if (pos >= lim.savedModelBytes) throw new Stop('limit', `the protobuf is ${source.size} bytes; only the first ${lim.savedModelBytes} were walked`);
      if (++fields > b.fields) throw new Stop('limit', `more than ${b.fields} protobuf fields`);
      await w.ensure(pos, 20);
      const [tag, tl] = w.varint(pos);
      const field = Math.floor(tag / 8);
      const wire = tag % 8;
      const fieldAt = pos;
      pos += tl;
      if (field === 0) throw new Stop('malformed', `field number 0 at byte ${fieldAt}`);
      if (wire === 0) {
        const [v, vl] = w.varint(pos);
        if (frame.msg === 'saved' && field === 1) schemaVersion = v;
        pos += vl;
      } else if (wire === 1) pos += 8;
      else if (wire === 5) pos += 4;
      else if (wire === 2) {
        const [len, ll] = w.varint(pos);
        pos += ll;
        if (pos + len > frame.end) throw new Stop('malformed', `field ${field} of a ${frame.msg} at byte ${fieldAt} claims ${len} bytes, past its message`);
        const child = CHILDREN[frame.msg][field];
        if (child !== undefined) {
          if (stack.length >= b.depth) throw new Stop('limit', `messages nested deeper than ${b.depth}`);
          const next: Frame = { msg: child, end: pos + len };
          if (child === 'meta') {
            metaGraphs++;
            scope = newScope();
          } else if (child === 'graph') {
            graphs++;
            if (scope !== undefined) {
              scope.graphs++;
              scope.graphAt.push([pos, pos + len]);
            }
          } else if (child === 'function') {
            functions++;
            next.fn = { name: `(function ${functions - 1})`, flagged: [], calls: new Set() };
            scope?.functions.push(next.fn);
          } else if (child === 'signature') {
            if (frame.fn !== undefined) next.fn = frame.fn;
          } else if (child === 'node') {
            next.node = { name: '(unnamed)', op: '', attrs: new Map(), calls: [] };
          } else if (child === 'attrEntry') {
            if (frame.node !== undefined) next.node = frame.node;
            next.entry = { values: [], own: frame.msg === 'node' };
          } else if (child === 'attr' || child === 'attrList' || child === 'nameAttrList') {
            if (frame.node !== undefined) next.node = frame.node;
            if (frame.entry !== undefined) next.entry = frame.entry;
          } else if (child === 'savedObject') {
            objectIndex.push((objectIndex.pop() ?? -1) + 1);
          } else if (child === 'objectGraph') {
            objectIndex.push(-1);
          } else if (child === 'userObject') {
            next.user = {};
          }
          stack.push(next);
          continue;
        }
        switch (frame.msg) {
          case 'metaInfo':
            if (field === 4 && scope !== undefined && scope.tags.length < 16) scope.tags.push((await readString(pos, len)).slice(0, 100));
            else if (field === 5) tfVersion ??= (await readString(pos, len)).slice(0, 100);
            break;
          case 'saver':
            if (field >= 1 && field <= 3 && scope !== undefined) {
              scope.saver ??= { filename: '', save: '', restore: '' };
              const v = await readString(pos, len);
              if (field === 1) scope.saver.filename = v;
              else if (field === 2) scope.saver.save = v;
              else scope.saver.restore = v;
            }
            break;
          case 'signature':
            if (field === 1 && frame.fn !== undefined) frame.fn.name = await readString(pos, len);
            break;
          case 'node':
            if (frame.node !== undefined && (field === 1 || field === 2)) {
              const v = await readString(pos, len);
              if (field === 1) frame.node.name = v;
              else frame.node.op = v;
            }
            break;
          case 'attrEntry':
            if (field === 1 && frame.entry !== undefined) frame.entry.key = await readString(pos, len, 100);
            break;
          case 'attr':
          case 'attrList':
            if (field === 2 && frame.entry?.own && frame.entry.values.length < 8) frame.entry.values.push((await readString(pos, len)).slice(0, 512));
            break;
          case 'nameAttrList':
            if (field === 1 && frame.node !== undefined && frame.node.calls.length < 64) frame.node.calls.push(await readString(pos, len));
            break;
          case 'userObject':
            if (frame.user !== undefined) {
              if (field === 1) frame.user.identifier = await readString(pos, len, 200);
              else if (field === 3) {
                if (len > lim.kerasConfigBytes) frame.user.tooBig = len;
                else {
                  await w.ensure(pos, len);
                  frame.user.metadata = Buffer.from(w.slice(pos, len));
                }
              }
            }
            break;
          default:
            break;
        }
        pos += len;
      } else throw new Stop('malformed', `wire type ${wire} at byte ${fieldAt}`);
    }
  } catch (e) {
    if (!(e instanceof Stop)) {
      findings.push({ kind: 'unreadable', severity: 'high', offset: pos, detail: `SavedModel walk failed: ${(e as Error).message}` });
    } else {
      findings.push(e.why === 'limit'
        ? { kind: 'limit', severity: 'high', offset: pos, detail: `SavedModel walk stopped: ${e.message}: what follows was not inspected` }
        : { kind: 'malformed', severity: 'high', offset: pos, detail: `SavedModel: ${e.message}` });
    }
  }
  for (const sc of scopes) {
    await resolve(sc);
    tags.push(sc.tags);
  }
  if (scopes.length === 0) findings.push({ kind: 'not-inspected', severity: 'high', detail: 'no MetaGraphDef was reached: the graph was not inspected' });
  if (overflow.size > 0) {
    const order: Severity[] = ['critical', 'high', 'medium', 'low', 'info'];
    const worst = order.find((s) => overflow.has(s)) ?? 'high';
    const n = [...overflow.values()].reduce((a, c) => a + c, 0);
    findings.push({ kind: 'dangerous-op', severity: worst, detail: `and ${n} more ops that run Python or reach files or the network` });
  }
  const ops = [...opCounts.keys()].sort();
  const meta: Record<string, unknown> = {
    root: root === 'saved' ? 'SavedModel' : root === 'meta' ? 'MetaGraphDef' : 'GraphDef',
    metaGraphs,
    graphs,
    functions,
    nodes,
    distinctOps: opCounts.size + (moreOps > 0 ? 1 : 0),
    ops: ops.slice(0, 200),
    saverOps,
  };
  if (schemaVersion !== undefined) meta['schemaVersion'] = schemaVersion;
  if (tfVersion !== undefined) meta['tensorflowVersion'] = tfVersion;
  if (tags.some((t) => t.length > 0)) meta['tags'] = tags.slice(0, 16);
  if (kerasObjects > 0) meta['kerasObjects'] = kerasObjects;
  return { findings, meta };
}

/** A graph node as the second look reads it: its name, op and input nodes. */
interface GraphNode { readonly name: string; readonly op: string; readonly inputs: string[] }

/**
 * The nodes of a graph_def (in the pieces `ranges` name), read again for their edges; yields
 * 'unknown' and stops when the bytes break or a bound is hit.
 */
async function* graphNodes(w: Window, ranges: readonly [number, number][], maxFields: number, maxBytes: number): AsyncGenerator<GraphNode | 'unknown'> {
  if (ranges.length === 0 || ranges.some(([, end]) => end > maxBytes)) {
    yield 'unknown';
    return;
  }
  const str = async (p: number, len: number): Promise<string> => {
    const n = Math.min(len, SAVEDMODEL_BOUNDS.string);
    await w.ensure(p, n);
    return w.slice(p, n).toString('utf8');
  };
  let fields = 0;
  /** The fields of the message at [from, to): [field, wire, start of value, end], or undefined when they break it. */
  const fieldsOf = async function* (from: number, to: number): AsyncGenerator<[number, number, number, number] | undefined> {
    let p = from;
    while (p < to) {
      if (++fields > maxFields) {
        yield undefined;
        return;
      }
      const [f, wire, v, hl] = await header(w, p);
      const end = wire === 2 ? p + hl + v : wire === 0 ? p + hl : wire === 1 ? p + hl + 8 : wire === 5 ? p + hl + 4 : -1;
      if (end < 0 || end > to) {
        yield undefined;
        return;
      }
      yield [f, wire, p + hl, end];
      p = end;
    }
  };
  try {
    for (const [from, to] of ranges) {
      for await (const node of fieldsOf(from, to)) {
        if (node === undefined) {
          yield 'unknown';
          return;
        }
        if (node[0] !== 1 || node[1] !== 2) continue;
        let name = '';
        let op = '';
        const inputs: string[] = [];
        for await (const f of fieldsOf(node[2], node[3])) {
          if (f === undefined) {
            yield 'unknown';
            return;
          }
          if (f[1] === 2 && f[0] === 1) name = await str(f[2], f[3] - f[2]);
          else if (f[1] === 2 && f[0] === 2) op = await str(f[2], f[3] - f[2]);
          else if (f[1] === 2 && f[0] === 3) inputs.push(nodeOf(await str(f[2], f[3] - f[2])));
        }
        yield { name, op, inputs };
      }
    }
  } catch {
    yield 'unknown';
  }
}

/** The second look at a TF1 saver's edges. */
interface SaverEdges {
  /** A node outside the saver that takes a saver node as an input: [it, the saver node]. */
  readonly entered: [string, string] | 'unknown' | undefined;
  /** A checkpoint-writing node the restore op depends on: loading runs it. */
  readonly writeOnRestore: string | undefined;
}

/** Ops that write checkpoint files: the saver runs them to save, never to restore. */
const CHECKPOINT_WRITES = new Set(['SaveV2', 'MergeV2Checkpoints', 'Save', 'SaveSlices']);

/**
 * TF1 and TF2 alike: no node outside the saver may take a saver node as an input; and the
 * restore op (what loading runs) may not depend on a node that writes checkpoints.
 */
async function saverEdges(w: Window, ranges: readonly [number, number][], inSaver: (node: string) => boolean, restore: string | undefined, maxFields: number, maxBytes: number): Promise<SaverEdges> {
  let entered: SaverEdges['entered'];
  const scope = new Map<string, GraphNode>();
  for await (const n of graphNodes(w, ranges, maxFields, maxBytes)) {
    if (n === 'unknown') return { entered: 'unknown', writeOnRestore: undefined };
    if (inSaver(n.name)) {
      scope.set(n.name, n);
      continue;
    }
    const hit = n.inputs.find(inSaver);
    if (hit !== undefined && entered === undefined) entered = [n.name, hit];
  }
  let writeOnRestore: string | undefined;
  if (restore !== undefined) {
    const seen = new Set<string>();
    const todo = [restore];
    while (todo.length > 0 && writeOnRestore === undefined) {
      const name = todo.pop() as string;
      if (seen.has(name)) continue;
      seen.add(name);
      const n = scope.get(name);
      if (n === undefined) continue;
      if (CHECKPOINT_WRITES.has(n.op)) writeOnRestore = name;
      todo.push(...n.inputs);
    }
  }
  return { entered, writeOnRestore };
}

/** The root of a file that did not sniff cleanly (truncated, say): by its first field. */
async function guessRoot(source: ByteSource, w: Window): Promise<Root> {
  if (source.size === 0) return 'saved';
  const [field, wire] = await header(w, 0);
  if (wire === 2 && (field === 1 || field === 4) && (await startsLikeGraph(w, 0, source.size))) return 'graph';
  if (wire === 2 && field === 1) return 'meta';
  return 'saved';
}
