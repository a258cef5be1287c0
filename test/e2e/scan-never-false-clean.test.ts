import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { PickleWriter, writeSafetensors } from '../fixtures/scan/builders.js';
import { BYPASS_CORPUS, torchStateDictPickle, torchZip } from '../fixtures/scan/corpus.js';
import { kerasH5, sequentialDense, sequentialLambda } from '../fixtures/scan/hdf5-builders.js';
import { describeRun, makeInitialisedSandbox, type Sandbox } from './run-cli.js';

/**
 * What a user saw before issue 19, run with the built CLI: files the scanner did not read were
 * signed "clean", a lying safetensors header was `unknown`, an orphan Ollama blob was never
 * reported, and two pickles torch.load runs code from were allowed.
 */
const sandboxes: Sandbox[] = [];
afterAll(async () => {
  await Promise.all(sandboxes.map((s) => s.cleanup()));
});
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const corpusFile = async (id: string): Promise<Buffer> => Object.values(await BYPASS_CORPUS.find((c) => c.id === id)!.files())[0]!;

interface Envelope { payload: string }
const payloads = (stderr: string): { subject: { name: string }[]; predicate: { scanner: { version: string }; finding: { kind: string; description: string } } }[] =>
  stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(Buffer.from((JSON.parse(l) as Envelope).payload, 'base64').toString('utf8')) as never)
    .filter((s: { predicateType: string }) => s.predicateType.includes('/payload/'));

