import { describe, expect, it } from 'vitest';
import { bufferSource, inspectOnnx, type Finding } from '../../node/scan/inspect/index.js';
import { isOnnx } from '../../node/scan/inspect/onnx.js';
import { isSavedModel } from '../../node/scan/inspect/savedmodel.js';
import { onnxExternalTensor, pb, writeOnnx } from '../fixtures/scan/builders.js';
import { onnxNode, writeOnnxModel, type OnnxNodeSpec } from '../fixtures/scan/tf-builders.js';

const run = async (opts: Parameters<typeof writeOnnxModel>[0]) => {
  const bytes = writeOnnxModel(opts);
  expect(await isOnnx(bufferSource(bytes))).toBe(true);
  expect(await isSavedModel(bufferSource(bytes))).toBe(false);
  return inspectOnnx(bufferSource(bytes));
};
const brief = (fs: Finding[]) => fs.map((f) => [f.kind, f.severity, f.detail]);

describe('ONNX operator domains', () => {
  it('a model of standard operators (ONNX, ai.onnx.ml, com.microsoft, ai.onnx alias) has no findings', async () => {
    const nodes: OnnxNodeSpec[] = [
      { op: 'MatMul' }, { op: 'Relu', domain: 'ai.onnx' }, { op: 'TreeEnsembleClassifier', domain: 'ai.onnx.ml' },
      { op: 'FusedMatMul', domain: 'com.microsoft' }, { op: 'ATen', domain: 'org.pytorch.aten' },
    ];
    const r = await run({ nodes, opsets: ['ai.onnx.ml', 'com.microsoft', 'org.pytorch.aten'] });
    expect(r.findings).toEqual([]);
  });

  it('a custom domain is one high dangerous-op with its ops and node count', async () => {
    const nodes: OnnxNodeSpec[] = [
      { op: 'Relu' }, { op: 'Backdoor', domain: 'com.example.evil' }, { op: 'Backdoor', domain: 'com.example.evil' },
      { op: 'Exfil', domain: 'com.example.evil' }, { op: 'GridSample', domain: 'mmdeploy' },
    ];
    const r = await run({ nodes, opsets: ['com.example.evil', 'mmdeploy'] });
    expect(brief(r.findings)).toEqual([
      ['dangerous-op', 'high', 'custom operator domain "com.example.evil" (op Backdoor, Exfil; 3 nodes): the runtime must load a native library to run it'],
      ['dangerous-op', 'high', 'custom operator domain "mmdeploy" (op GridSample; 1 node): the runtime must load a native library to run it'],
    ]);
  });

  it('a node calling a model-local function is not custom; a custom op inside the function is', async () => {
    const fn = { domain: 'pkg.onnxscript.torch_lib', name: 'aten_gelu', nodes: [{ op: 'Tanh' }, { op: 'Mul' }] };
    const clean = await run({ nodes: [{ op: 'aten_gelu', domain: 'pkg.onnxscript.torch_lib' }], opsets: ['pkg.onnxscript.torch_lib'], functions: [fn] });
    expect(clean.findings).toEqual([]);
    const inside = await run({
      nodes: [{ op: 'aten_gelu', domain: 'pkg.onnxscript.torch_lib' }, { op: 'other', domain: 'pkg.onnxscript.torch_lib' }],
      opsets: ['pkg.onnxscript.torch_lib', 'trt.plugins'],
      functions: [{ ...fn, nodes: [...fn.nodes, { op: 'Plugin', domain: 'trt.plugins' }] }],
    });
    expect(brief(inside.findings).map((f) => f[2])).toEqual([
      'custom operator domain "pkg.onnxscript.torch_lib" (op other; 1 node): the runtime must load a native library to run it',
      'custom operator domain "trt.plugins" (op Plugin; 1 node): the runtime must load a native library to run it',
    ]);
  });

  it('Python operators: PyOp is critical with its module and class; com.microsoft PythonOp is high', async () => {
    const r = await run({
      nodes: [
        { op: 'PyOp', domain: 'pyopmulti_1', name: 'py1', attrs: { module: 'os', class_name: 'system', input_types: 'x' } },
        { op: 'PythonOp', domain: 'com.microsoft', attrs: { func_name: 'mymodule.MyFunction' } },
      ],
      opsets: ['pyopmulti_1', 'com.microsoft'],
    });
    expect(brief(r.findings)).toEqual([
      ['dangerous-op', 'critical', 'PyOp node "py1" (domain "pyopmulti_1") names Python module "os", class "system": onnxruntime built with language interop ops imports and runs it'],
      ['dangerous-op', 'high', '1 com.microsoft PythonOp/PythonOpGrad node(s) ("mymodule.MyFunction"): onnxruntime training calls the Python torch.autograd.Function registered under that name'],
    ]);
  });

  it('a custom opset that no node uses is low', async () => {
    const r = await run({ nodes: [{ op: 'Relu' }], opsets: ['ai.onnx.contrib'] });
    expect(brief(r.findings)).toEqual([['dangerous-op', 'low', 'opset_import declares custom operator domain "ai.onnx.contrib", which no node uses']]);
  });

  it('custom nodes in a subgraph are found too', async () => {
    // An If node whose then_branch graph holds a custom node: attribute (5) > g (6) > node (1).
    const sub = Buffer.concat([pb.bytes(1, onnxNode({ op: 'Hidden', domain: 'x.y' })), pb.bytes(2, 'then')]);
    const ifNode = Buffer.concat([pb.bytes(4, 'If'), pb.bytes(5, Buffer.concat([pb.bytes(1, 'then_branch'), pb.bytes(6, sub), pb.int(20, 5)]))]);
    const r = await inspectOnnx(bufferSource(writeOnnx([], [ifNode])));
    expect(brief(r.findings).map((f) => f[2])).toEqual(['custom operator domain "x.y" (op Hidden; 1 node): the runtime must load a native library to run it']);
  });
});

describe('ONNX external data locations', () => {
  it('device files, Windows device names and onnxruntime\'s memory marker are path-escape; ordinary files are not', async () => {
    const locations = ['weights.bin', 'sub/w.bin', '/dev/zero', '/proc/self/environ', 'NUL', 'weights/con.txt', 'COM1', 'lpt1.bin', 'aux .bin', '*/_ORT_MEM_ADDR_/*', 'console.bin', 'nullable.bin'];
    const r = await inspectOnnx(bufferSource(writeOnnx(locations.map((l, i) => onnxExternalTensor(`t${i}`, l)))));
    const flagged = r.findings.map((f) => { expect(f).toMatchObject({ kind: 'path-escape', severity: 'high' }); return f.detail.split(' ')[1]; });
    expect(flagged).toEqual(['t2', 't3', 't4', 't5', 't6', 't7', 't8', 't9']);
    expect(r.findings[7]?.detail).toMatch(/in-memory marker: its offset is read as a raw memory address/);
    expect(r.findings[2]?.detail).toMatch(/a Windows device name/);
  });
});
