/**
 * The signature side of an OMS signature, offline:
 * - key-based bundles: ECDSA over the DSSE PAE with the key the user gives, hashed as
 *   `model_signing` does (SHA-256/384/512 for P-256/384/521), plus its key-hint check;
 * - certificate (Sigstore keyless) bundles: @sigstore/verify against a trusted_root.json the
 *   user pins: the certificate chain at the log's integration time, the SCTs when the root
 *   lists CT logs, the Rekor entry's body, inclusion proof + signed checkpoint and inclusion
 *   promise (SET). Nothing is fetched.
 */
import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { assertBundle, bundleFromJSON } from '@sigstore/bundle';
import { X509Certificate } from '@sigstore/core';
import { PolicyError, VerificationError, Verifier, toSignedEntity, type TrustMaterial } from '@sigstore/verify';
import { IN_TOTO_PAYLOAD_TYPE, trustedRootShape, zodDetail, type BundleShape, type OmsProblem, type OmsVerification } from './oms-format.js';

export interface SignatureCheck {
  readonly ok: boolean;
  readonly signer: OmsVerification['signer'];
  readonly problems: OmsProblem[];
  readonly warnings: string[];
}

const OID_ISSUER_V1 = '1.3.6.1.4.1.57264.1.1';
const OID_ISSUER_V2 = '1.3.6.1.4.1.57264.1.8';
const CURVE_HASH: Record<string, string> = { prime256v1: 'sha256', secp384r1: 'sha384', secp521r1: 'sha512' };

/** DSSE v1 pre-authentication encoding: "DSSEv1 LEN(type) type LEN(body) body". */
export function pae(payloadType: string, payload: Buffer): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([Buffer.from(`DSSEv1 ${type.length} `), type, Buffer.from(` ${payload.length} `), payload]);
}

/** The key fingerprint OMS writes as `publicKey.hint`: hex sha256 of the SPKI PEM text. */
export function omsKeyHint(key: KeyObject): string {
  return createHash('sha256').update(key.export({ type: 'spki', format: 'pem' })).digest('hex');
}

/** Parses a PEM (or DER SubjectPublicKeyInfo) public key usable for OMS key signatures. */
export function loadOmsPublicKey(pemOrDer: string | Buffer): { key: KeyObject; hash: string } | { problem: OmsProblem } {
  let key: KeyObject;
  try {
    const text = typeof pemOrDer === 'string' ? pemOrDer : pemOrDer.toString('latin1');
    key = text.includes('-----BEGIN') ? createPublicKey(text) : createPublicKey({ key: Buffer.from(pemOrDer as Buffer), format: 'der', type: 'spki' });
  } catch (e) {
    return { problem: { code: 'bad-key', detail: `not a PEM or DER public key (${(e as Error).message})` } };
  }
  const curve = key.asymmetricKeyType === 'ec' ? key.asymmetricKeyDetails?.namedCurve : undefined;
  const hash = curve === undefined ? undefined : CURVE_HASH[curve];
  if (hash === undefined) return { problem: { code: 'bad-key', detail: `a ${key.asymmetricKeyType ?? 'unknown'}${curve ? ` ${curve}` : ''} key; OMS key signatures are ECDSA on P-256, P-384 or P-521` } };
  return { key, hash };
}

/** A key-based bundle: the hint must name the key (when present), the signature must verify. */
export function checkKeySignature(bundle: BundleShape, key: KeyObject, hash: string): SignatureCheck {
  const problems: OmsProblem[] = [];
  const warnings: string[] = [];
  const fingerprint = omsKeyHint(key);
  const hint = bundle.verificationMaterial.publicKey?.hint ?? undefined;
  const signer: OmsVerification['signer'] = { publicKeyFingerprint: fingerprint, ...(hint ? { keyHint: hint } : {}) };
  if (hint && hint.toLowerCase() !== fingerprint) problems.push({ code: 'key-mismatch', detail: `the signature names key ${hint.slice(0, 64)}, not the key given (${fingerprint})` });
  if (!hint) warnings.push('the bundle carries no key hint (an older model_signing format)');
  const env = bundle.dsseEnvelope;
  const payload = Buffer.from(env.payload, 'base64');
  const sig = Buffer.from(env.signatures[0]?.sig ?? '', 'base64');
  let ok = false;
  try {
    ok = verify(hash, pae(env.payloadType, payload), { key, dsaEncoding: 'der' }, sig);
  } catch {
    ok = false;
  }
  if (!ok) problems.push({ code: 'signature-invalid', detail: 'the DSSE signature does not verify with the key given' });
  if (env.signatures.length > 1) warnings.push(`${env.signatures.length} signatures in the envelope; only the first is checked, as model_signing does`);
  return { ok: ok && problems.length === 0, signer, problems, warnings };
}

