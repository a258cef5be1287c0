import { readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyModelSignature, type OmsVerification } from '../../node/scan/signature/oms.js';
import { ecKeyPair, omsStatement, writeBundle, writeModel, type OmsStatement } from '../fixtures/scan/oms-builders.js';
import { makePki, signKeyless, trustedRoot, type KeylessOptions, type Pki } from '../fixtures/scan/oms-keyless-builders.js';

const ID = 'alice@example.com';
const ISSUER = 'https://accounts.example.com';

let dir: string;
let pki: Pki;
let statement: OmsStatement;
let rootPath: string;

beforeAll(async () => {
  dir = await writeModel({ 'config.json': '{"a": 1}\n', 'weights.bin': Buffer.alloc(4096, 5) });
  pki = makePki();
  statement = await omsStatement(dir);
  rootPath = join(dirname(dir), 'trusted_root.json');
  await writeFile(rootPath, JSON.stringify(trustedRoot(pki)));
});
afterAll(async () => {
  await rm(dirname(dir), { recursive: true, force: true });
});

const codes = (r: OmsVerification): string[] => r.problems.map((p) => p.code);

async function verifyWith(o: Partial<KeylessOptions> = {}, trust: { identity?: string; issuer?: string; root?: string } = { identity: ID, issuer: ISSUER }): Promise<OmsVerification> {
  const sigPath = join(dir, 'model.sig');
  await writeBundle(sigPath, signKeyless(statement, pki, { identity: ID, oidcIssuer: ISSUER, ...o }));
  return verifyModelSignature({
    modelDir: dir,
    signaturePath: sigPath,
    trust: { trustedRootPath: trust.root ?? rootPath, ...(trust.identity !== undefined ? { identity: trust.identity } : {}), ...(trust.issuer !== undefined ? { issuer: trust.issuer } : {}) },
  });
}

