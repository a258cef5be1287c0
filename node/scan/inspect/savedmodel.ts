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
  const attr = (key: string): string | undefined => attrs.get(key)?.[0];
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
    const extra = urls !== undefined ? ` ${urls.map((url) => JSON.stringify(url)).join(', ')}` : region !== undefined ? ` ${JSON.stringify(region)}` : '';
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
function bufVarint(buf: Buffer, at: number): [number, number] | undefined {
  let value = 0;
  for (let i = 0; i < 5; i++) {
    const byte = buf[at + i];
    if (byte === undefined) return undefined;
    value += (byte & 0x7f) * 2 ** (7 * i);
    if ((byte & 0x80) === 0) return [value, i + 1];
  }
  return undefined;
}

/**
 * The length-delimited fields at the start of a buffer, as [field, start, length] (the last
 * may run past the buffer): up to `n` of them, stopping at any other wire type.
 */
function leadingFields(buf: Buffer, n: number): [number, number, number][] {
  const out: [number, number, number][] = [];
  let pos = 0;
  while (out.length < n && pos < buf.length) {
    const tag = bufVarint(buf, pos);
    if (tag === undefined || tag[0] % 8 !== 2) break;
    const len = bufVarint(buf, pos + tag[1]);
    if (len === undefined) break;
    out.push([Math.floor(tag[0] / 8), pos + tag[1] + len[1], len[0]]);
    pos += tag[1] + len[1] + len[0];
  }
  return out;
}

/**
 * True when bytes begin a NodeDef: its first fields (up to eight) are NodeDef's own (1–7,
 * length-delimited) and among them are a well-formed name (1) and op (2).
 */
function looksLikeNodeDef(buf: Buffer): boolean {
  const fields = leadingFields(buf, 8);
  if (fields.some(([fieldNo]) => fieldNo < 1 || fieldNo > 7)) return false;
  const name = fields.find(([fieldNo]) => fieldNo === 1);
  const op = fields.find(([fieldNo]) => fieldNo === 2);
  if (name === undefined || op === undefined || name[2] === 0 || op[2] === 0 || name[1] + name[2] > buf.length || op[1] + op[2] > buf.length) return false;
  return NODE_NAME.test(buf.toString('latin1', name[1], name[1] + name[2])) && OP_NAME.test(buf.toString('latin1', op[1], op[1] + op[2]));
}

/** True when bytes begin a FunctionDefLibrary: a FunctionDef whose signature (an OpDef) starts with a well-formed name. */
function looksLikeLibrary(buf: Buffer): boolean {
  const [fn] = leadingFields(buf, 1);
  if (fn?.[0] !== 1) return false;
  const [sig] = leadingFields(buf.subarray(fn[1]), 1);
  if (sig?.[0] !== 1) return false;
  const [name] = leadingFields(buf.subarray(fn[1] + sig[1]), 1);
  const at = fn[1] + sig[1] + (name?.[1] ?? 0);
  return name?.[0] === 1 && name[2] > 0 && at + name[2] <= buf.length && OP_NAME.test(buf.toString('latin1', at, at + name[2]));
}

/** Reads the tag and (for wire type 2) length of the field at `pos`: [field, wire, value or length, header bytes]. */
async function header(window: Window, pos: number): Promise<[number, number, number, number]> {
  await window.ensure(pos, 20);
  const [tag, tl] = window.varint(pos);
  const wire = tag % 8;
  if (wire === 0 || wire === 2) {
    const [value, vl] = window.varint(pos + tl);
    return [Math.floor(tag / 8), wire, value, tl + vl];
  }
  return [Math.floor(tag / 8), wire, 0, tl];
}