/** The claimed signer of a certificate bundle, read from its leaf certificate (not yet verified). */
export function certificateSigner(bundle: BundleShape): OmsVerification['signer'] {
  const vm = bundle.verificationMaterial;
  const raw = vm.certificate?.rawBytes ?? vm.x509CertificateChain?.certificates[0]?.rawBytes;
  if (raw === undefined) return {};
  try {
    const cert = X509Certificate.parse(Buffer.from(raw, 'base64'));
    const v2 = cert.extension(OID_ISSUER_V2)?.valueObj.subs[0]?.value.toString('utf8');
    const issuer = v2 ?? cert.extension(OID_ISSUER_V1)?.value.toString('utf8');
    const identity = cert.subjectAltName;
    return { ...(identity !== undefined ? { identity } : {}), ...(issuer !== undefined ? { issuer } : {}) };
  } catch {
    return {};
  }
}

const EPOCH = new Date(0);
const END_OF_TIME = new Date(8_640_000_000_000_000);

/** Builds @sigstore/verify's trust material from a trusted_root.json's text. */
export function trustMaterialFrom(text: string): { material: TrustMaterial; ctlogs: number } | { problem: OmsProblem } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return { problem: { code: 'bad-trusted-root', detail: `not JSON (${(e as Error).message})` } };
  }
  const parsed = trustedRootShape.safeParse(json);
  if (!parsed.success) return { problem: { code: 'bad-trusted-root', detail: zodDetail(parsed.error) } };
  const root = parsed.data;
  try {
    const span = (v: { start?: string | undefined; end?: string | undefined } | undefined): { start: Date; end: Date } => ({ start: v?.start ? new Date(v.start) : EPOCH, end: v?.end ? new Date(v.end) : END_OF_TIME });
    const ca = (c: (typeof root.certificateAuthorities)[number]): TrustMaterial['certificateAuthorities'][number] => ({
      certChain: c.certChain.certificates.map((x) => X509Certificate.parse(Buffer.from(x.rawBytes, 'base64'))),
      validFor: span(c.validFor),
    });
    const log = (l: (typeof root.tlogs)[number]): TrustMaterial['tlogs'][number] => ({
      logID: Buffer.from((l.checkpointKeyId ?? l.logId).keyId, 'base64'),
      baseURL: l.baseUrl,
      publicKey: createPublicKey({ key: Buffer.from(l.publicKey.rawBytes, 'base64'), format: 'der', type: l.publicKey.keyDetails?.startsWith('PKCS1_') ? 'pkcs1' : 'spki' }),
      validFor: span(l.publicKey.validFor),
    });
    const material: TrustMaterial = {
      certificateAuthorities: root.certificateAuthorities.map(ca),
      timestampAuthorities: root.timestampAuthorities.map(ca),
      tlogs: root.tlogs.map(log),
      ctlogs: root.ctlogs.map(log),
      publicKey: (hint) => {
        throw new VerificationError({ code: 'PUBLIC_KEY_ERROR', message: `a trusted root holds no key for hint ${hint}` });
      },
    };
    if (material.certificateAuthorities.length === 0) return { problem: { code: 'bad-trusted-root', detail: 'it names no certificate authority' } };
    if (material.tlogs.length === 0) return { problem: { code: 'bad-trusted-root', detail: 'it names no transparency log' } };
    return { material, ctlogs: material.ctlogs.length };
  } catch (e) {
    return { problem: { code: 'bad-trusted-root', detail: `a certificate or key in it cannot be parsed (${(e as Error).message})` } };
  }
}

