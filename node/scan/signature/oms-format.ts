/**
 * The OpenSSF model signing (OMS, `model_signing` v1.0, github.com/sigstore/model-transparency)
 * signature format, as that package writes and reads it:
 *
 * - The signature file (default `model.sig`, next to the model files) is a Sigstore bundle in
 *   JSON (`application/vnd.dev.sigstore.bundle.v0.3+json`) whose content is a DSSE envelope
 *   (`payloadType` `application/vnd.in-toto+json`, one signature over the DSSE v1 PAE).
 * - The payload is an in-toto Statement v1 with predicateType
 *   `https://model_signing/signature/v1.0`: one subject (the model's name and a sha256 over the
 *   raw bytes of every resource digest, in the order the predicate lists them) and a predicate
 *   `{ serialization: { method: 'files' | 'shards', hash_type, allow_symlinks, shard_size?,
 *   ignore_paths? }, resources: [{ name, algorithm, digest }] }`. A shard's name is
 *   `path:start:end`. Verifiers of v1.0 ignore other predicate fields.
 * - Key-based signing: `verificationMaterial.publicKey.hint` is the hex sha256 of the public
 *   key's SubjectPublicKeyInfo PEM; no certificate, no transparency log. ECDSA over the PAE
 *   with SHA-256/384/512 for P-256/384/521, DER signature.
 * - Sigstore (keyless): a Fulcio certificate, a Rekor `dsse` entry with an inclusion proof,
 *   checkpoint and inclusion promise (SET).
 *
 * Everything in a signature file is untrusted input: these schemas bound it before use.
 */
import { z } from 'zod';

export const OMS_PREDICATE_TYPE = 'https://model_signing/signature/v1.0';
/** The pre-1.0 (v0.2 release) predicate: a subject per file, no serialization record. Not verified here. */
export const OMS_PREDICATE_TYPE_V01 = 'https://model_signing/Digests/v0.1';
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
export const IN_TOTO_STATEMENT_V1 = 'https://in-toto.io/Statement/v1';
export const DEFAULT_SIGNATURE_NAME = 'model.sig';
/** Paths `model_signing` ignores by default when it hashes a model (ignore_git_paths=True). */
export const OMS_GIT_PATHS = ['.git', '.gitattributes', '.github', '.gitignore'] as const;

/** Bounds on what a signature file may make us parse, read or walk. */
export interface OmsLimits {
  /** Largest signature (bundle) file read, in bytes. */
  readonly maxSignatureBytes: number;
  /** Most resources (files or shards) a predicate may list. */
  readonly maxResources: number;
  /** Longest resource name, in UTF-8 bytes. */
  readonly maxNameBytes: number;
  /** Most directory entries visited while looking for files the signature does not cover. */
  readonly maxWalkEntries: number;
  /** Largest trusted_root.json or public key file read, in bytes. */
  readonly maxTrustFileBytes: number;
}

export const DEFAULT_OMS_LIMITS: OmsLimits = {
  maxSignatureBytes: 1024 * 1024,
  maxResources: 100_000,
  maxNameBytes: 4096,
  maxWalkEntries: 200_000,
  maxTrustFileBytes: 1024 * 1024,
};

/** Stable codes for what stops a signature from verifying. */
export const OMS_PROBLEM_CODES = [
  'too-large', // the signature file is larger than the limit
  'bad-bundle', // unreadable, not JSON, not a Sigstore bundle with a DSSE envelope
  'bad-statement', // the DSSE payload is not an in-toto Statement v1 as OMS writes it
  'wrong-predicate-type', // not https://model_signing/signature/v1.0
  'unsupported-serialization', // a hash type or method this verifier does not recompute
  'bad-resource', // a resource name or digest that is malformed, duplicated, or leaves the model dir
  'too-many-resources',
  'subject-digest-mismatch', // the subject digest is not the digest of the listed resources
  'no-trust-material', // nothing given to verify this kind of signature against
  'bad-key', // the public key given cannot be used
  'bad-trusted-root', // the trusted_root.json given cannot be used
  'key-mismatch', // the bundle's key hint names another key
  'signature-invalid', // the signature does not verify
  'certificate-invalid', // the certificate does not chain to the pinned root (or its SCT fails)
  'tlog-invalid', // the transparency log entry, its inclusion proof or promise does not verify
  'identity-not-pinned', // a certificate signature verified, but no expected identity/issuer was given
  'untrusted-identity', // the certificate names another identity or issuer than expected
  'file-missing', // listed, not on disk
  'file-mismatch', // listed, on disk, different content
  'file-unreadable',
  'file-extra', // on disk, not covered by the signature (and not ignored)
  'symlink', // a symbolic link where the signature does not allow them, or one leaving the model dir
  'limit', // a bound was reached: the check is incomplete
  'model-dir-unreadable',
] as const;

export type OmsProblemCode = (typeof OMS_PROBLEM_CODES)[number];

