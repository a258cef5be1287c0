import { buildStatement } from '../../src/statement/build.js';
import { OMS_SIGNATURE_TYPE } from '../../src/statement/predicates.js';
import type { Statement } from '../../src/statement/statement.js';
import { VERSION } from '../version.js';
import { INSPECTOR_REVISION } from './inspect/constants.js';
import type { ScannedFile, ScannedModel } from './scan.js';

/** The payload finding kinds a scan's findings are published as. */
const PAYLOAD_KIND = {
  'dangerous-import': 'pickle-exec',
  'path-escape': 'malicious-code',
  'zip-bomb': 'malicious-code',
  'embedded-code': 'suspicious',
  'suspicious-import': 'suspicious',
  'unresolved-import': 'suspicious',
  malformed: 'suspicious',
  'template-code': 'malicious-code',
  'dangerous-op': 'malicious-code',
  'signature-invalid': 'suspicious',
} as const;

/** The inspector, as signed findings name it: chorus at its version, and the inspector's revision. */
export const SCANNER = { name: 'chorus', version: `${VERSION}+inspect.${INSPECTOR_REVISION}` } as const;

/** A file `findingStatements` signs no payload finding for, and why. */
export interface UnsignedFile {
  readonly model: string;
  readonly file: string;
  readonly why: string;
}

/**
 * The files of a model that get no payload finding: a file that was not read in full cannot
 * be signed clean (SPEC §15: only an inspected file with no finding is clean).
 */
export function unsignedFiles(model: ScannedModel): UnsignedFile[] {
  const out: UnsignedFile[] = [];
  for (const file of model.files) {
    if (file.sha256 === '' || file.tampered) continue;
    if (file.coverage.state !== 'inspected' && !file.findings.some((finding) => finding.kind in PAYLOAD_KIND)) {
      out.push({ model: model.name, file: file.name, why: `${file.coverage.state}: ${file.coverage.reasons[0] ?? file.format}` });
    }
  }
  return out;
}

const SEVERITY_ORDER = ['critical', 'high', 'medium', 'low', 'info'] as const;

/**
 * The statements `chorus scan --attest` signs for one model (SPEC §6.2 predicates): for each
 * model file, a `payload` finding (the worst of what static inspection found, or `clean` —
 * only for a file inspected in full; a file not read gets none, see {@link unsignedFiles});
 * a `license` finding where the file's metadata names a license; a `lineage` claim where
 * its metadata names a base model by sha256. Scanner: chorus at this version.
 */
export function findingStatements(model: ScannedModel, issuer: string, now: Date): Statement[] {
  const out: Statement[] = [];
  for (const file of model.files) {
    if (file.sha256 === '') continue;
    const payload = payloadFields(file);
    // Nothing established, nothing signed: an unread file gets no payload finding at all.
    if (payload === undefined && file.format === 'unknown') continue;
    const subjects = [{ name: cut(plain(`${model.name}${model.files.length > 1 ? `/${file.name}` : ''}`), 256) || file.sha256, digest: { sha256: file.sha256 } }];
    const build = (kind: 'payload' | 'license' | 'lineage', fields: Record<string, unknown>): Statement => buildStatement({ kind, subjects, fields, issuer, issuedAt: now });
    if (payload !== undefined) out.push(build('payload', payload));
    const license = licenseOf(file);
    if (license !== undefined) {
      out.push(build('license', { declared: license, detected: [license], verdict: 'compliant', notes: `declared in the file's ${file.format} metadata; chorus scan found no other license` }));
    }
    const bases = baseDigests(file);
    if (bases.length > 0) out.push(build('lineage', { derivedFrom: bases.map((digest) => ({ digest: { sha256: digest }, relation: 'fine-tuned' })), notes: 'named as a base model in the file\'s metadata' }));
  }
  return out;
}

/** The payload finding for one file, or undefined when nothing may be signed (not read in full, nothing found). */
function payloadFields(file: ScannedFile): Record<string, unknown> | undefined {
  const scanner = { ...SCANNER };
  if (file.tampered) {
    return { scanner, finding: { kind: 'malicious-code', description: `content does not match its name: named sha256 ${file.tampered.claimed}, content ${file.tampered.actual}`.slice(0, 4096) }, severity: 'critical' };
  }
  const counted = file.findings.filter((finding) => finding.kind in PAYLOAD_KIND);
  if (counted.length === 0) {
    if (file.coverage.state !== 'inspected') return undefined;
    return { scanner, finding: { kind: 'clean', description: `static inspection (${file.format}, chorus inspector revision ${INSPECTOR_REVISION}) read every part and found nothing dangerous` }, severity: 'info' };
  }
  const worst = SEVERITY_ORDER.find((severity) => counted.some((finding) => finding.severity === severity)) ?? 'low';
  const lead = counted.find((finding) => finding.severity === worst) as (typeof counted)[number];
  const description = cut(plain(counted.slice(0, 20).map((finding) => `${finding.path ? `${finding.path}: ` : ''}${finding.detail}`).join('; ')), 4096);
  return { scanner, finding: { kind: PAYLOAD_KIND[lead.kind as keyof typeof PAYLOAD_KIND], ...(lead.path ? { path: cut(plain(lead.path), 1024) } : {}), description }, severity: worst };
}

