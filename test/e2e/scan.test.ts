import { createHash } from 'node:crypto';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { PickleWriter, writeGguf, writeNpy, writeSafetensors, writeZip } from '../fixtures/scan/builders.js';
import { describeRun, makeInitialisedSandbox, type Sandbox } from './run-cli.js';

/**
 * `chorus scan` over a home directory laid out the way Ollama, Hugging Face and LM Studio
 * keep models, with real GGUF, safetensors and PyTorch-zip bytes.
 */
const sandboxes: Sandbox[] = [];
afterAll(async () => {
  await Promise.all(sandboxes.map((s) => s.cleanup()));
});
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

async function fakeHome(dir: string): Promise<{ home: string; blob: string; gguf: Buffer }> {
  const home = join(dir, 'fakehome');
  // Ollama: a manifest naming a GGUF blob by its sha256.
  const gguf = writeGguf({ kv: [['general.architecture', { t: 'str', v: 'llama' }], ['general.name', { t: 'str', v: 'Llama 3 8B' }], ['general.license', { t: 'str', v: 'llama3' }], ['tokenizer.chat_template', { t: 'str', v: '{{ messages }}' }]], tensors: [{ name: 't', dims: [4], type: 0, offset: 0 }], dataBytes: 64 });
  const models = join(home, '.ollama', 'models');
  await mkdir(join(models, 'blobs'), { recursive: true });
  await mkdir(join(models, 'manifests', 'registry.ollama.ai', 'library', 'llama3'), { recursive: true });
  const blob = join(models, 'blobs', `sha256-${sha(gguf)}`);
  await writeFile(blob, gguf);
  await writeFile(join(models, 'manifests', 'registry.ollama.ai', 'library', 'llama3', '8b'), JSON.stringify({ schemaVersion: 2, layers: [{ mediaType: 'application/vnd.ollama.image.model', digest: `sha256:${sha(gguf)}`, size: gguf.length }, { mediaType: 'application/vnd.ollama.image.template', digest: `sha256:${'0'.repeat(64)}` }] }));
  // A manifest whose digest tries a path trick: refused, not followed.
  await mkdir(join(models, 'manifests', 'registry.ollama.ai', 'library', 'evil'), { recursive: true });
  await writeFile(join(models, 'manifests', 'registry.ollama.ai', 'library', 'evil', 'latest'), JSON.stringify({ layers: [{ mediaType: 'application/vnd.ollama.image.model', digest: 'sha256:../../../etc/passwd' }] }));
  // Hugging Face hub cache: snapshot symlinks into blobs named by sha256; refs/main.
  const repo = join(home, '.cache', 'huggingface', 'hub', 'models--acme--tiny-bert');
  const st = writeSafetensors({ w: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] }, __metadata__: { format: 'pt' } }, 16);
  const evil = new PickleWriter().proto(2).global('posix', 'system').binUnicode('echo pwned').tuple1().reduce().stop().bytes();
  const pt = writeZip([{ name: 'archive/data.pkl', data: evil }, { name: 'archive/version', data: Buffer.from('3\n') }]);
  const rev = 'a'.repeat(40);
  await mkdir(join(repo, 'blobs'), { recursive: true });
  await mkdir(join(repo, 'snapshots', rev), { recursive: true });
  await mkdir(join(repo, 'refs'), { recursive: true });
  await writeFile(join(repo, 'refs', 'main'), rev);
  for (const [name, bytes] of [['model.safetensors', st], ['pytorch_model.bin', pt]] as const) {
    await writeFile(join(repo, 'blobs', sha(bytes)), bytes);
    await symlink(join('..', '..', 'blobs', sha(bytes)), join(repo, 'snapshots', rev, name));
  }
  // LM Studio: publisher/repo/file.gguf
  const lm = join(home, '.lmstudio', 'models', 'lmstudio-community', 'qwen');
  await mkdir(lm, { recursive: true });
  await writeFile(join(lm, 'qwen-0.5b.gguf'), writeGguf({ kv: [['general.architecture', { t: 'str', v: 'qwen2' }]] }));
  return { home, blob, gguf };
}