/** True when the message at [pos, end) starts like a GraphDef: a NodeDef first, or a function library, or versions. */
async function startsLikeGraph(window: Window, pos: number, end: number): Promise<boolean> {
  if (pos >= end) return false;
  const [field, wire, len, hl] = await header(window, pos);
  if (wire !== 2 || pos + hl + len > end) return false;
  const n = Math.min(len, 4096);
  await window.ensure(pos + hl, n);
  const body = window.slice(pos + hl, n);
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
  const window = new Window(source, 4096);
  try {
    const [f0, w0] = await header(window, 0);
    if ((f0 === 1 && w0 === 0) || (f0 === 2 && w0 === 2)) {
      if (await tilesSavedModel(window, size)) return 'saved';
    }
    if ((f0 === 1 || f0 === 2 || f0 === 4) && w0 === 2 && (await startsLikeGraph(window, 0, size))) {
      if (await tilesGraphPrefix(window, size)) return 'graph';
    }
    if ((f0 === 1 || f0 === 2) && w0 === 2 && (await tilesMetaGraph(window, size))) return 'meta';
  } catch {
    return undefined;
  }
  return undefined;
}

async function tilesSavedModel(window: Window, size: number): Promise<boolean> {
  let pos = 0;
  let firstMeta: [number, number] | undefined;
  for (let i = 0; i < 64 && pos < size; i++) {
    const [field, wire, value, hl] = await header(window, pos);
    if (field === 1 && wire === 0) {
      if (value > 1000) return false;
      pos += hl;
    } else if (field === 2 && wire === 2) {
      if (pos + hl + value > size) return false;
      firstMeta ??= [pos + hl, pos + hl + value];
      pos += hl + value;
    } else return false;
  }
  if (pos !== size || firstMeta === undefined) return false;
  // The first MetaGraphDef: fields 1–7, length-delimited, within it; a graph_def among them.
  const [start, end] = firstMeta;
  let at = start;
  for (let i = 0; i < 256 && at < end; i++) {
    const [field, wire, len, hl] = await header(window, at);
    if (field < 1 || field > 7 || wire !== 2 || at + hl + len > end) return false;
    if (field === 2) return startsLikeGraph(window, at + hl, at + hl + len);
    at += hl + len;
  }
  return false;
}

async function tilesMetaGraph(window: Window, size: number): Promise<boolean> {
  let pos = 0;
  let graph: [number, number] | undefined;
  for (let i = 0; i < 256 && pos < size; i++) {
    const [field, wire, len, hl] = await header(window, pos);
    if (field < 1 || field > 7 || wire !== 2 || pos + hl + len > size) return false;
    if (field === 2) graph ??= [pos + hl, pos + hl + len];
    pos += hl + len;
  }
  return pos === size && graph !== undefined && startsLikeGraph(window, graph[0], graph[1]);
}

