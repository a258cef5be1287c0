import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InspectionSchema, inspectFile, worstSeverity, type Inspection } from '../../node/scan/inspect/index.js';
import { onnxExternalTensor, PickleWriter, writeGguf, writeOnnx, writeSafetensors, writeZip } from '../fixtures/scan/builders.js';

let dir = '';
beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'chorus-inspect-')); });
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

async function inspectBytes(name: string, bytes: Buffer | string, opts = {}): Promise<Inspection> {
  const path = join(dir, name);
  await writeFile(path, bytes);
  const r = await inspectFile(path, opts);
  expect(InspectionSchema.parse(r)).toEqual(r); // what --json will print validates against the schema
  return r;
}

const evilPickle = new PickleWriter().proto(2).global('os', 'system').string('id').tuple1().reduce().stop().bytes();

describe('inspectFile: formats recognised by content, whatever the name', () => {
  it.each([
    ['model.bin', () => writeGguf({ kv: [['general.architecture', { t: 'str', v: 'phi3' }]] }), 'gguf'],
    ['weights', () => writeSafetensors({ x: { dtype: 'U8', shape: [2], data_offsets: [0, 2] } }, 2), 'safetensors'],
    ['ckpt.dat', () => writeZip([{ name: 'm/data.pkl', data: new PickleWriter().proto(2).none().stop().bytes() }]), 'pytorch-zip'],
    ['bundle.pt', () => writeZip([{ name: 'readme.txt', data: Buffer.from('hi') }]), 'zip'],
    ['model.txt', () => evilPickle, 'pickle'],
    ['proto0.pkl', () => new PickleWriter().mark().string('x').inst('collections', 'OrderedDict').stop().bytes(), 'pickle'],
    ['graph', () => writeOnnx([onnxExternalTensor('w', 'w.bin')]), 'onnx'],
    ['model.h5', () => Buffer.concat([Buffer.from('\x89HDF\r\n\x1a\n', 'latin1'), Buffer.alloc(100)]), 'hdf5'],
    ['config.json', () => Buffer.from('{"architectures": ["LlamaForCausalLM"]}'), 'unknown'],
    ['notes.md', () => Buffer.from('copyright 2024\nall rights reserved\nlicense: MIT\n'), 'unknown'],
    ['empty', () => Buffer.alloc(0), 'unknown'],
    ['random', () => Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 251)), 'unknown'],
  ] as const)('%s is %s', async (name, bytes, format) => {
    const r = await inspectBytes(name, bytes());
    expect(r.format).toBe(format);
  });

  it('a raw pickle with a payload is critical; a nullifAI-broken one is still critical, and malformed', async () => {
    const r = await inspectBytes('evil.pkl', evilPickle);
    expect(worstSeverity(r.findings)).toBe('critical');
    const broken = await inspectBytes('broken.pkl', Buffer.concat([evilPickle.subarray(0, -1), Buffer.from([0xfe, 0xfe])]));
    expect(broken.format).toBe('pickle');
    expect(broken.findings.map((f) => f.kind)).toEqual(['dangerous-import', 'malformed']);
  });

  it('a raw pickle longer than the cap is inspected up to it, with a limit finding', async () => {
    const long = Buffer.concat([new PickleWriter().proto(4).shortUnicode('os').shortUnicode('system').stackGlobal().bytes(), Buffer.from('N0'.repeat(50_000)), Buffer.from('.')]);
    const r = await inspectBytes('long.pkl', long, { limits: { pickleBytes: 4096 } });
    expect(r.findings.map((f) => f.kind)).toEqual(['dangerous-import', 'limit']);
  });

  it('a legacy torch.save file: its five pickles are walked, its megabytes of storage are not', async () => {
    const magic = Buffer.from('80028a0a6cfc9c46f9206aa850192e', 'hex');
    const small = new PickleWriter().proto(2).binint1(1).stop().bytes();
    const main = new PickleWriter().proto(2).global('torch._utils', '_rebuild_tensor_v2').stop().bytes();
    const r = await inspectBytes('legacy.pt', Buffer.concat([magic, small, small, main, small, Buffer.alloc(3 * 1024 * 1024, 0x80)]));
    expect(r).toMatchObject({ format: 'pickle', findings: [], meta: { pickles: 5 } });
  });

  it('a raw pickle longer than the first read is walked to its end', async () => {
    const big = Buffer.concat([new PickleWriter().proto(4).bytes(), Buffer.from('N0'.repeat(1_500_000)), new PickleWriter().global('os', 'system').stop().bytes()]);
    const r = await inspectBytes('big.pkl', big);
    expect(r.findings.map((f) => f.kind)).toEqual(['dangerous-import']);
  });

  it('a nested checkpoint inside a zip is followed; findings carry the member path', async () => {
    const inner = writeZip([{ name: 'archive/data.pkl', data: evilPickle }]);
    const r = await inspectBytes('outer.zip', writeZip([{ name: 'ckpt/model.pth', data: inner, deflate: true }]));
    expect(r.format).toBe('zip');
    expect(r.findings).toMatchObject([{ kind: 'dangerous-import', path: 'ckpt/model.pth!archive/data.pkl' }]);
  });
});

describe('inspectFile: what is not a readable regular file', () => {
  it('a missing file, a directory, a FIFO and a device are unreadable findings, without hanging', async () => {
    const missing = await inspectFile(join(dir, 'nope'));
    expect(missing).toMatchObject({ format: 'unknown', findings: [{ kind: 'unreadable' }] });
    expect(missing.findings[0]?.detail).toMatch(/ENOENT/);
    await mkdir(join(dir, 'sub'));
    expect((await inspectFile(join(dir, 'sub'))).findings[0]?.detail).toMatch(/directory/);
    const fifo = join(dir, 'pipe');
    execFileSync('mkfifo', [fifo]);
    expect((await inspectFile(fifo)).findings[0]?.detail).toMatch(/fifo/);
    expect((await inspectFile('/dev/zero')).findings[0]?.detail).toMatch(/character device/);
  });

  it('a symlink loop is unreadable', async () => {
    execFileSync('ln', ['-s', join(dir, 'loop-b'), join(dir, 'loop-a')]);
    execFileSync('ln', ['-s', join(dir, 'loop-a'), join(dir, 'loop-b')]);
    expect((await inspectFile(join(dir, 'loop-a'))).findings[0]?.detail).toMatch(/ELOOP/);
  });
});
