import { describe, expect, it } from 'vitest';
import { bufferSource, escapesDirectory, inspectOnnx, inspectSafetensors } from '../../node/scan/inspect/index.js';
import { onnxExternalTensor, pb, writeOnnx, writeSafetensors } from '../fixtures/scan/builders.js';

const st = (header: unknown, dataBytes: number, headerLength?: bigint) => inspectSafetensors(bufferSource(writeSafetensors(header, dataBytes, headerLength)));
const details = (r: { findings: { detail: string }[] }): string => r.findings.map((f) => f.detail).join('\n');

describe('safetensors header inspection', () => {
  const valid = {
    __metadata__: { format: 'pt', license: 'mit' },
    'a.weight': { dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] },
    'a.bias': { dtype: 'BF16', shape: [3], data_offsets: [24, 30] },
    'b.q': { dtype: 'F4', shape: [4], data_offsets: [30, 32] },
  };

  it('a valid file: tensors, dtypes and __metadata__ passed through, no findings', async () => {
    const r = await st(valid, 32);
    expect(r.findings).toEqual([]);
    expect(r.meta).toMatchObject({ tensorCount: 3, dataBytes: 32, metadata: { format: 'pt', license: 'mit' }, dtypes: { F32: 1, BF16: 1, F4: 1 } });
  });

  it('overlapping tensors, gaps and a short data section are malformed', async () => {
    const overlap = await st({ ...valid, 'a.bias': { dtype: 'BF16', shape: [3], data_offsets: [20, 26] } }, 32);
    expect(details(overlap)).toMatch(/overlaps the tensor before it/);
    const gap = await st({ x: { dtype: 'U8', shape: [4], data_offsets: [4, 8] } }, 8);
    expect(details(gap)).toMatch(/gap of 4 bytes/);
    const outside = await st(valid, 16);
    expect(details(outside)).toMatch(/lies outside the 16-byte data section/);
    const tail = await st(valid, 40);
    expect(details(tail)).toMatch(/tensors end at byte 32 of a 40-byte data section/);
  });

  it('a size that does not match dtype × shape, an unknown dtype, backwards offsets are malformed', async () => {
    expect(details(await st({ x: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, 8))).toMatch(/F32 × \[3\] is 12 bytes, its offsets hold 8/);
    expect(details(await st({ x: { dtype: 'F128', shape: [1], data_offsets: [0, 16] } }, 16))).toMatch(/unknown dtype F128/);
    expect(details(await st({ x: { dtype: 'U8', shape: [0], data_offsets: [4, 0] } }, 4))).toMatch(/run backwards/);
    expect(details(await st({ x: { dtype: 'U8', shape: [-1], data_offsets: [0, 0] } }, 0))).toMatch(/needs a dtype, a shape of counts/);
  });

  it('a huge or lying header length, bad JSON, or a non-object header is malformed without reading it', async () => {
    expect(details(await st(valid, 32, 1n << 50n))).toMatch(/header length 1125899906842624 is more than 100000000/);
    expect(details(await st(valid, 32, 1000n))).toMatch(/runs past the/);
    const badJson = Buffer.concat([Buffer.from([5, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{"a":')]);
    expect(details(await inspectSafetensors(bufferSource(badJson)))).toMatch(/not UTF-8 JSON/);
    expect(details(await inspectSafetensors(bufferSource(Buffer.from([1, 2, 3]))))).toMatch(/no header length/);
    expect(details(await st([1, 2], 0))).toMatch(/does not start with \{/);
    expect(details(await st({ __metadata__: { n: 1 } }, 0))).toMatch(/__metadata__ is not a map of strings/);
  });

  it('a deeply nested JSON header is a finding, not a crash', async () => {
    const deep = Buffer.from(`{"x":${'['.repeat(500_000)}${']'.repeat(500_000)}}`);
    const n = Buffer.alloc(8);
    n.writeBigUInt64LE(BigInt(deep.length));
    const r = await inspectSafetensors(bufferSource(Buffer.concat([n, deep])));
    expect(r.findings.length).toBeGreaterThan(0);
    expect(r.findings.every((f) => f.kind === 'malformed')).toBe(true);
  });
});

describe('ONNX external data', () => {
  it('reports external-data locations that are absolute or leave the model directory', async () => {
    const model = writeOnnx([
      onnxExternalTensor('ok', 'weights/ok.bin'),
      onnxExternalTensor('passwd', '../../etc/passwd'),
      onnxExternalTensor('abs', '/etc/shadow'),
      onnxExternalTensor('sneaky', 'weights/../../x.bin'),
    ]);
    const r = await inspectOnnx(bufferSource(model));
    expect(r.meta).toMatchObject({ irVersion: 9, producer: 'chorus-test', initializers: 4 });
    expect(r.meta.externalData.map((e) => e.location)).toEqual(['weights/ok.bin', '../../etc/passwd', '/etc/shadow', 'weights/../../x.bin']);
    expect(r.findings.map((f) => [f.kind, f.detail.split(' ')[1]])).toEqual([['path-escape', 'passwd'], ['path-escape', 'abs'], ['path-escape', 'sneaky']]);
    expect(r.findings[0]).toMatchObject({ severity: 'high' });
  });

  it('finds tensors in node attributes and subgraphs too', async () => {
    const attrTensor = pb.bytes(5, Buffer.concat([pb.bytes(1, 'value'), pb.bytes(5, onnxExternalTensor('const', '..\\..\\win.ini'))]));
    const subgraph = Buffer.concat([pb.bytes(2, 'body'), pb.bytes(5, onnxExternalTensor('inner', 'C:/Windows/x'))]);
    const attrGraph = pb.bytes(5, Buffer.concat([pb.bytes(1, 'then_branch'), pb.bytes(6, subgraph)]));
    const r = await inspectOnnx(bufferSource(writeOnnx([], [attrTensor, attrGraph])));
    expect(r.findings.map((f) => f.kind)).toEqual(['path-escape', 'path-escape']);
  });

  it('broken protobuf (a length past its message, a bad wire type) is malformed; deep nesting is a limit', async () => {
    const model = writeOnnx([onnxExternalTensor('t', 'a.bin')]);
    const r = await inspectOnnx(bufferSource(model.subarray(0, model.length - 12)));
    expect(r.findings.map((f) => f.kind)).toContain('malformed');
    const wire = await inspectOnnx(bufferSource(Buffer.from([0x08, 0x09, 0x0f])));
    expect(details(wire)).toMatch(/wire type 7/);
    let g = onnxExternalTensor('deep', '../x');
    for (let i = 0; i < 100; i++) g = pb.bytes(1, pb.bytes(5, pb.bytes(6, g))); // graph > node > attribute > graph …
    const deep = await inspectOnnx(bufferSource(Buffer.concat([pb.int(1, 9), pb.bytes(7, g)])));
    expect(deep.findings.map((f) => f.kind)).toEqual(['limit']);
  });

  it('judges paths as the ONNX checker should', () => {
    expect(escapesDirectory('model.onnx.data')).toBe(false);
    expect(escapesDirectory('a/../b.bin')).toBe(false);
    expect(escapesDirectory('./w/b.bin')).toBe(false);
    for (const p of ['..', '../a', 'a/../../b', '/abs', '\\\\server\\share', 'C:\\x', 'a\0b']) expect(escapesDirectory(p), p).toBe(true);
  });
});