describe('never a false clean', () => {
  test('scan --attest signs clean only what it read in full; check denies what it could not read', async () => {
    const sb = await makeInitialisedSandbox('chorus-e2e-fc-');
    sandboxes.push(sb);
    const dir = join(sb.dir, 'models');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'good.pt'), torchZip(torchStateDictPickle()));
    // HDF5 signature, then bytes no HDF5 reader accepts: not read, so never clean.
    await writeFile(join(dir, 'legacy.h5'), Buffer.concat([Buffer.from('\x89HDF\r\n\x1a\n', 'latin1'), Buffer.alloc(512, 0x41)]));
    await writeFile(join(dir, 'weights.bin'), Buffer.from('no known format at all, but a name torch.load opens'));

    const r = await sb.run(['scan', dir, '--attest', '--dry-run']);
    expect(r.code, describeRun(['scan', dir], r)).toBe(3); // unread files that can carry code fail the scan
    expect(r.stderr).toMatch(/^UNREAD\s+.*legacy\.h5/m);
    expect(r.stderr).toMatch(/legacy\.h5: hdf5, NOT-INSPECTED \(this format can carry code\)/);
    expect(r.stderr).toMatch(/not signed: .*legacy\.h5: .*not-inspected/);
    expect(r.stderr).toMatch(/not signed: .*weights\.bin: .*not-inspected/);
    const signed = payloads(r.stdout);
    expect(signed.map((p) => [p.subject[0]!.name.replace(/.*\//, ''), p.predicate.finding.kind])).toEqual([[join(dir, 'good.pt').replace(/.*\//, ''), 'clean']]);
    expect(signed[0]!.predicate.scanner.version).toMatch(/\+inspect\.\d+$/);
    expect(signed[0]!.predicate.finding.description).toMatch(/inspector revision \d+/);

    for (const name of ['legacy.h5', 'weights.bin']) {
      const c = await sb.run(['check', join(dir, name)]);
      expect(c.code, describeRun(['check', name], c)).toBe(3);
      expect(c.stdout).toMatch(/not-inspected: .*(can carry code|code-running loader)/);
    }
    expect((await sb.run(['check', join(dir, 'good.pt')])).code).toBe(0);

    // Allowlist mode: even a digest an approver approved is denied while its file was not read.
    const h5Digest = (JSON.parse((await sb.run(['check', join(dir, 'legacy.h5'), '--json'])).stdout) as { digest: string }).digest;
    await sb.expectCode(0, ['attest', 'approval', '--subject', h5Digest, '--name', 'acme/legacy']);
    const config = JSON.parse(await readFile(join(sb.home, 'config.json'), 'utf8')) as Record<string, unknown>;
    await writeFile(join(sb.home, 'config.json'), JSON.stringify({ ...config, check: { mode: 'allowlist', approvers: [sb.did], failOn: ['flagged'] } }));
    const approved = await sb.run(['check', join(dir, 'legacy.h5')]);
    expect(approved.code, describeRun(['check', 'legacy.h5'], approved)).toBe(3);
    expect(approved.stdout).toMatch(/approved by did:key:/);
    expect(approved.stdout).toMatch(/not-inspected: hdf5, a format that can carry code/);
  }, 90_000);

  test('the report that opened issue 19: a legacy Keras .h5 with a Lambda layer is read, signed as a finding, and denied', async () => {
    const sb = await makeInitialisedSandbox('chorus-e2e-fc-');
    sandboxes.push(sb);
    const dir = join(sb.dir, 'h5');
    await mkdir(dir, { recursive: true });
    const lambda = join(dir, 'lambda.h5');
    const dense = join(dir, 'dense.h5');
    await writeFile(lambda, await kerasH5({ modelConfig: sequentialLambda() }));
    await writeFile(dense, await kerasH5({ modelConfig: sequentialDense() }));
    const r = await sb.run(['scan', dir, '--attest', '--dry-run']);
    expect(r.code, describeRun(['scan', dir], r)).toBe(3);
    expect(r.stderr).toMatch(/lambda\.h5: hdf5, inspected/);
    expect(r.stderr).toMatch(/HIGH embedded-code in model_config: .*Lambda/);
    const signed = payloads(r.stdout).map((p) => [p.subject[0]!.name.replace(/.*\//, ''), p.predicate.finding.kind]);
    expect(signed).toContainEqual(['lambda.h5', 'suspicious']);
    expect(signed).toContainEqual(['dense.h5', 'clean']);
    expect(signed).not.toContainEqual(['lambda.h5', 'clean']);
    const c = await sb.run(['check', lambda]);
    expect(c.code, describeRun(['check', lambda], c)).toBe(3);
    expect(c.stdout).toMatch(/embedded-code in model_config/);
    expect((await sb.run(['check', dense])).code).toBe(0);
  }, 90_000);

  test('a lying safetensors header is malformed; legacy protocol-0 and _load_from_bytes pickles are denied', async () => {
    const sb = await makeInitialisedSandbox('chorus-e2e-fc-');
    sandboxes.push(sb);
    const st = join(sb.dir, 'model.safetensors');
    await writeFile(st, writeSafetensors({ w: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, 4, 1_000_000n));
    const s = await sb.run(['scan', st, '--json']);
    const file = (JSON.parse(s.stdout) as { models: { files: { format: string; findings: { kind: string }[]; coverage: { state: string } }[] }[] }).models[0]!.files[0]!;
    expect(file.format).toBe('safetensors');
    expect(file.findings.map((f) => f.kind)).toEqual(['malformed']);
    expect((await sb.run(['check', st])).code).toBe(3);

    for (const id of ['legacy-torch-protocol0-second-pickle', 'load-from-bytes']) {
      const p = join(sb.dir, `${id}.pt`);
      await writeFile(p, await corpusFile(id));
      const c = await sb.run(['check', p]);
      expect(c.code, describeRun(['check', p], c)).toBe(3);
      expect(c.stdout).toMatch(/dangerous-import.*(posix|os)\.system/);
    }
  }, 60_000);

  test('an Ollama blob no manifest names is reported, and --verify says when its content is not its name', async () => {
    const sb = await makeInitialisedSandbox('chorus-e2e-fc-');
    sandboxes.push(sb);
    const models = join(sb.dir, 'ollama');
    await mkdir(join(models, 'blobs'), { recursive: true });
    await mkdir(join(models, 'manifests'), { recursive: true });
    const claimed = sha(Buffer.from('what the name claims'));
    await writeFile(join(models, 'blobs', `sha256-${claimed}`), new PickleWriter().proto(2).global('os', 'system').binUnicode('id').tuple1().reduce().stop().bytes());
    await writeFile(join(models, 'blobs', `sha256-${'e'.repeat(64)}-partial`), 'downloading');
    const env = { OLLAMA_MODELS: models, HOME: join(sb.dir, 'nohome') };
    const plain = await sb.run(['scan', '--json'], { env });
    const orphan = (JSON.parse(plain.stdout) as { models: { name: string; files: { digestFrom: string }[] }[] }).models.find((m) => m.name.startsWith('orphan blob'));
    expect(orphan, plain.stdout).toBeDefined();
    expect(orphan!.files[0]!.digestFrom).toBe('name');
    const v = await sb.run(['scan', '--verify'], { env });
    expect(v.code).toBe(3);
    expect(v.stdout).toMatch(/orphan blob sha256:/);
    expect(v.stdout).toContain(`TAMPERED: named sha256 ${claimed}`);
    expect(v.stdout).not.toContain('-partial');
  }, 60_000);
});
