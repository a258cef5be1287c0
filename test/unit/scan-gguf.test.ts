import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bufferSource, inspectFile, inspectGguf } from '../../node/scan/inspect/index.js';
import { writeGguf, type GgufTensorSpec, type GgufValue } from '../fixtures/scan/builders.js';

const F32 = 0;
const Q4_0 = 2;

const KV: [string, GgufValue][] = [
  ['general.architecture', { t: 'str', v: 'llama' }],
  ['general.name', { t: 'str', v: 'Tiny Llama Test' }],
  ['general.license', { t: 'str', v: 'apache-2.0' }],
  ['general.base_model.count', { t: 'u32', v: 1 }],
  ['general.base_model.0.name', { t: 'str', v: 'Llama 3.1 8B' }],
  ['general.base_model.0.organization', { t: 'str', v: 'Meta Llama' }],
  ['general.base_model.0.repo_url', { t: 'str', v: 'https://huggingface.co/meta-llama/Llama-3.1-8B' }],
  ['general.alignment', { t: 'u32', v: 32 }],
  ['llama.context_length', { t: 'u32', v: 4096 }],
  ['llama.rope.freq_base', { t: 'f32', v: 500000 }],
  ['tokenizer.ggml.tokens', { t: 'strs', v: ['<s>', '</s>', 'hello', 'world'] }],
  ['tokenizer.ggml.token_type', { t: 'u32s', v: [3, 3, 1, 1] }],
  ['tokenizer.chat_template', { t: 'str', v: '{% for m in messages %}{{ m.content }}{% endfor %}' }],
];
const TENSORS: GgufTensorSpec[] = [
  { name: 'token_embd.weight', dims: [64, 4], type: Q4_0, offset: 0 }, // 8 blocks × 18 = 144 bytes
  { name: 'output_norm.weight', dims: [64], type: F32, offset: 160 }, // 256 bytes
];
const validGguf = (): Buffer => writeGguf({ kv: KV, tensors: TENSORS, dataBytes: 416 });
const inspect = (b: Buffer) => inspectGguf(bufferSource(b));

describe('GGUF header inspection', () => {
  it('reads architecture, name, license, base models and the chat template of a valid file', async () => {
    const r = await inspect(validGguf());
    expect(r.findings).toEqual([]);
    expect(r.meta).toMatchObject({
      version: 3, littleEndian: true, kvCount: KV.length, tensorCount: 2, architecture: 'llama', name: 'Tiny Llama Test',
      license: 'apache-2.0', hasChatTemplate: true, alignment: 32,
      baseModels: [{ name: 'Llama 3.1 8B', organization: 'Meta Llama', repo_url: 'https://huggingface.co/meta-llama/Llama-3.1-8B' }],
    });
    expect(r.meta.general?.['general.base_model.count']).toBe(1);
  });

  it('reads a v2 file, and one without a chat template', async () => {
    const r = await inspect(writeGguf({ kv: KV.slice(0, 3), version: 2 }));
    expect(r.findings).toEqual([]);
    expect(r.meta).toMatchObject({ version: 2, hasChatTemplate: false, architecture: 'llama' });
  });

  it('a tensor whose data lies outside the file is malformed', async () => {
    const r = await inspect(writeGguf({ kv: KV, tensors: [...TENSORS, { name: 'evil', dims: [1024], type: F32, offset: 1n << 40n }], dataBytes: 416 }));
    expect(r.findings).toMatchObject([{ kind: 'malformed', severity: 'high' }]);
    expect(r.findings[0]?.detail).toMatch(/tensor evil data .* lies outside/);
    const short = await inspect(writeGguf({ kv: KV, tensors: TENSORS, dataBytes: 300 }));
    expect(short.findings[0]?.detail).toMatch(/output_norm.weight .* outside/);
  });

  it('a huge string length is malformed, not an allocation', async () => {
    const b = writeGguf({ kv: [['general.name', { t: 'str', v: 'x' }]] });
    b.writeBigUInt64LE(1n << 40n, 24); // the key's length
    const r = await inspect(b);
    expect(r.findings).toMatchObject([{ kind: 'malformed' }]);
    expect(r.findings[0]?.detail).toMatch(/claims 1099511627776 bytes/);
  });

  it('a KV count of 10^6 in a small file, or over the limit, is caught before any loop', async () => {
    const lying = await inspect(writeGguf({ kv: KV, kvCount: 1_000_000 }));
    expect(lying.findings[0]?.detail).toMatch(/more than a \d+-byte file can hold/);
    const over = await inspect(writeGguf({ kv: KV, kvCount: 1_000_001 }));
    expect(over.findings[0]?.detail).toMatch(/1000001 metadata keys, more than 1000000/);
    const absurd = await inspect(writeGguf({ kv: KV, tensorCount: 1n << 62n }));
    expect(absurd.findings).toMatchObject([{ kind: 'malformed' }]);
  });

  it('a real header of 10^6 keys is read whole, without a finding (its time is in bench:scan, not here)', async () => {
    const n = 1_000_000;
    const rec = 8 + 7 + 4 + 1;
    const b = Buffer.alloc(24 + n * rec);
    b.write('GGUF', 0, 'latin1');
    b.writeUInt32LE(3, 4);
    b.writeBigUInt64LE(0n, 8);
    b.writeBigUInt64LE(BigInt(n), 16);
    for (let i = 0; i < n; i++) {
      const at = 24 + i * rec;
      b.writeBigUInt64LE(7n, at);
      b.write(`k${String(i).padStart(6, '0')}`, at + 8, 'latin1');
      b.writeUInt32LE(0, at + 15); // UINT8
    }
    const r = await inspect(b);
    expect(r.findings).toEqual([]);
    expect(r.meta.kvCount).toBe(n);
  });

  it('arrays that claim too many elements or nest too deep are malformed', async () => {
    const b = writeGguf({ kv: [['tokenizer.ggml.tokens', { t: 'strs', v: ['a'] }]] });
    b.writeBigUInt64LE(1n << 40n, 24 + 8 + 21 + 4 + 4); // the array's element count
    expect((await inspect(b)).findings[0]?.detail).toMatch(/claims 1099511627776 elements/);
    const nested = Buffer.concat([
      Buffer.from('GGUF', 'latin1'), u32(3), u64(0), u64(1), u64(1), Buffer.from('a'),
      u32(9), // the value is an array…
      ...Array.from({ length: 6 }, () => Buffer.concat([u32(9), u64(1)])), // …of one array, of one array…
    ]);
    const r = await inspect(nested);
    expect(r.findings[0]?.detail).toMatch(/nests arrays deeper than 4/);
  });

  it('duplicate keys and unaligned tensor offsets are malformed', async () => {
    const dup = await inspect(writeGguf({ kv: [KV[0] as [string, GgufValue], ['general.architecture', { t: 'str', v: 'gpt2' }]] }));
    expect(dup.findings[0]?.detail).toMatch(/duplicate metadata key/);
    const unaligned = await inspect(writeGguf({ kv: KV, tensors: [{ name: 't', dims: [4], type: F32, offset: 3 }], dataBytes: 64 }));
    expect(unaligned.findings[0]?.detail).toMatch(/not aligned to 32/);
  });

  it('every truncation of a valid header is a malformed finding, never a throw', async () => {
    const full = validGguf();
    const headerEnd = full.length - 416;
    for (let cut = 0; cut < headerEnd; cut += 3) {
      const r = await inspect(full.subarray(0, cut));
      expect(r.findings.some((f) => f.kind === 'malformed'), `cut at ${cut}`).toBe(true);
    }
  });

  it('a header longer than the inspected prefix is a limit finding', async () => {
    const r = await inspectGguf(bufferSource(validGguf()), { ggufHeaderBytes: 100 });
    expect(r.findings).toMatchObject([{ kind: 'limit' }]);
    expect(r.meta.architecture).toBe('llama');
  });
});