describe('chorus scan', () => {
  test('finds models in the runtimes\' caches by their familiar names, inspects them, attests, verifies', async () => {
    const sb = await makeInitialisedSandbox('chorus-e2e-scan-');
    sandboxes.push(sb);
    const { home, blob, gguf } = await fakeHome(sb.dir);
    const env = { HOME: home, XDG_CACHE_HOME: join(home, '.cache') };

    const r = await sb.run(['scan'], { env });
    expect(r.code, describeRun(['scan'], r)).toBe(3); // the pickle calls posix.system
    expect(r.stdout).toMatch(/^found {3}ollama {6}.*\.ollama\/models \(default\): 1 model/m);
    expect(r.stdout).toMatch(/^absent .*\/usr\/share\/ollama/m);
    expect(r.stdout).toMatch(/^UNKNOWN\s+llama3:8b {2}\(ollama, sha256:/m);
    expect(r.stdout).toMatch(/^DANGEROUS\s+acme\/tiny-bert@main {2}\(huggingface/m);
    expect(r.stdout).toMatch(/CRITICAL dangerous-import in archive\/data\.pkl: .*posix\.system/);
    expect(r.stdout).toContain('lmstudio-community/qwen');
    expect(r.stdout).toContain('digest from its name');
    expect(r.stdout).toMatch(/problem: .*evil.*sha256:<64 hex>/);

    const json = JSON.parse((await sb.run(['scan', '--json'], { env })).stdout) as { models: { name: string; digest: string; files: { digestFrom: string; format: string }[] }[] };
    const llama = json.models.find((m) => m.name === 'llama3:8b')!;
    expect(llama.digest).toBe(sha(gguf));
    expect(llama.files[0]).toMatchObject({ digestFrom: 'name', format: 'gguf' });
    // Unchanged files come from the hash cache the second time.
    const again = JSON.parse((await sb.run(['scan', '--json'], { env })).stdout) as typeof json;
    expect(again.models.find((m) => m.name.startsWith('lmstudio'))!.files[0]!.digestFrom).toBe('cached');

    const s = JSON.parse((await sb.run(['scan', '--format', 'sarif'], { env })).stdout) as { version: string; runs: { results: { ruleId: string; level: string }[] }[] };
    expect(s.version).toBe('2.1.0');
    expect(s.runs[0]!.results).toContainEqual(expect.objectContaining({ ruleId: 'dangerous-import', level: 'error' }));

    // --attest: the findings become signed attestations; the view then flags the model.
    const at = await sb.run(['scan', '--attest'], { env });
    expect(at.stderr).toMatch(/attested: \d+ stored/);
    const pt = JSON.parse((await sb.run(['scan', '--json'], { env })).stdout) as { models: { name: string; status: string; files: { name: string; sha256: string }[] }[] };
    const bert = pt.models.find((m) => m.name === 'acme/tiny-bert@main')!;
    expect(bert.status).toBe('flagged');
    const q = await sb.run(['query', `sha256:${bert.files.find((f) => f.name === 'pytorch_model.bin')!.sha256}`]);
    expect(q.code).toBe(3);
    expect(q.stdout).toContain('pickle-exec (critical)');

    // A blob whose content no longer matches its name: --verify says tampered.
    await writeFile(blob, Buffer.concat([gguf, Buffer.from('x')]));
    const v = await sb.run(['scan', '--verify', '--json'], { env });
    const tampered = (JSON.parse(v.stdout) as { models: { name: string; files: { tampered?: unknown }[] }[] }).models.find((m) => m.name === 'llama3:8b')!;
    expect(tampered.files[0]!.tampered).toMatchObject({ claimed: sha(gguf) });
    expect(v.code).toBe(3);
  }, 180_000);

  test('paths given: odd files are findings or problems, never a crash or a hang', async () => {
    const sb = await makeInitialisedSandbox('chorus-e2e-scan-');
    sandboxes.push(sb);
    const dir = join(sb.dir, 'odd');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'truncated.gguf'), writeGguf({ kv: [['general.name', { t: 'str', v: 'x' }]] }).subarray(0, 30));
    await writeFile(join(dir, 'notes.txt'), 'not a model');
    await symlink('loop', join(dir, 'loop'));
    const r = await sb.run(['scan', dir, '--json']);
    // A lying or truncated model header is how parser exploits arrive: it counts as dangerous.
    expect(r.code, describeRun(['scan', dir], r)).toBe(3);
    const rep = JSON.parse(r.stdout) as { models: { files: { name: string; findings: { kind: string }[] }[] }[]; problems: { message: string }[] };
    const files = rep.models.flatMap((m) => m.files);
    expect(files.find((f) => f.name === 'truncated.gguf')!.findings.map((f) => f.kind)).toContain('malformed');
    expect(rep.problems.some((p) => /link/.test(p.message))).toBe(true);
    // NumPy and Keras files: what np.load(allow_pickle=True) or keras.saving.load_model would run.
    const arrays = join(sb.dir, 'arrays');
    await mkdir(arrays);
    const evil = new PickleWriter().proto(3).global('subprocess', 'Popen').binUnicode('id').tuple1().reduce().stop().bytes();
    await writeFile(join(arrays, 'labels.npy'), writeNpy("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", evil));
    await writeFile(join(arrays, 'weights.npz'), writeZip([{ name: 'w.npy', data: writeNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", Buffer.alloc(8)), deflate: true }]));
    await writeFile(join(arrays, 'model.keras'), writeZip([
      { name: 'metadata.json', data: Buffer.from('{"keras_version": "3.6.0"}') },
      { name: 'config.json', data: Buffer.from(JSON.stringify({ module: 'keras', class_name: 'Sequential', config: { layers: [{ module: 'keras.layers', class_name: 'Lambda', config: { name: 'hook', function: { class_name: '__lambda__', config: { code: 'YWJj' } } } }] } })) },
      { name: 'model.weights.h5', data: Buffer.from('\x89HDF\r\n\x1a\n', 'latin1') },
    ]));
    const a = await sb.run(['scan', arrays, '--json']);
    expect(a.code, describeRun(['scan', arrays], a)).toBe(3);
    const arep = JSON.parse(a.stdout) as { models: { files: { name: string; format: string; findings: { kind: string; severity: string }[] }[] }[] };
    const byName = new Map(arep.models.flatMap((m) => m.files).map((f) => [f.name, f]));
    expect(byName.get('labels.npy')).toMatchObject({ format: 'npy', findings: [{ kind: 'dangerous-import', severity: 'critical' }] });
    expect(byName.get('weights.npz')).toMatchObject({ format: 'zip', findings: [] });
    // The Lambda layer, and the __lambda__ function it holds.
    expect(byName.get('model.keras')).toMatchObject({ format: 'zip', findings: [{ kind: 'embedded-code', severity: 'high' }, { kind: 'embedded-code', severity: 'high' }] });
    // A path that is not there is not "no model files found" (a gate would pass it): exit 4.
    const missing = await sb.run(['scan', join(sb.dir, 'nope')]);
    expect(missing.code).toBe(4);
    expect(missing.stderr).toContain('no such file or directory');
  }, 60_000);
});