function problemOf(e: unknown): OmsProblem {
  if (e instanceof PolicyError) return { code: 'untrusted-identity', detail: e.message };
  if (e instanceof VerificationError) {
    const cause = e.cause instanceof Error ? `: ${e.cause.message}` : '';
    switch (e.code) {
      case 'CERTIFICATE_ERROR':
        return { code: 'certificate-invalid', detail: `${e.message}${cause}` };
      case 'SIGNATURE_ERROR':
      case 'PUBLIC_KEY_ERROR':
        return { code: 'signature-invalid', detail: e.message };
      case 'TIMESTAMP_ERROR':
        return { code: 'tlog-invalid', detail: `${e.message} (a verified transparency-log entry with an inclusion promise, or a timestamp, is required)` };
      default:
        return { code: 'tlog-invalid', detail: `${e.code}: ${e.message}` };
    }
  }
  return { code: 'bad-bundle', detail: (e as Error).message ?? String(e) };
}

/**
 * A certificate bundle, verified offline with @sigstore/verify against the pinned trust
 * material, then its identity against the expected one. Without an expected identity and
 * issuer the signature is not counted as verified: anyone can get a certificate from a
 * public Sigstore instance, so it is the identity that carries the trust.
 */
export function checkCertificateSignature(json: unknown, bundle: BundleShape, trust: { material: TrustMaterial; ctlogs: number }, expect: { identity?: string | undefined; issuer?: string | undefined }): SignatureCheck {
  const claimed = certificateSigner(bundle);
  const warnings: string[] = [];
  if (bundle.dsseEnvelope.payloadType !== IN_TOTO_PAYLOAD_TYPE) return { ok: false, signer: claimed, problems: [{ code: 'bad-statement', detail: `payloadType ${bundle.dsseEnvelope.payloadType}` }], warnings };
  if ((bundle.verificationMaterial.tlogEntries ?? []).length === 0) {
    const detail = 'a certificate signature with no transparency-log entry (model_signing\'s `certificate` method, a private PKI): only Sigstore certificates, logged in a transparency log the trusted root names, are verified here';
    return { ok: false, signer: claimed, problems: [{ code: 'tlog-invalid', detail }], warnings };
  }
  let signer;
  try {
    const b = bundleFromJSON(json);
    assertBundle(b);
    const entity = toSignedEntity(b);
    signer = new Verifier(trust.material, { tlogThreshold: 1, ctlogThreshold: trust.ctlogs > 0 ? 1 : 0, timestampThreshold: 1 }).verify(entity);
  } catch (e) {
    return { ok: false, signer: claimed, problems: [problemOf(e)], warnings };
  }
  if (trust.ctlogs === 0) warnings.push('the trusted root lists no CT log: certificate transparency (SCTs) was not checked');
  const identity = signer.identity?.subjectAlternativeName;
  const issuer = signer.identity?.extensions?.issuer;
  const verifiedSigner = { ...(identity !== undefined ? { identity } : {}), ...(issuer !== undefined ? { issuer } : {}) };
  const problems: OmsProblem[] = [];
  if (expect.identity === undefined || expect.issuer === undefined) {
    problems.push({ code: 'identity-not-pinned', detail: `the certificate is valid under the pinned root, but no expected ${expect.identity === undefined ? 'identity' : 'issuer'} was given: name who must have signed (identity ${identity ?? '?'}, issuer ${issuer ?? '?'})` });
  }
  if (expect.identity !== undefined && expect.identity !== identity) problems.push({ code: 'untrusted-identity', detail: `signed by ${identity ?? 'no identity'}, expected ${expect.identity}` });
  if (expect.issuer !== undefined && expect.issuer !== issuer) problems.push({ code: 'untrusted-identity', detail: `issuer ${issuer ?? 'none'}, expected ${expect.issuer}` });
  return { ok: problems.length === 0, signer: verifiedSigner, problems, warnings };
}