function u32(n: number): Buffer { const b = Buffer.alloc(4); b.writeUInt32LE(n); return b; }
function u64(n: number): Buffer { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(n)); return b; }

/** The reference parser (devDependency `@huggingface/gguf`): a failure to load it fails this file, it does not skip the cross-check. */
interface HfGguf {
  gguf(uri: string, params: { allowLocalFile: boolean }): Promise<{ metadata: Record<string, unknown>; tensorInfos: { name: string; offset: bigint; shape: bigint[]; dtype: number }[] }>;
  serializeGgufMetadata(typed: Record<string, { value: unknown; type: number; subType?: number }>): Uint8Array;
}
const HF_GGUF = '@huggingface/gguf';
const hf = (await import(HF_GGUF).catch((e: unknown) => {
  throw new Error(`the GGUF cross-check needs the devDependency ${HF_GGUF} (run npm install): ${String(e)}`);
})) as HfGguf;

describe('GGUF cross-check against @huggingface/gguf', () => {
  let dir = '';
  beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'chorus-gguf-')); });
  afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

  it('both parsers read the same header from a generated file', async () => {
    const file = join(dir, 'tiny.gguf');
    await writeFile(file, validGguf());
    const ref = await hf.gguf(file, { allowLocalFile: true });
    const ours = await inspectFile(file);
    expect(ours.format).toBe('gguf');
    if (ours.format !== 'gguf') return;
    expect(ours.findings).toEqual([]);
    expect(ours.meta.architecture).toBe(ref.metadata['general.architecture']);
    expect(ours.meta.name).toBe(ref.metadata['general.name']);
    expect(ours.meta.license).toBe(ref.metadata['general.license']);
    expect(ours.meta.baseModels?.[0]?.['repo_url']).toBe(ref.metadata['general.base_model.0.repo_url']);
    expect(ours.meta.hasChatTemplate).toBe('tokenizer.chat_template' in ref.metadata);
    expect(BigInt(ours.meta.kvCount ?? -1)).toBe(ref.metadata['kv_count']);
    expect(BigInt(ours.meta.tensorCount ?? -1)).toBe(ref.metadata['tensor_count']);
    expect(ref.tensorInfos.map((t) => [t.name, Number(t.offset), t.dtype])).toEqual(TENSORS.map((t) => [t.name, Number(t.offset), t.type]));
  });

  it('our parser reads a header the reference library wrote', async () => {
    const bytes = hf.serializeGgufMetadata({
      version: { value: 3, type: 4 },
      tensor_count: { value: 0n, type: 10 },
      kv_count: { value: 3n, type: 10 },
      'general.architecture': { value: 'qwen2', type: 8 },
      'general.license': { value: 'mit', type: 8 },
      'tokenizer.ggml.tokens': { value: ['a', 'b'], type: 9, subType: 8 },
    });
    const r = await inspect(Buffer.from(bytes));
    expect(r.findings).toEqual([]);
    expect(r.meta).toMatchObject({ architecture: 'qwen2', license: 'mit', kvCount: 3, hasChatTemplate: false });
  });

  it('on a truncated file ours reports malformed (the reference reads zeros past the end)', async () => {
    const file = join(dir, 'cut.gguf');
    await writeFile(file, validGguf().subarray(0, 200));
    const ref = await hf.gguf(file, { allowLocalFile: true }).catch(() => undefined);
    if (ref !== undefined) expect(ref.tensorInfos.map((t) => t.name)).not.toEqual(TENSORS.map((t) => t.name));
    const ours = await inspectFile(file);
    expect(ours.findings.map((f) => f.kind)).toContain('malformed');
  });
});