/**
 * The statements a model's signature earns under `scan --attest`, only when it was checked
 * against a key or trusted root the user pinned: verified, a `provenance` attestation naming the
 * signer (subjects: the signed model's digest and each signed file's); a signature that holds
 * over files that do not match it, a `payload` finding (the model changed after it was signed).
 * An unpinned signature proves nothing and earns nothing.
 */
export function signatureStatements(model: ScannedModel, issuer: string, now: Date): Statement[] {
  const sig = model.signature;
  if (sig === undefined || !sig.pinned) return [];
  const verification = sig.verification;
  if (verification.verified) {
    const digests = [verification.modelDigest?.replace(/^sha256:/, ''), ...verification.files.map((file) => file.actual ?? file.expected)].filter((sha): sha is string => sha !== undefined && /^[0-9a-f]{64}$/.test(sha));
    const subjects = [...new Set(digests)].slice(0, 64).map((sha, i) => ({ name: cut(plain(i === 0 && verification.modelDigest !== undefined ? model.name : `${model.name}/${verification.files.find((file) => (file.actual ?? file.expected) === sha)?.name ?? sha}`), 256) || sha, digest: { sha256: sha } }));
    if (subjects.length === 0) return [];
    const signer = defined({ identity: verification.signer.identity && cut(plain(verification.signer.identity), 256), oidcIssuer: verification.signer.issuer && cut(plain(verification.signer.issuer), 256), keyFingerprint: verification.signer.publicKeyFingerprint && cut(plain(verification.signer.publicKeyFingerprint), 256) });
    if (signer['identity'] === undefined && signer['keyFingerprint'] === undefined) return [];
    return [buildStatement({ kind: 'provenance', subjects, issuer, issuedAt: now, fields: { signatureType: OMS_SIGNATURE_TYPE, method: verification.method, signer, files: Math.max(1, verification.files.length), notes: `OpenSSF model signing signature ${cut(plain(sig.path.split('/').at(-1) ?? 'model.sig'), 200)} verified offline by chorus ${SCANNER.version}; every file re-hashed` } })];
  }
  // A signature that fails against the pinned key may be someone else's, or the wrong key: that
  // is the user's to see, not evidence to spread. A signature that holds over files that do not
  // match it is: the model was changed after it was signed.
  if (!verification.signatureVerified) return [];
  const digest = model.digest;
  if (!/^[0-9a-f]{64}$/.test(digest)) return [];
  const description = cut(plain(`files do not match the model signature that ${verification.signer.identity ?? verification.signer.publicKeyFingerprint ?? 'its signer'} signed: ${verification.problems.slice(0, 10).map((problem) => `${problem.code}: ${problem.detail}`).join('; ')}`), 4096);
  return [buildStatement({ kind: 'payload', subjects: [{ name: cut(plain(model.name), 256) || digest, digest: { sha256: digest } }], issuer, issuedAt: now, fields: { scanner: { ...SCANNER }, finding: { kind: 'suspicious', description }, severity: 'high' } })];
}

function defined(fields: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(fields).filter((entry): entry is [string, string] => entry[1] !== undefined));
}

/** Text from a file, before it is signed: no control or bidirectional-override characters. */
function plain(text: string): string {
  // eslint-disable-next-line no-control-regex -- the point is to remove them
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '');
}

/** Cuts at `n` UTF-16 units without splitting a surrogate pair. */
function cut(text: string, max: number): string {
  const head = text.slice(0, max);
  return /[\ud800-\udbff]$/.test(head) ? head.slice(0, -1) : head;
}

function licenseOf(file: ScannedFile): string | undefined {
  const meta = file.meta as { license?: unknown; metadata?: Record<string, unknown> };
  const license = typeof meta.license === 'string' ? meta.license : typeof meta.metadata?.['license'] === 'string' ? meta.metadata['license'] : undefined;
  const text = license === undefined ? '' : cut(plain(license).trim(), 512);
  return text === '' ? undefined : text;
}

function baseDigests(file: ScannedFile): string[] {
  const bases = (file.meta as { baseModels?: Record<string, unknown>[] }).baseModels ?? [];
  const out = new Set<string>();
  for (const base of bases.slice(0, 64)) {
    for (const value of Object.values(base)) {
      const match = typeof value === 'string' ? /(?:^|sha256:)([0-9a-f]{64})$/.exec(value) : null;
      if (match?.[1] !== undefined) out.add(match[1]);
    }
  }
  return [...out];
}
