import { execFileSync } from 'node:child_process';
import { mkdir, readFile, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { hashPath } from '../../node/hash/hash-path.js';
import { nativeSuite } from '../../node/crypto/native-suite.js';
import { findModelSignature, verifyModelSignature, type OmsVerification } from '../../node/scan/signature/oms.js';
import { ecKeyPair, keySignedModel, omsStatement, signWithKey, statementPayload, writeBundle, writeModel, type OmsStatement } from '../fixtures/scan/oms-builders.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(dirname(d), { recursive: true, force: true });
});

async function signed(files?: Record<string, string | Buffer>): Promise<Awaited<ReturnType<typeof keySignedModel>>> {
  const m = await keySignedModel(files);
  dirs.push(m.dir);
  return m;
}

const codes = (r: OmsVerification): string[] => r.problems.map((p) => p.code);

/** Re-signs a modified statement with the model's key, as a signer would. */
async function resign(m: Awaited<ReturnType<typeof keySignedModel>>, edit: (s: OmsStatement) => void): Promise<void> {
  const st = structuredClone(m.statement);
  edit(st);
  await writeBundle(m.sigPath, signWithKey(st, m.privateKey));
}

describe('OMS v1.0 key-based signatures', () => {
  it('verifies an untouched model and names the key', async () => {
    const m = await signed();
    const r = await verifyModelSignature({ modelDir: m.dir, signaturePath: m.sigPath, trust: { publicKeyPem: m.publicPem } });
    expect(r.problems).toEqual([]);
    expect(r.verified).toBe(true);
    expect(r.signatureVerified).toBe(true);
    expect(r.method).toBe('key');
    expect(r.signer.keyHint).toMatch(/^[0-9a-f]{64}$/);
    expect(r.signer.publicKeyFingerprint).toBe(r.signer.keyHint);
    expect(r.files.map((f) => f.name)).toEqual(['config.json', 'model.safetensors', 'tokenizer/vocab.txt']);
    expect(r.files.every((f) => f.ok && f.actual === f.expected)).toBe(true);
    expect(r.modelDigest).toBe(`sha256:${m.statement.subject[0]?.digest.sha256}`);
    expect(r.modelName).toBe('tiny-model');
    // The OMS subject digest is the model digest chorus computes for the directory.
    expect(r.modelDigest).toBe(`sha256:${(await hashPath(m.dir, nativeSuite())).digest}`);
  });

  it('verifies P-384 keys (SHA-384) and a bundle without tlogEntries or key hint', async () => {
    const dir = await writeModel({ 'w.bin': 'weights' });
    dirs.push(dir);
    const k = ecKeyPair('P-384');
    const st = await omsStatement(dir);
    await writeBundle(join(dir, 'model.sig'), signWithKey(st, k.privateKey, { noHint: true, omitTlogEntries: true }));
    const r = await verifyModelSignature({ modelDir: dir, signaturePath: join(dir, 'model.sig'), trust: { publicKeyPem: k.publicPem } });
    expect(r.verified).toBe(true);
    expect(r.warnings.join(' ')).toMatch(/no key hint/);
  });

  it('reports one changed byte as file-mismatch', async () => {
    const m = await signed();
    const p = join(m.dir, 'model.safetensors');
    const b = await readFile(p);
    b[b.length - 1] = (b[b.length - 1] as number) ^ 1;
    await writeFile(p, b);
    const r = await verifyModelSignature({ modelDir: m.dir, signaturePath: m.sigPath, trust: { publicKeyPem: m.publicPem } });
    expect(r.verified).toBe(false);
    expect(r.signatureVerified).toBe(true);
    expect(codes(r)).toEqual(['file-mismatch']);
    const f = r.files.find((x) => x.name === 'model.safetensors');
    expect(f?.ok).toBe(false);
    expect(f?.actual).not.toBe(f?.expected);
  });

  it('reports an added file and a removed file; ignores git files and the signature', async () => {
    const m = await signed();
    await writeFile(join(m.dir, 'extra.py'), 'import os\n');
    await mkdir(join(m.dir, '.git'));
    await writeFile(join(m.dir, '.git', 'HEAD'), 'ref: x\n');
    await unlink(join(m.dir, 'tokenizer', 'vocab.txt'));
    const r = await verifyModelSignature({ modelDir: m.dir, signaturePath: m.sigPath, trust: { publicKeyPem: m.publicPem } });
    expect(r.verified).toBe(false);
    expect(codes(r).sort()).toEqual(['file-extra', 'file-missing']);
    expect(r.problems.find((p) => p.code === 'file-extra')?.detail).toMatch(/^extra\.py/);
    expect(r.problems.find((p) => p.code === 'file-missing')?.detail).toMatch(/^tokenizer\/vocab\.txt/);
  });

  it('honours the signed ignore_paths', async () => {
    const dir = await writeModel({ 'w.bin': 'weights', 'README.md': 'hello' });
    dirs.push(dir);
    const k = ecKeyPair();
    const st = await omsStatement(dir, { ignorePaths: ['README.md'] });
    await writeBundle(join(dir, 'model.sig'), signWithKey(st, k.privateKey));
    await writeFile(join(dir, 'README.md'), 'changed');
    const r = await verifyModelSignature({ modelDir: dir, signaturePath: join(dir, 'model.sig'), trust: { publicKeyPem: k.publicPem } });
    expect(r.problems).toEqual([]);
    expect(r.verified).toBe(true);
  });

  it('rejects a wrong public key: signature-invalid and key-mismatch', async () => {
    const m = await signed();
    const other = ecKeyPair();
    const r = await verifyModelSignature({ modelDir: m.dir, signaturePath: m.sigPath, trust: { publicKeyPem: other.publicPem } });
    expect(r.verified).toBe(false);
    expect(r.signatureVerified).toBe(false);
    expect(codes(r)).toContain('signature-invalid');
    expect(codes(r)).toContain('key-mismatch');
    expect(r.files.every((f) => f.ok)).toBe(true);
  });

  it('rejects a statement edited after signing', async () => {
    const m = await signed();
    const bundle = JSON.parse(await readFile(m.sigPath, 'utf8')) as { dsseEnvelope: { payload: string } };
    const st = structuredClone(m.statement);
    (st.predicate.resources[0] as { digest: string }).digest = '0'.repeat(64);
    bundle.dsseEnvelope.payload = statementPayload(st).toString('base64');
    await writeBundle(m.sigPath, bundle);
    const r = await verifyModelSignature({ modelDir: m.dir, signaturePath: m.sigPath, trust: { publicKeyPem: m.publicPem } });
    expect(codes(r)).toContain('signature-invalid');
    expect(codes(r)).toContain('subject-digest-mismatch');
    expect(r.verified).toBe(false);
  });

  it('reports a subject digest that does not match the resources, even when signed', async () => {
    const m = await signed();
    await resign(m, (s) => void ((s.subject[0] as { digest: { sha256: string } }).digest.sha256 = 'a'.repeat(64)));
    const r = await verifyModelSignature({ modelDir: m.dir, signaturePath: m.sigPath, trust: { publicKeyPem: m.publicPem } });
    expect(codes(r)).toEqual(['subject-digest-mismatch']);
    expect(r.modelDigest).toBeUndefined();
    expect(r.verified).toBe(false);
  });

  it('types a different predicate type, malformed JSON, an oversize file and a message-signature bundle', async () => {
    const m = await signed();
    await resign(m, (s) => void (s.predicateType = 'https://model_signing/Digests/v0.1'));
    let r = await verifyModelSignature({ modelDir: m.dir, signaturePath: m.sigPath, trust: { publicKeyPem: m.publicPem } });
    expect(codes(r)).toEqual(['wrong-predicate-type']);
    expect(r.problems[0]?.detail).toMatch(/pre-1\.0/);
    expect(r.verified).toBe(false);

    await writeFile(m.sigPath, '{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json", ');
    r = await verifyModelSignature({ modelDir: m.dir, signaturePath: m.sigPath, trust: { publicKeyPem: m.publicPem } });
    expect(codes(r)).toEqual(['bad-bundle']);

    await writeFile(m.sigPath, JSON.stringify({ mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json', verificationMaterial: { publicKey: { hint: 'x' } }, messageSignature: { signature: 'AAAA' } }));
    r = await verifyModelSignature({ modelDir: m.dir, signaturePath: m.sigPath, trust: { publicKeyPem: m.publicPem } });
    expect(codes(r)).toEqual(['bad-bundle']);

    await writeFile(m.sigPath, Buffer.alloc(1024 * 1024 + 1, 0x20));
    r = await verifyModelSignature({ modelDir: m.dir, signaturePath: m.sigPath, trust: { publicKeyPem: m.publicPem } });
    expect(codes(r)).toEqual(['too-large']);
    expect(r.verified).toBe(false);

    r = await verifyModelSignature({ modelDir: m.dir, signaturePath: join(m.dir, 'nope.sig'), trust: { publicKeyPem: m.publicPem } });
    expect(codes(r)).toEqual(['bad-bundle']);
  });

  it('refuses resource names that leave the model dir, and reads nothing outside', async () => {
    const m = await signed();
    const outside = join(dirname(m.dir), 'secret.txt');
    await writeFile(outside, 'secret');
    const { createHash } = await import('node:crypto');
    const secretDigest = createHash('sha256').update('secret').digest('hex');
    for (const name of ['../secret.txt', '/etc/passwd', 'a/../../secret.txt', 'C:/x', 'a\\..\\x']) {
      await resign(m, (s) => {
        s.predicate.resources.push({ name, algorithm: 'sha256', digest: secretDigest });
      });
      const r = await verifyModelSignature({ modelDir: m.dir, signaturePath: m.sigPath, trust: { publicKeyPem: m.publicPem } });
      expect(codes(r), name).toContain('bad-resource');
      expect(r.verified).toBe(false);
      expect(r.files.some((f) => f.name === name), name).toBe(false);
    }
    // A link inside the model pointing outside is not followed, even when links are allowed.
    await symlink(outside, join(m.dir, 'link.txt'));
    await resign(m, (s) => {
      s.predicate.serialization['allow_symlinks'] = true;
      s.predicate.resources.push({ name: 'link.txt', algorithm: 'sha256', digest: secretDigest });
    });
    const r = await verifyModelSignature({ modelDir: m.dir, signaturePath: m.sigPath, trust: { publicKeyPem: m.publicPem } });
    expect(r.problems.find((p) => p.code === 'symlink')?.detail).toMatch(/outside the model directory/);
    expect(r.files.find((f) => f.name === 'link.txt')?.actual).toBeUndefined();
    expect(r.verified).toBe(false);
  });

  it('bounds the number of resources', async () => {
    const m = await signed();
    await resign(m, (s) => {
      for (let i = 0; i < 20; i++) s.predicate.resources.push({ name: `f${i}`, algorithm: 'sha256', digest: '0'.repeat(64) });
    });
    const r = await verifyModelSignature({ modelDir: m.dir, signaturePath: m.sigPath, trust: { publicKeyPem: m.publicPem }, limits: { maxResources: 10 } });
    expect(codes(r)).toContain('too-many-resources');
    expect(r.files).toEqual([]);
    expect(r.verified).toBe(false);
  });

  it('verifies shard serialization and notices bytes appended past the signed shards', async () => {
    const dir = await writeModel({ 'big.bin': Buffer.alloc(1000, 3), 'small.txt': 'x', 'empty.txt': '' });
    dirs.push(dir);
    const k = ecKeyPair();
    const st = await omsStatement(dir, { shardSize: 300 });
    expect(st.predicate.resources.map((x) => x.name)).toEqual(['big.bin:0:300', 'big.bin:300:600', 'big.bin:600:900', 'big.bin:900:1000', 'small.txt:0:1']);
    await writeBundle(join(dir, 'model.sig'), signWithKey(st, k.privateKey));
    const trust = { publicKeyPem: k.publicPem };
    let r = await verifyModelSignature({ modelDir: dir, signaturePath: join(dir, 'model.sig'), trust });
    expect(r.problems).toEqual([]);
    expect(r.verified).toBe(true);
    await writeFile(join(dir, 'big.bin'), Buffer.alloc(1001, 3));
    r = await verifyModelSignature({ modelDir: dir, signaturePath: join(dir, 'model.sig'), trust });
    expect(r.problems.map((p) => p.detail).join('\n')).toMatch(/cover bytes 0\.\.1000 of a 1001-byte file/);
    expect(r.verified).toBe(false);
  });

  it('refuses symbolic links the signature does not allow', async () => {
    const m = await signed();
    await symlink(join(m.dir, 'config.json'), join(m.dir, 'alias.json'));
    const r = await verifyModelSignature({ modelDir: m.dir, signaturePath: m.sigPath, trust: { publicKeyPem: m.publicPem } });
    expect(codes(r)).toEqual(['symlink']);
  });

  it('reads a Hugging Face cache snapshot, whose files link to ../../blobs, when given the repo dir as linkRoot', async () => {
    const repo = await writeModel({ 'blobs/aaa': '{"a": 1}\n', 'blobs/bbb': 'weights' });
    dirs.push(repo);
    const snap = join(repo, 'snapshots', 'rev1');
    await mkdir(snap, { recursive: true });
    await symlink('../../blobs/aaa', join(snap, 'config.json'));
    await symlink('../../blobs/bbb', join(snap, 'model.bin'));
    const plain = await writeModel({ 'config.json': '{"a": 1}\n', 'model.bin': 'weights' });
    dirs.push(plain);
    const k = ecKeyPair();
    await writeBundle(join(snap, 'model.sig'), signWithKey(await omsStatement(plain), k.privateKey));
    const base = { modelDir: snap, signaturePath: join(snap, 'model.sig'), trust: { publicKeyPem: k.publicPem } };
    expect(codes(await verifyModelSignature(base))).toEqual(['symlink', 'symlink']);
    const r = await verifyModelSignature({ ...base, linkRoot: repo });
    expect(r.problems).toEqual([]);
    expect(r.verified).toBe(true);
  });

  it.runIf(process.platform !== 'win32')('does not hang on a FIFO listed as a file or named *.sig', async () => {
    const m = await signed();
    execFileSync('mkfifo', [join(m.dir, 'pipe.bin'), join(m.dir, 'pipe.sig')]);
    await resign(m, (s) => void s.predicate.resources.push({ name: 'pipe.bin', algorithm: 'sha256', digest: '0'.repeat(64) }));
    const r = await verifyModelSignature({ modelDir: m.dir, signaturePath: m.sigPath, trust: { publicKeyPem: m.publicPem } });
    expect(r.problems.find((p) => p.detail.startsWith('pipe.bin'))?.code).toBe('file-unreadable');
    const r2 = await verifyModelSignature({ modelDir: m.dir, signaturePath: join(m.dir, 'pipe.sig'), trust: { publicKeyPem: m.publicPem } });
    expect(codes(r2)).toEqual(['bad-bundle']);
    expect((await findModelSignature(m.dir)).signaturePath).toBe(m.sigPath);
  });

  it('claims nothing without trust material, but still compares the files', async () => {
    const m = await signed();
    const r = await verifyModelSignature({ modelDir: m.dir, signaturePath: m.sigPath });
    expect(r.verified).toBe(false);
    expect(r.signatureVerified).toBe(false);
    expect(codes(r)).toEqual(['no-trust-material']);
    expect(r.files.every((f) => f.ok)).toBe(true);
    expect(r.signer.keyHint).toBeDefined();
  });

  it('a bad key and an unreadable model dir are problems, not exceptions', async () => {
    const m = await signed();
    let r = await verifyModelSignature({ modelDir: m.dir, signaturePath: m.sigPath, trust: { publicKeyPem: 'not a key' } });
    expect(codes(r)).toEqual(['bad-key']);
    r = await verifyModelSignature({ modelDir: join(m.dir, 'nope'), signaturePath: m.sigPath, trust: { publicKeyPem: m.publicPem } });
    expect(codes(r)).toEqual(['model-dir-unreadable']);
    expect(r.verified).toBe(false);
  });
});

describe('findModelSignature', () => {
  it('prefers model.sig, else the *.sig that is an OMS bundle, and bounds what it reads', async () => {
    const m = await signed();
    let f = await findModelSignature(m.dir);
    expect(f.signaturePath).toBe(m.sigPath);
    const bundle = await readFile(m.sigPath);
    await unlink(m.sigPath);
    await writeFile(join(m.dir, 'a.sig'), 'not json');
    await writeFile(join(m.dir, 'b.sig'), Buffer.alloc(2 * 1024 * 1024, 0x20));
    await writeFile(join(m.dir, 'c.sig'), bundle);
    f = await findModelSignature(m.dir);
    expect(f.signaturePath).toBe(join(m.dir, 'c.sig'));
    expect(f.candidates.map((c) => c.kind)).toEqual(['not-oms', 'too-large', 'oms']);
    f = await findModelSignature(join(m.dir, 'missing'));
    expect(f.signaturePath).toBeUndefined();
    expect(f.error).toBe('ENOENT');
  });
});