export const omsVerificationSchema = z.strictObject({
  /** True only when the signature verifies against the trust given AND every file matches. */
  verified: z.boolean(),
  /** True when the signature itself verified (the files may still differ). */
  signatureVerified: z.boolean(),
  method: z.enum(['key', 'certificate']),
  signer: z.strictObject({
    /** Certificate: the subject alternative name (email or URI). Claimed unless signatureVerified. */
    identity: z.string().optional(),
    /** Certificate: the OIDC issuer extension (1.3.6.1.4.1.57264.1.8, else .1.1). */
    issuer: z.string().optional(),
    /** Key: the bundle's publicKey.hint (hex sha256 of the key's SPKI PEM, as OMS writes it). */
    keyHint: z.string().optional(),
    /** Key: the same fingerprint computed from the key given to verify with. */
    publicKeyFingerprint: z.string().optional(),
  }),
  files: z.array(z.strictObject({ name: z.string(), ok: z.boolean(), expected: z.string(), actual: z.string().optional() })),
  problems: z.array(z.strictObject({ code: z.enum(OMS_PROBLEM_CODES), detail: z.string() })),
  /** sha256:<hex> of the statement's subject, once it is consistent with the listed resources. */
  modelDigest: z.string().optional(),
  /** The statement's subject name (informative only: OMS does not sign the directory name). */
  modelName: z.string().optional(),
  /** Notes that do not stop verification (e.g. a key-based bundle without a key hint). */
  warnings: z.array(z.string()),
});

export type OmsVerification = z.infer<typeof omsVerificationSchema>;
export type OmsProblem = OmsVerification['problems'][number];
export type OmsFileResult = OmsVerification['files'][number];

const base64 = z.string().max(64 * 1024 * 1024).regex(/^[A-Za-z0-9+/_-]*={0,2}$/, 'not base64');

/** The part of a Sigstore bundle (protobuf JSON) this verifier reads before handing it on. */
export const bundleShape = z.looseObject({
  mediaType: z.string().max(200),
  verificationMaterial: z.looseObject({
    publicKey: z.looseObject({ hint: z.string().max(512).nullish() }).optional(),
    certificate: z.looseObject({ rawBytes: base64 }).optional(),
    x509CertificateChain: z.looseObject({ certificates: z.array(z.looseObject({ rawBytes: base64 })).max(16) }).optional(),
    tlogEntries: z.array(z.unknown()).max(64).optional(),
  }),
  dsseEnvelope: z.looseObject({
    payload: base64,
    payloadType: z.string().max(200),
    signatures: z.array(z.looseObject({ sig: base64, keyid: z.string().max(512).nullish() })).min(1).max(16),
  }),
});
export type BundleShape = z.infer<typeof bundleShape>;

/** Sigstore bundle media types: v0.1 to v0.3, in both spellings. */
export function isBundleMediaType(t: string): boolean {
  return /^application\/vnd\.dev\.sigstore\.bundle\.v0\.[123]\+json$/.test(t) || /^application\/vnd\.dev\.sigstore\.bundle\+json;version=0\.[12]$/.test(t);
}

const hex = (n: number): z.ZodString => z.string().regex(new RegExp(`^[0-9a-f]{${n}}$`), `expected ${n} lowercase hex digits`);

export const statementShape = z.looseObject({
  _type: z.string().max(200),
  subject: z.array(z.looseObject({ name: z.string().max(4096).optional(), digest: z.record(z.string().max(64), z.string().max(256)) })).max(16),
  predicateType: z.string().max(200),
  predicate: z.unknown(),
});

export const predicateShape = z.looseObject({
  serialization: z.looseObject({
    method: z.string().max(64),
    hash_type: z.string().max(64),
    allow_symlinks: z.boolean(),
    // protobuf Struct numbers are doubles; an integral value may print as 1e9 or 1000000000.0.
    shard_size: z.number().int().positive().optional(),
    ignore_paths: z.array(z.string().max(4096)).max(10_000).optional(),
  }),
  resources: z.array(z.unknown()),
});
export type OmsSerialization = z.infer<typeof predicateShape>['serialization'];

export const resourceShape = z.looseObject({ name: z.string(), algorithm: z.string().max(64), digest: z.string().max(256) });
export const sha256Hex = hex(64);

/** The parts of a Sigstore trusted_root.json (protobuf JSON) the offline verifier needs. */
const validFor = z.looseObject({ start: z.iso.datetime({ offset: true }).optional(), end: z.iso.datetime({ offset: true }).optional() }).optional();
const logInstance = z.looseObject({
  baseUrl: z.string().max(2048).default(''),
  publicKey: z.looseObject({ rawBytes: base64, keyDetails: z.string().max(64).optional(), validFor }),
  logId: z.looseObject({ keyId: base64 }),
  checkpointKeyId: z.looseObject({ keyId: base64 }).optional(),
});
const certAuthority = z.looseObject({
  uri: z.string().max(2048).optional(),
  certChain: z.looseObject({ certificates: z.array(z.looseObject({ rawBytes: base64 })).min(1).max(16) }),
  validFor,
});
export const trustedRootShape = z.looseObject({
  mediaType: z.string().max(200).regex(/^application\/vnd\.dev\.sigstore\.trustedroot/, 'not a Sigstore trusted root'),
  tlogs: z.array(logInstance).max(64).default([]),
  certificateAuthorities: z.array(certAuthority).max(64).default([]),
  ctlogs: z.array(logInstance).max(64).default([]),
  timestampAuthorities: z.array(certAuthority).max(64).default([]),
});
export type TrustedRootShape = z.infer<typeof trustedRootShape>;

/** A zod error as one short line. */
export function zodDetail(e: z.ZodError): string {
  const i = e.issues[0];
  return i ? `${i.path.length > 0 ? i.path.join('.') + ': ' : ''}${i.message}` : 'invalid';
}
