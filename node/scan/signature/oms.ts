/**
 * OpenSSF model signing (OMS v1.0) signatures on a model directory: find the signature file,
 * verify it offline against the trust the user pins (a public key, or a Sigstore
 * trusted_root.json plus the expected identity), and recompute every file it lists.
 *
 * Never throws on bad input: a malformed bundle, a wrong key, a changed or missing file, an
 * unreadable directory are all problems in the result, each with a stable code.
 */
import { open, readdir, realpath, stat } from 'node:fs/promises';
import { join, relative, isAbsolute, sep } from 'node:path';
import { checkCertificateSignature, checkKeySignature, loadOmsPublicKey, trustMaterialFrom, certificateSigner, type SignatureCheck } from './oms-crypto.js';
import { OPEN_READ, checkResources, findUncovered, ignoreList, parseResources, subjectDigestOf } from './oms-files.js';
import {
  DEFAULT_OMS_LIMITS,
  DEFAULT_SIGNATURE_NAME,
  IN_TOTO_PAYLOAD_TYPE,
  IN_TOTO_STATEMENT_V1,
  OMS_PREDICATE_TYPE,
  OMS_PREDICATE_TYPE_V01,
  bundleShape,
  isBundleMediaType,
  predicateShape,
  sha256Hex,
  statementShape,
  zodDetail,
  type BundleShape,
  type OmsLimits,
  type OmsProblem,
  type OmsVerification,
} from './oms-format.js';

export * from './oms-format.js';

/** What to verify a signature against. */
export type OmsTrust =
  /** Key-based signatures: the signer's public key (PEM, or DER SubjectPublicKeyInfo). */
  | { readonly publicKeyPem: string | Buffer }
  /** Sigstore (keyless) signatures: a pinned trusted_root.json and who must have signed. */
  | { readonly trustedRootPath: string; readonly identity?: string; readonly issuer?: string };

export interface VerifyModelSignatureOptions {
  readonly modelDir: string;
  readonly signaturePath: string;
  /** Absent: the signature and files are parsed and compared, but nothing counts as verified. */
  readonly trust?: OmsTrust | undefined;
  readonly limits?: Partial<OmsLimits>;
  /**
   * Symbolic links that resolve inside this directory are read as the files they point to,
   * whatever the signature's allow_symlinks says: a Hugging Face cache repo dir
   * (`models--org--name`), whose snapshot files link to `../../blobs/…`. Links resolving
   * anywhere else follow the signature's rule, and never leave the model dir.
   */
  readonly linkRoot?: string;
}

/** Reads at most `max` bytes of a regular file; `tooLarge` when it holds more. */
export async function readBounded(path: string, max: number): Promise<{ bytes: Buffer } | { tooLarge: number } | { error: string }> {
  let fh;
  try {
    fh = await open(path, OPEN_READ);
  } catch (e) {
    return { error: (e as NodeJS.ErrnoException).code ?? (e as Error).message };
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) return { error: 'not a regular file' };
    if (st.size > max) return { tooLarge: st.size };
    const buf = Buffer.alloc(max + 1);
    let n = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, n, buf.length - n, n);
      if (bytesRead === 0) break;
      n += bytesRead;
      if (n > max) return { tooLarge: n };
    }
    return { bytes: buf.subarray(0, n) };
  } catch (e) {
    return { error: (e as NodeJS.ErrnoException).code ?? (e as Error).message };
  } finally {
    await fh.close();
  }
}

/** A signature file parsed as far as it goes: the bundle, then the OMS statement in it. */
interface ParsedSignature {
  readonly bundle?: BundleShape;
  readonly json?: unknown;
  readonly statement?: { subjectName: string | undefined; subjectDigest: string; predicate: unknown };
  readonly problems: OmsProblem[];
}