describe('OMS v1.0 Sigstore (keyless) signatures, offline against a pinned trusted root', () => {
  it('verifies the certificate chain, SCT, Rekor entry (inclusion proof, checkpoint, SET) and identity', async () => {
    const r = await verifyWith();
    expect(r.problems).toEqual([]);
    expect(r.verified).toBe(true);
    expect(r.method).toBe('certificate');
    expect(r.signer).toEqual({ identity: ID, issuer: ISSUER });
    expect(r.files.every((f) => f.ok)).toBe(true);
    expect(r.warnings).toEqual([]);
  });

  it('verifies a URI identity (a CI workflow)', async () => {
    const wf = 'https://github.com/acme/models/.github/workflows/sign.yml@refs/heads/main';
    const r = await verifyWith({ identity: wf }, { identity: wf, issuer: ISSUER });
    expect(r.verified).toBe(true);
    expect(r.signer.identity).toBe(wf);
  });

  it('does not count a valid certificate as verified without an expected identity and issuer', async () => {
    const r = await verifyWith({}, {});
    expect(codes(r)).toEqual(['identity-not-pinned']);
    expect(r.verified).toBe(false);
    expect(r.signer).toEqual({ identity: ID, issuer: ISSUER });
  });

  it('rejects another identity or issuer than expected', async () => {
    let r = await verifyWith({}, { identity: 'bob@example.com', issuer: ISSUER });
    expect(codes(r)).toEqual(['untrusted-identity']);
    expect(r.verified).toBe(false);
    r = await verifyWith({}, { identity: ID, issuer: 'https://evil.example.com' });
    expect(codes(r)).toEqual(['untrusted-identity']);
  });

  it('rejects a certificate from a CA the root does not name', async () => {
    const r = await verifyWith({ otherCa: makePki() });
    expect(codes(r)).toEqual(['certificate-invalid']);
    expect(r.verified).toBe(false);
    expect(r.signatureVerified).toBe(false);
    expect(r.signer.identity).toBe(ID); // claimed, shown, not trusted
  });

  it('requires an SCT when the root lists CT logs, and says so when it lists none', async () => {
    let r = await verifyWith({ sct: false });
    expect(codes(r)).toEqual(['certificate-invalid']);
    const noCt = join(dirname(dir), 'trusted_root_no_ct.json');
    await writeFile(noCt, JSON.stringify(trustedRoot(pki, { withCtLog: false })));
    r = await verifyWith({ sct: false }, { identity: ID, issuer: ISSUER, root: noCt });
    expect(r.verified).toBe(true);
    expect(r.warnings.join(' ')).toMatch(/no CT log/);
  });

  it('rejects a broken transparency-log entry: SET, inclusion proof, body', async () => {
    for (const tamper of ['set', 'proof', 'body'] as const) {
      const r = await verifyWith({ tamper });
      expect(codes(r), tamper).toEqual(['tlog-invalid']);
      expect(r.verified, tamper).toBe(false);
    }
  });

  it('does not verify a certificate signature that was never logged (model_signing\'s private-PKI method)', async () => {
    const b = signKeyless(statement, pki, { identity: ID, oidcIssuer: ISSUER }) as { verificationMaterial: Record<string, unknown> };
    delete b.verificationMaterial['tlogEntries'];
    const sigPath = join(dir, 'model.sig');
    await writeBundle(sigPath, b);
    const r = await verifyModelSignature({ modelDir: dir, signaturePath: sigPath, trust: { trustedRootPath: rootPath, identity: ID, issuer: ISSUER } });
    expect(codes(r)).toEqual(['tlog-invalid']);
    expect(r.problems[0]?.detail).toMatch(/no transparency-log entry/);
  });

  it('rejects an envelope whose payload was swapped after logging', async () => {
    const sigPath = join(dir, 'model.sig');
    await writeBundle(sigPath, signKeyless(statement, pki, { identity: ID, oidcIssuer: ISSUER }));
    const b = JSON.parse(await readFile(sigPath, 'utf8')) as { dsseEnvelope: { payload: string } };
    const st = structuredClone(statement);
    st.subject[0]!.name = 'renamed';
    b.dsseEnvelope.payload = Buffer.from(JSON.stringify(st, null, 2)).toString('base64');
    await writeBundle(sigPath, b);
    const r = await verifyModelSignature({ modelDir: dir, signaturePath: sigPath, trust: { trustedRootPath: rootPath, identity: ID, issuer: ISSUER } });
    expect(codes(r)).toEqual(['tlog-invalid']);
    expect(r.verified).toBe(false);
  });

  it('a changed file fails even when the signature is good', async () => {
    const sigPath = join(dir, 'model.sig');
    await writeBundle(sigPath, signKeyless(statement, pki, { identity: ID, oidcIssuer: ISSUER }));
    const w = join(dir, 'weights.bin');
    const orig = await readFile(w);
    await writeFile(w, Buffer.alloc(4096, 6));
    try {
      const r = await verifyModelSignature({ modelDir: dir, signaturePath: sigPath, trust: { trustedRootPath: rootPath, identity: ID, issuer: ISSUER } });
      expect(r.signatureVerified).toBe(true);
      expect(codes(r)).toEqual(['file-mismatch']);
      expect(r.verified).toBe(false);
    } finally {
      await writeFile(w, orig);
    }
  });

  it('names the missing trust: no root for a certificate, a key for a certificate, a root for a key', async () => {
    const sigPath = join(dir, 'model.sig');
    await writeBundle(sigPath, signKeyless(statement, pki, { identity: ID, oidcIssuer: ISSUER }));
    let r = await verifyModelSignature({ modelDir: dir, signaturePath: sigPath });
    expect(codes(r)).toEqual(['no-trust-material']);
    expect(r.problems[0]?.detail).toMatch(/no trusted root given/);
    expect(r.signer.identity).toBe(ID);
    r = await verifyModelSignature({ modelDir: dir, signaturePath: sigPath, trust: { publicKeyPem: ecKeyPair().publicPem } });
    expect(codes(r)).toEqual(['no-trust-material']);
    const bad = join(dirname(dir), 'bad_root.json');
    await writeFile(bad, '{"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1", "certificateAuthorities": [{"certChain": {"certificates": [{"rawBytes": "AAAA"}]}}]}');
    r = await verifyModelSignature({ modelDir: dir, signaturePath: sigPath, trust: { trustedRootPath: bad, identity: ID, issuer: ISSUER } });
    expect(codes(r)).toEqual(['bad-trusted-root']);
  });
});