async function tilesGraphPrefix(window: Window, size: number): Promise<boolean> {
  let pos = 0;
  for (let i = 0; i < 256 && pos < size && pos < 64 * 1024; i++) {
    const [field, wire, value, hl] = await header(window, pos);
    if (field === 3 && wire === 0) pos += hl;
    else if ((field === 1 || field === 2 || field === 4) && wire === 2 && pos + hl + value <= size) pos += hl + value;
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
  const caps = { ...SAVEDMODEL_BOUNDS, ...bounds };
  const findings: Finding[] = [];
  const window = new Window(source, caps.window);
  let root: Root;
  try {
    root = (await sniffRoot(source)) ?? (await guessRoot(source, window));
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
    const created: Scope = { index: scopes.length, tags: [], graphs: 0, flagged: [], calls: new Map(), opUsers: new Map(), functions: [], graphAt: [] };
    scopes.push(created);
    return created;
  };
  if (root !== 'saved') scope = newScope();
  if (root === 'meta') metaGraphs = 1;

  const report = (finding: Finding): void => {
    if (++dangerous <= caps.findings) findings.push(finding);
    else overflow.set(finding.severity, (overflow.get(finding.severity) ?? 0) + 1);
  };
  const resolve = async (target: Scope): Promise<void> => {
    const saverNodes = new Set<string>();
    let prefix: string | undefined;
    if (target.saver !== undefined) {
      for (const ref of [target.saver.filename, target.saver.save, target.saver.restore]) if (ref !== '') saverNodes.add(nodeOf(ref));
      const named = nodeOf(target.saver.restore || target.saver.save);
      if (named.includes('/')) prefix = named.slice(0, named.lastIndexOf('/') + 1);
    }
    const inSaver = (node: string): boolean => saverNodes.has(node) || (prefix !== undefined && node.startsWith(prefix));
    const byName = new Map(target.functions.map((fn) => [fn.name, fn]));
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
    for (const [node, fns] of target.calls) (inSaver(node) ? saverRoots : otherRoots).push(...fns);
    for (const [op, users] of target.opUsers) {
      if (!byName.has(op)) continue;
      const saverUsers = users.names.filter(inSaver).length;
      if (saverUsers > 0) saverRoots.push(op);
      if (saverUsers < users.count) otherRoots.push(op);
    }
    const saverFns = closure(saverRoots);
    // A saver function that other code calls too is not the saver's alone.
    for (const fn of target.functions) if (!saverFns.has(fn.name)) otherRoots.push(...fn.calls);
    const reached = closure(otherRoots);
    const hasSaverOps = target.flagged.some((flag) => flag.judged.saver && inSaver(flag.node))
      || target.functions.some((fn) => saverFns.has(fn.name) && fn.flagged.some((flag) => flag.judged.saver));
    // TF1 and TF2 alike: no node outside the saver takes a saver node as an input.
    const edges = !hasSaverOps ? undefined : callsCut ? 'unknown' : await saverEdges(window, target.graphAt, inSaver, target.saver?.restore ? nodeOf(target.saver.restore) : undefined, caps.fields, lim.savedModelBytes);
    const entered = edges === undefined ? undefined : edges === 'unknown' ? 'unknown' : edges.entered;
    const writeOnRestore = edges === undefined || edges === 'unknown' ? undefined : edges.writeOnRestore;
    const why = entered === undefined ? '' : entered === 'unknown'
      ? ' (the saver\'s edges could not be checked)'
      : ` (node ${JSON.stringify(entered[0])} outside the saver takes saver node ${JSON.stringify(entered[1])} as an input)`;
    const where = target.index > 0 ? ` (meta graph ${target.index}${target.tags.length > 0 ? `, tags ${target.tags.join(',')}` : ''})` : '';
    const emit = (container: string, flag: Flagged, also = ''): void => {
      report({ kind: 'dangerous-op', severity: flag.judged.severity, path: `${container}/${flag.node}`, detail: `op ${flag.op}: ${flag.judged.why}${also}${where}` });
    };
    for (const flag of target.flagged) {
      if (flag.node === writeOnRestore) emit('graph', flag, ' (the restore op, which loading runs, depends on it: it writes where the graph says on load)');
      else if (flag.judged.saver && inSaver(flag.node) && entered === undefined) saverOps++;
      else emit('graph', flag, flag.judged.saver && inSaver(flag.node) ? why : '');
    }
    for (const fn of target.functions) {
      const saverOnly = saverFns.has(fn.name) && !reached.has(fn.name);
      for (const flag of fn.flagged) {
        if (flag.judged.saver && saverOnly && entered === undefined) saverOps++;
        else emit(fn.name, flag, flag.judged.saver && saverFns.has(fn.name) ? (saverOnly ? why : ' (the saver\'s function, called from outside the saver too)') : '');
      }
    }
    if (target.graphs === 0) {
      findings.push({ kind: 'not-inspected', severity: 'high', detail: `meta graph ${target.index}: no graph_def was reached, so its graph was not inspected` });
    }
  };
  const endNode = (nodeRec: NodeRec, parent: Frame | undefined): void => {
    nodes++;
    const seen = opCounts.get(nodeRec.op);
    if (seen !== undefined) opCounts.set(nodeRec.op, seen + 1);
    else if (opCounts.size < caps.distinctOps) opCounts.set(nodeRec.op, 1);
    else moreOps++;
    const judged = judgeOp(nodeRec.op, nodeRec.attrs);
    const flagged = judged === undefined ? undefined : { node: nodeRec.name, op: nodeRec.op, judged };
    if (parent?.msg === 'function' && parent.fn !== undefined) {
      if (flagged !== undefined) parent.fn.flagged.push(flagged);
      for (const callee of [nodeRec.op, ...nodeRec.calls]) {
        if (parent.fn.calls.has(callee)) continue;
        if (calls >= caps.calls) callsCut = true;
        else {
          parent.fn.calls.add(callee);
          calls++;
        }
      }
    } else if (scope !== undefined) {
      if (flagged !== undefined) scope.flagged.push(flagged);
      if (nodeRec.calls.length > 0) {
        if (calls + nodeRec.calls.length > caps.calls) callsCut = true;
        else {
          scope.calls.set(nodeRec.name, [...nodeRec.calls, ...(scope.calls.get(nodeRec.name) ?? [])]);
          calls += nodeRec.calls.length;
        }
      }
      const users = scope.opUsers.get(nodeRec.op);
      if (users !== undefined) {
        users.count++;
        if (users.names.length < 4) users.names.push(nodeRec.name);
      } else if (scope.opUsers.size < caps.distinctOps) scope.opUsers.set(nodeRec.op, { count: 1, names: [nodeRec.name] });
      else callsCut = true;
    }
  };
  const endUserObject = (user: NonNullable<Frame['user']>, index: number): void => {
    if (!(user.identifier ?? '').startsWith('_tf_keras')) return;
    kerasObjects++;
    const path = `object_graph_def/nodes[${index}]`;
    if (user.tooBig !== undefined) {
      findings.push({ kind: 'limit', severity: 'high', path, detail: `Keras metadata of ${user.tooBig} bytes is more than ${lim.kerasConfigBytes}: it was not inspected (a Lambda layer's code would be in it)` });
    } else if (user.metadata !== undefined && user.metadata.length > 0) {
      findings.push(...inspectKerasConfig(user.metadata, lim, path));
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
  const readString = async (at: number, len: number, cap = caps.string): Promise<string> => {
    const n = Math.min(len, cap);
    await window.ensure(at, n);
    return window.slice(at, n).toString('utf8');
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
      if (++fields > caps.fields) throw new Stop('limit', `more than ${caps.fields} protobuf fields`);
      await window.ensure(pos, 20);
      const [tag, tl] = window.varint(pos);
      const field = Math.floor(tag / 8);
      const wire = tag % 8;
      const fieldAt = pos;
      pos += tl;
      if (field === 0) throw new Stop('malformed', `field number 0 at byte ${fieldAt}`);
      if (wire === 0) {
        const [value, vl] = window.varint(pos);
        if (frame.msg === 'saved' && field === 1) schemaVersion = value;
        pos += vl;
      } else if (wire === 1) pos += 8;
      else if (wire === 5) pos += 4;
      else if (wire === 2) {
        const [len, ll] = window.varint(pos);
        pos += ll;
        if (pos + len > frame.end) throw new Stop('malformed', `field ${field} of a ${frame.msg} at byte ${fieldAt} claims ${len} bytes, past its message`);
        const child = CHILDREN[frame.msg][field];
        if (child !== undefined) {
          if (stack.length >= caps.depth) throw new Stop('limit', `messages nested deeper than ${caps.depth}`);
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
              const text = await readString(pos, len);
              if (field === 1) scope.saver.filename = text;
              else if (field === 2) scope.saver.save = text;
              else scope.saver.restore = text;
            }
            break;
          case 'signature':
            if (field === 1 && frame.fn !== undefined) frame.fn.name = await readString(pos, len);
            break;
          case 'node':
            if (frame.node !== undefined && (field === 1 || field === 2)) {
              const text = await readString(pos, len);
              if (field === 1) frame.node.name = text;
              else frame.node.op = text;
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
                  await window.ensure(pos, len);
                  frame.user.metadata = Buffer.from(window.slice(pos, len));
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
    const worst = order.find((severity) => overflow.has(severity)) ?? 'high';
    const total = [...overflow.values()].reduce((sum, count) => sum + count, 0);
    findings.push({ kind: 'dangerous-op', severity: worst, detail: `and ${total} more ops that run Python or reach files or the network` });
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
  if (tags.some((tag) => tag.length > 0)) meta['tags'] = tags.slice(0, 16);
  if (kerasObjects > 0) meta['kerasObjects'] = kerasObjects;
  return { findings, meta };
}

/** A graph node as the second look reads it: its name, op and input nodes. */
interface GraphNode { readonly name: string; readonly op: string; readonly inputs: string[] }

/**
 * The nodes of a graph_def (in the pieces `ranges` name), read again for their edges; yields
 * 'unknown' and stops when the bytes break or a bound is hit.
 */
async function* graphNodes(window: Window, ranges: readonly [number, number][], maxFields: number, maxBytes: number): AsyncGenerator<GraphNode | 'unknown'> {
  if (ranges.length === 0 || ranges.some(([, end]) => end > maxBytes)) {
    yield 'unknown';
    return;
  }
  const str = async (at: number, len: number): Promise<string> => {
    const n = Math.min(len, SAVEDMODEL_BOUNDS.string);
    await window.ensure(at, n);
    return window.slice(at, n).toString('utf8');
  };
  let fields = 0;
  /** The fields of the message at [from, to): [field, wire, start of value, end], or undefined when they break it. */
  const fieldsOf = async function* (from: number, to: number): AsyncGenerator<[number, number, number, number] | undefined> {
    let pos = from;
    while (pos < to) {
      if (++fields > maxFields) {
        yield undefined;
        return;
      }
      const [field, wire, value, hl] = await header(window, pos);
      const end = wire === 2 ? pos + hl + value : wire === 0 ? pos + hl : wire === 1 ? pos + hl + 8 : wire === 5 ? pos + hl + 4 : -1;
      if (end < 0 || end > to) {
        yield undefined;
        return;
      }
      yield [field, wire, pos + hl, end];
      pos = end;
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
        for await (const field of fieldsOf(node[2], node[3])) {
          if (field === undefined) {
            yield 'unknown';
            return;
          }
          if (field[1] === 2 && field[0] === 1) name = await str(field[2], field[3] - field[2]);
          else if (field[1] === 2 && field[0] === 2) op = await str(field[2], field[3] - field[2]);
          else if (field[1] === 2 && field[0] === 3) inputs.push(nodeOf(await str(field[2], field[3] - field[2])));
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
async function saverEdges(window: Window, ranges: readonly [number, number][], inSaver: (node: string) => boolean, restore: string | undefined, maxFields: number, maxBytes: number): Promise<SaverEdges> {
  let entered: SaverEdges['entered'];
  const scope = new Map<string, GraphNode>();
  for await (const graphNode of graphNodes(window, ranges, maxFields, maxBytes)) {
    if (graphNode === 'unknown') return { entered: 'unknown', writeOnRestore: undefined };
    if (inSaver(graphNode.name)) {
      scope.set(graphNode.name, graphNode);
      continue;
    }
    const hit = graphNode.inputs.find(inSaver);
    if (hit !== undefined && entered === undefined) entered = [graphNode.name, hit];
  }
  let writeOnRestore: string | undefined;
  if (restore !== undefined) {
    const seen = new Set<string>();
    const todo = [restore];
    while (todo.length > 0 && writeOnRestore === undefined) {
      const name = todo.pop() as string;
      if (seen.has(name)) continue;
      seen.add(name);
      const entry = scope.get(name);
      if (entry === undefined) continue;
      if (CHECKPOINT_WRITES.has(entry.op)) writeOnRestore = name;
      todo.push(...entry.inputs);
    }
  }
  return { entered, writeOnRestore };
}

/** The root of a file that did not sniff cleanly (truncated, say): by its first field. */
async function guessRoot(source: ByteSource, window: Window): Promise<Root> {
  if (source.size === 0) return 'saved';
  const [field, wire] = await header(window, 0);
  if (wire === 2 && (field === 1 || field === 4) && (await startsLikeGraph(window, 0, source.size))) return 'graph';
  if (wire === 2 && field === 1) return 'meta';
  return 'saved';
}