function parseSignature(bytes: Buffer): ParsedSignature {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    return { problems: [{ code: 'bad-bundle', detail: `not JSON (${(e as Error).message})` }] };
  }
  const parsedBundle = bundleShape.safeParse(json);
  if (!parsedBundle.success) return { problems: [{ code: 'bad-bundle', detail: `not a Sigstore bundle with a DSSE envelope (${zodDetail(parsedBundle.error)})` }] };
  const bundle = parsedBundle.data;
  if (!isBundleMediaType(bundle.mediaType)) return { problems: [{ code: 'bad-bundle', detail: `media type ${JSON.stringify(bundle.mediaType)} is not a Sigstore bundle's` }] };
  if (bundle.dsseEnvelope.payloadType !== IN_TOTO_PAYLOAD_TYPE) return { bundle, json, problems: [{ code: 'bad-statement', detail: `payloadType ${JSON.stringify(bundle.dsseEnvelope.payloadType)}, expected ${IN_TOTO_PAYLOAD_TYPE}` }] };
  let st: unknown;
  try {
    st = JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString('utf8'));
  } catch {
    return { bundle, json, problems: [{ code: 'bad-statement', detail: 'the DSSE payload is not JSON' }] };
  }
  const statement = statementShape.safeParse(st);
  if (!statement.success) return { bundle, json, problems: [{ code: 'bad-statement', detail: `not an in-toto statement (${zodDetail(statement.error)})` }] };
  if (statement.data._type !== IN_TOTO_STATEMENT_V1) return { bundle, json, problems: [{ code: 'bad-statement', detail: `statement type ${JSON.stringify(statement.data._type)}, expected ${IN_TOTO_STATEMENT_V1}` }] };
  if (statement.data.predicateType !== OMS_PREDICATE_TYPE) {
    const legacy = statement.data.predicateType === OMS_PREDICATE_TYPE_V01 ? ' (the pre-1.0 model_signing format; re-sign with model_signing 1.x)' : '';
    return { bundle, json, problems: [{ code: 'wrong-predicate-type', detail: `predicate type ${JSON.stringify(statement.data.predicateType)}, expected ${OMS_PREDICATE_TYPE}${legacy}` }] };
  }
  const subject = statement.data.subject;
  const digest = subject[0]?.digest['sha256'];
  if (subject.length !== 1 || digest === undefined || !sha256Hex.safeParse(digest.toLowerCase()).success) {
    return { bundle, json, problems: [{ code: 'bad-statement', detail: 'expected exactly one subject with a sha256 digest' }] };
  }
  return { bundle, json, statement: { subjectName: subject[0]?.name, subjectDigest: digest.toLowerCase(), predicate: statement.data.predicate }, problems: [] };
}

function methodOf(bundle: BundleShape | undefined, trust: OmsTrust | undefined): OmsVerification['method'] {
  if (bundle) return bundle.verificationMaterial.certificate || bundle.verificationMaterial.x509CertificateChain ? 'certificate' : 'key';
  return trust !== undefined && 'trustedRootPath' in trust ? 'certificate' : 'key';
}

async function checkSignature(parsed: ParsedSignature, method: OmsVerification['method'], trust: OmsTrust | undefined, limits: OmsLimits): Promise<SignatureCheck> {
  const bundle = parsed.bundle as BundleShape;
  const none = (detail: string, signer: OmsVerification['signer'] = {}): SignatureCheck => ({ ok: false, signer, problems: [{ code: 'no-trust-material', detail }], warnings: [] });
  if (method === 'certificate') {
    const claimed = certificateSigner(bundle);
    if (trust === undefined) return none('no trusted root given: a Sigstore certificate signature is verified against a trusted_root.json you pin (e.g. targets/trusted_root.json from github.com/sigstore/root-signing); nothing was verified', claimed);
    if (!('trustedRootPath' in trust)) return none('the signature is certificate-based (Sigstore); a public key cannot verify it: give a trusted root', claimed);
    const read = await readBounded(trust.trustedRootPath, limits.maxTrustFileBytes);
    if ('tooLarge' in read) return { ok: false, signer: claimed, problems: [{ code: 'bad-trusted-root', detail: `${read.tooLarge} bytes, more than the limit of ${limits.maxTrustFileBytes}` }], warnings: [] };
    if ('error' in read) return { ok: false, signer: claimed, problems: [{ code: 'bad-trusted-root', detail: `cannot read it (${read.error})` }], warnings: [] };
    const material = trustMaterialFrom(read.bytes.toString('utf8'));
    if ('problem' in material) return { ok: false, signer: claimed, problems: [material.problem], warnings: [] };
    return checkCertificateSignature(parsed.json, bundle, material, { identity: trust.identity, issuer: trust.issuer });
  }
  const hint = bundle.verificationMaterial.publicKey?.hint ?? undefined;
  const signer = hint ? { keyHint: hint } : {};
  if (trust === undefined) return none('no public key given: a key-based signature is verified with the signer\'s public key; nothing was verified', signer);
  if (!('publicKeyPem' in trust)) return none('the signature is key-based; a trusted root cannot verify it: give the signer\'s public key', signer);
  const key = loadOmsPublicKey(trust.publicKeyPem);
  if ('problem' in key) return { ok: false, signer, problems: [key.problem], warnings: [] };
  return checkKeySignature(bundle, key.key, key.hash);
}

