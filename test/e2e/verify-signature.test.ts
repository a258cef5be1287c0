import { readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { keySignedModel } from '../fixtures/scan/oms-builders.js';
import { makePki, signKeyless, trustedRoot } from '../fixtures/scan/oms-keyless-builders.js';
import { describeRun, makeSandbox, type Sandbox } from './run-cli.js';

/** `chorus verify-signature`: an OpenSSF model signing signature, checked offline. */
const sandboxes: Sandbox[] = [];
const models: string[] = [];
afterAll(async () => {
  await Promise.all(sandboxes.map((s) => s.cleanup()));
  await Promise.all(models.map((d) => rm(dirname(d), { recursive: true, force: true })));
});

describe('chorus verify-signature', () => {
  test('key-based: exit 0 and the signer on a valid model, exit 3 on a tampered one, 2 on bad input, 4 without a signature', async () => {
    const sb = await makeSandbox('chorus-e2e-oms-');
    sandboxes.push(sb);
    const m = await keySignedModel();
    models.push(m.dir);
    const keyPath = join(sb.dir, 'signer.pub');
    await writeFile(keyPath, m.publicPem);

    const args = ['verify-signature', m.dir, '--key', keyPath];
    const ok = await sb.run(args);
    expect(ok.code, describeRun(args, ok)).toBe(0);
    expect(ok.stdout).toMatch(/^VERIFIED {2}.*tiny-model {2}\(OpenSSF model signature, key-based\)/);
    expect(ok.stdout).toMatch(/signer: {4}key [0-9a-f]{64} \(the key hint in the signature names it\) \(verified\)/);
    expect(ok.stdout).toContain(`model:     sha256:${m.statement.subject[0]?.digest.sha256}`);
    expect(ok.stdout).toMatch(/files: {5}3 listed, 3 match/);

    const json = await sb.run([...args, '--json']);
    expect(json.code).toBe(0);
    const parsed = JSON.parse(json.stdout) as { verified: boolean; method: string; signer: { publicKeyFingerprint: string }; files: unknown[] };
    expect(parsed.verified).toBe(true);
    expect(parsed.method).toBe('key');
    expect(parsed.files).toHaveLength(3);

    // One byte of the weights changed.
    const w = join(m.dir, 'model.safetensors');
    const b = await readFile(w);
    b[20] = (b[20] as number) ^ 0xff;
    await writeFile(w, b);
    const bad = await sb.run(args);
    expect(bad.code, describeRun(args, bad)).toBe(3);
    expect(bad.stdout).toMatch(/^NOT VERIFIED/);
    expect(bad.stdout).toMatch(/file-mismatch: model\.safetensors: sha256 [0-9a-f]{64}, signed [0-9a-f]{64}/);
    expect(bad.stdout).toMatch(/signer: {4}key [0-9a-f]{64}.*\(verified\)/);

    // No key: nothing is claimed.
    const none = await sb.run(['verify-signature', m.dir]);
    expect(none.code).toBe(3);
    expect(none.stdout).toMatch(/NOTE: no public key \(--key\) was given, so nothing was verified/);

    // Bad input: both kinds of trust, an unreadable key, a file for a directory.
    expect((await sb.run([...args, '--trusted-root', keyPath])).code).toBe(2);
    const garbage = join(sb.dir, 'garbage.pem');
    await writeFile(garbage, 'hello');
    const g = await sb.run(['verify-signature', m.dir, '--key', garbage]);
    expect(g.code).toBe(2);
    expect(g.stderr).toMatch(/--key .*garbage\.pem: not a PEM or DER public key/);
    expect((await sb.run(['verify-signature', w, '--key', keyPath])).code).toBe(2);
    expect((await sb.run(['verify-signature', dirname(keyPath), '--key', keyPath])).code).toBe(4);

    // A malformed signature is not verified (exit 3), named, and no stack trace.
    const junk = join(sb.dir, 'junk.sig');
    await writeFile(junk, '{"mediaType": ');
    const j = await sb.run([...args, '--signature', junk]);
    expect(j.code, describeRun(args, j)).toBe(3);
    expect(j.stdout).toMatch(/bad-bundle: not JSON/);
    expect(j.stderr).toBe('');
  });

  test('keyless: verified against a pinned trusted root with identity and issuer; without a root it says so', async () => {
    const sb = await makeSandbox('chorus-e2e-oms-');
    sandboxes.push(sb);
    const m = await keySignedModel();
    models.push(m.dir);
    const pki = makePki();
    await writeFile(m.sigPath, JSON.stringify(signKeyless(m.statement, pki, { identity: 'alice@example.com', oidcIssuer: 'https://accounts.example.com' })));
    const root = join(sb.dir, 'trusted_root.json');
    await writeFile(root, JSON.stringify(trustedRoot(pki)));

    const args = ['verify-signature', m.dir, '--trusted-root', root, '--identity', 'alice@example.com', '--issuer', 'https://accounts.example.com'];
    const ok = await sb.run(args);
    expect(ok.code, describeRun(args, ok)).toBe(0);
    expect(ok.stdout).toMatch(/^VERIFIED .*Sigstore certificate/);
    expect(ok.stdout).toContain('signer:    certificate for alice@example.com, issuer https://accounts.example.com (verified)');

    const noRoot = await sb.run(['verify-signature', m.dir]);
    expect(noRoot.code).toBe(3);
    expect(noRoot.stdout).toMatch(/^NOT VERIFIED/);
    expect(noRoot.stdout).toContain('claimed, not verified');
    expect(noRoot.stdout).toMatch(/no trusted root given/);

    const other = await sb.run([...args.slice(0, 4), '--identity', 'mallory@example.com', '--issuer', 'https://accounts.example.com']);
    expect(other.code).toBe(3);
    expect(other.stdout).toMatch(/untrusted-identity: signed by alice@example\.com, expected mallory@example\.com/);
  });
});

describe('model signatures in scan and check', () => {
  test('scan shows the signer, --attest publishes a provenance attestation the view shows; check with a pinned key denies a tampered model', async () => {
    const { makeInitialisedSandbox } = await import('./run-cli.js');
    const sb = await makeInitialisedSandbox('chorus-e2e-oms-scan-');
    sandboxes.push(sb);
    const { writeSafetensors } = await import('../fixtures/scan/builders.js');
    const m = await keySignedModel({
      'model.safetensors': writeSafetensors({ __metadata__: { format: 'pt' }, w: { dtype: 'F32', shape: [16], data_offsets: [0, 64] } }, 64),
      'config.json': '{"architectures":["LlamaForCausalLM"]}',
      'tokenizer.json': '{"version":"1.0"}',
    });
    models.push(m.dir);
    const keyPath = join(sb.dir, 'signer.pub');
    await writeFile(keyPath, m.publicPem);

    // Without a pinned key the signer is only claimed, and nothing is published about it.
    const unpinned = await sb.run(['scan', m.dir]);
    expect(unpinned.stdout, describeRun(['scan', m.dir], unpinned)).toMatch(/signature: .*model\.sig, key, signer claimed key hint .*NOT VERIFIED/);

    const args = ['scan', m.dir, '--signature-key', keyPath, '--attest'];
    const r = await sb.run(args);
    expect(r.stdout, describeRun(args, r)).toMatch(/signature: VERIFIED, key, signed by key sha256:[0-9a-f]{16}…, 3 file\(s\) match/);
    expect(r.stderr).toMatch(/attested: \d+ stored/);
    const modelDigest = m.statement.subject[0]!.digest.sha256;
    const q = await sb.run(['query', `sha256:${modelDigest}`]);
    expect(q.stdout, describeRun(['query', modelDigest], q)).toMatch(/provenance/);
    expect(q.stdout).toMatch(/signed by key sha256:[0-9a-f]{16}… \(OMS, key, 3 file\(s\) matched\)/);

    const allowed = await sb.run(['check', m.dir, '--signature-key', keyPath]);
    expect(allowed.code, describeRun(['check', m.dir], allowed)).toBe(0);
    const w = join(m.dir, 'model.safetensors');
    const b = await readFile(w);
    b[b.length - 1] = (b[b.length - 1] as number) ^ 0xff; // a tensor byte: still a well-formed file
    await writeFile(w, b);
    const denied = await sb.run(['check', m.dir, '--signature-key', keyPath]);
    expect(denied.code, describeRun(['check', m.dir], denied)).toBe(3);
    expect(denied.stdout).toMatch(/signature: .*does not verify: file-mismatch/);
    // A check that requires a signature denies a model without one.
    const bare = join(sb.dir, 'bare');
    await (await import('node:fs/promises')).mkdir(bare);
    await writeFile(join(bare, 'model.safetensors'), await readFile(w));
    const unsigned = await sb.run(['check', bare, '--signature-key', keyPath]);
    expect(unsigned.code).toBe(3);
    expect(unsigned.stdout).toMatch(/a signature was required/);
  }, 90_000);
});

describe('model signatures in the Hugging Face cache', () => {
  test('a signed model downloaded into the hub cache (snapshot links into blobs) is verified by scan', async () => {
    const { makeInitialisedSandbox } = await import('./run-cli.js');
    const fs = await import('node:fs/promises');
    const { createHash } = await import('node:crypto');
    const sb = await makeInitialisedSandbox('chorus-e2e-oms-hf-');
    sandboxes.push(sb);
    const { writeSafetensors } = await import('../fixtures/scan/builders.js');
    const m = await keySignedModel({
      'model.safetensors': writeSafetensors({ w: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, 16),
      'config.json': '{"architectures":["LlamaForCausalLM"]}',
    });
    models.push(m.dir);
    const keyPath = join(sb.dir, 'signer.pub');
    await writeFile(keyPath, m.publicPem);
    // The hub cache's layout: blobs named by sha256, a snapshot of relative links to them.
    const hub = join(sb.dir, 'hub');
    const repo = join(hub, 'models--acme--signed');
    const rev = 'b'.repeat(40);
    await fs.mkdir(join(repo, 'blobs'), { recursive: true });
    await fs.mkdir(join(repo, 'snapshots', rev), { recursive: true });
    await fs.mkdir(join(repo, 'refs'), { recursive: true });
    await writeFile(join(repo, 'refs', 'main'), rev);
    for (const name of await fs.readdir(m.dir)) {
      const bytes = await readFile(join(m.dir, name));
      const sha = createHash('sha256').update(bytes).digest('hex');
      await writeFile(join(repo, 'blobs', sha), bytes);
      await fs.symlink(join('..', '..', 'blobs', sha), join(repo, 'snapshots', rev, name));
    }
    const env = { HF_HUB_CACHE: hub, HOME: join(sb.dir, 'nohome') };
    const r = await sb.run(['scan', '--signature-key', keyPath], { env });
    expect(r.stdout, describeRun(['scan'], r)).toMatch(/acme\/signed@main/);
    expect(r.stdout).toMatch(/signature: VERIFIED, key, signed by key sha256:[0-9a-f]{16}…, 2 file\(s\) match/);
  }, 90_000);
});