/**
 * Verifies an OMS v1.0 signature over a model directory. `verified` is true only when the
 * signature verifies against `trust` (for certificates: with the expected identity and
 * issuer) and every file the signature lists matches, with no file left uncovered.
 */
export async function verifyModelSignature(opts: VerifyModelSignatureOptions): Promise<OmsVerification> {
  const limits: OmsLimits = { ...DEFAULT_OMS_LIMITS, ...opts.limits };
  const problems: OmsProblem[] = [];
  const warnings: string[] = [];
  const result = (method: OmsVerification['method'], signer: OmsVerification['signer'], signatureVerified: boolean, extra: Partial<OmsVerification> = {}): OmsVerification => ({
    verified: signatureVerified && problems.length === 0,
    signatureVerified,
    method,
    signer,
    files: [],
    problems,
    warnings,
    ...extra,
  });

  const read = await readBounded(opts.signaturePath, limits.maxSignatureBytes);
  if ('tooLarge' in read) {
    problems.push({ code: 'too-large', detail: `the signature file holds ${read.tooLarge}+ bytes, more than the limit of ${limits.maxSignatureBytes}` });
    return result(methodOf(undefined, opts.trust), {}, false);
  }
  if ('error' in read) {
    problems.push({ code: 'bad-bundle', detail: `cannot read the signature file (${read.error})` });
    return result(methodOf(undefined, opts.trust), {}, false);
  }
  const parsed = parseSignature(read.bytes);
  const method = methodOf(parsed.bundle, opts.trust);
  problems.push(...parsed.problems);
  if (!parsed.bundle) return result(method, {}, false);

  const sig = await checkSignature(parsed, method, opts.trust, limits);
  problems.push(...sig.problems);
  warnings.push(...sig.warnings);
  if (!parsed.statement) return result(method, sig.signer, sig.ok);

  const pred = predicateShape.safeParse(parsed.statement.predicate);
  if (!pred.success) {
    problems.push({ code: 'bad-statement', detail: `the predicate is not OMS v1.0's {serialization, resources} (${zodDetail(pred.error)})` });
    return result(method, sig.signer, sig.ok);
  }
  const ser = pred.data.serialization;
  const modelName = parsed.statement.subjectName;
  const named = modelName !== undefined ? { modelName } : {};
  if (ser.method !== 'files' && ser.method !== 'shards') problems.push({ code: 'unsupported-serialization', detail: `serialization method ${JSON.stringify(ser.method)}` });
  if (ser.hash_type !== 'sha256') problems.push({ code: 'unsupported-serialization', detail: `hash type ${JSON.stringify(ser.hash_type)} (only sha256 is recomputed here)` });
  if (ser.method === 'shards' && ser.shard_size === undefined) problems.push({ code: 'bad-statement', detail: 'shard serialization without a shard_size' });
  const res = parseResources(pred.data.resources, ser, limits);
  problems.push(...res.problems);

  let modelDigest: string | undefined;
  if (res.rawDigests) {
    const computed = subjectDigestOf(res.rawDigests);
    if (computed === parsed.statement.subjectDigest) modelDigest = `sha256:${computed}`;
    else problems.push({ code: 'subject-digest-mismatch', detail: `the subject digest is ${parsed.statement.subjectDigest}, the listed resources hash to ${computed}` });
  }
  const digest = modelDigest !== undefined ? { modelDigest } : {};
  if (problems.some((problem) => problem.code === 'unsupported-serialization' || problem.code === 'too-many-resources')) return result(method, sig.signer, sig.ok, { ...named, ...digest });

  let realRoot: string;
  try {
    realRoot = await realpath(opts.modelDir);
    if (!(await stat(realRoot)).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
  } catch (e) {
    problems.push({ code: 'model-dir-unreadable', detail: `${opts.modelDir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` });
    return result(method, sig.signer, sig.ok, { ...named, ...digest });
  }
  const linkRoot = opts.linkRoot === undefined ? undefined : await realpath(opts.linkRoot).catch(() => undefined);
  const checked = await checkResources(realRoot, res.resources, ser, linkRoot);
  problems.push(...checked.problems);

  let signatureRel: string | undefined;
  try {
    const rel = relative(realRoot, await realpath(opts.signaturePath));
    if (rel !== '' && !rel.startsWith('..') && !isAbsolute(rel)) signatureRel = rel.split(sep).join('/');
  } catch {
    // read above; a race that removed it leaves nothing to ignore
  }
  const ig = ignoreList(ser, signatureRel);
  problems.push(...ig.problems);
  problems.push(...(await findUncovered(realRoot, new Set(res.resources.map((resource) => resource.path)), ig.ignore, ser, limits, linkRoot)));
  return result(method, sig.signer, sig.ok, { files: checked.files, ...named, ...digest });
}

export interface SignatureCandidate {
  readonly path: string;
  /** oms: an OMS v1.0 bundle; oms-legacy: the pre-1.0 format; not-oms: some other file. */
  readonly kind: 'oms' | 'oms-legacy' | 'not-oms' | 'too-large' | 'unreadable';
  readonly detail?: string;
}

export interface FoundSignature {
  /** The signature to verify: `model.sig` when it is an OMS bundle, else the first `*.sig` that is. */
  readonly signaturePath?: string;
  readonly candidates: SignatureCandidate[];
  /** Set when the directory itself cannot be listed. */
  readonly error?: string;
}

/** At most this many `*.sig` files are opened while looking for the signature. */
const MAX_CANDIDATES = 32;

/**
 * Looks for an OMS signature in a model directory: `model.sig`, then the other `*.sig` files
 * at its top level (by name), each read only up to the signature size limit.
 */
export async function findModelSignature(dir: string, limits: Partial<OmsLimits> = {}): Promise<FoundSignature> {
  const max = limits.maxSignatureBytes ?? DEFAULT_OMS_LIMITS.maxSignatureBytes;
  let names: string[];
  try {
    names = (await readdir(dir, { withFileTypes: true })).filter((entry) => (entry.isFile() || entry.isSymbolicLink()) && entry.name.endsWith('.sig')).map((entry) => entry.name);
  } catch (e) {
    return { candidates: [], error: (e as NodeJS.ErrnoException).code ?? (e as Error).message };
  }
  names.sort((a, b) => (a === DEFAULT_SIGNATURE_NAME ? -1 : b === DEFAULT_SIGNATURE_NAME ? 1 : a < b ? -1 : a > b ? 1 : 0));
  const candidates: SignatureCandidate[] = [];
  for (const name of names.slice(0, MAX_CANDIDATES)) {
    const path = join(dir, name);
    const read = await readBounded(path, max);
    if ('tooLarge' in read) candidates.push({ path, kind: 'too-large', detail: `${read.tooLarge}+ bytes, more than the limit of ${max}` });
    else if ('error' in read) candidates.push({ path, kind: 'unreadable', detail: read.error });
    else {
      const parsed = parseSignature(read.bytes);
      const first = parsed.problems[0];
      if (parsed.statement) candidates.push({ path, kind: 'oms' });
      else if (first?.code === 'wrong-predicate-type' && first.detail.includes(OMS_PREDICATE_TYPE_V01)) candidates.push({ path, kind: 'oms-legacy', detail: first.detail });
      else candidates.push({ path, kind: 'not-oms', detail: first?.detail ?? 'not an OMS signature' });
    }
  }
  const found = candidates.find((candidate) => candidate.kind === 'oms');
  return { ...(found ? { signaturePath: found.path } : {}), candidates };
}
