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
export function unsignedFiles(m: ScannedModel): UnsignedFile[] {
  const out: UnsignedFile[] = [];
  for (const f of m.files) {
    if (f.sha256 === '' || f.tampered) continue;
    if (f.coverage.state !== 'inspected' && !f.findings.some((x) => x.kind in PAYLOAD_KIND)) {
      out.push({ model: m.name, file: f.name, why: `${f.coverage.state}: ${f.coverage.reasons[0] ?? f.format}` });
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
export function findingStatements(m: ScannedModel, issuer: string, now: Date): Statement[] {
  const out: Statement[] = [];
  for (const f of m.files) {
    if (f.sha256 === '') continue;
    const payload = payloadFields(f);
    // Nothing established, nothing signed: an unread file gets no payload finding at all.
    if (payload === undefined && f.format === 'unknown') continue;
    const subjects = [{ name: cut(plain(`${m.name}${m.files.length > 1 ? `/${f.name}` : ''}`), 256) || f.sha256, digest: { sha256: f.sha256 } }];
    const build = (kind: 'payload' | 'license' | 'lineage', fields: Record<string, unknown>): Statement => buildStatement({ kind, subjects, fields, issuer, issuedAt: now });
    if (payload !== undefined) out.push(build('payload', payload));
    const license = licenseOf(f);
    if (license !== undefined) {
      out.push(build('license', { declared: license, detected: [license], verdict: 'compliant', notes: `declared in the file's ${f.format} metadata; chorus scan found no other license` }));
    }
    const bases = baseDigests(f);
    if (bases.length > 0) out.push(build('lineage', { derivedFrom: bases.map((d) => ({ digest: { sha256: d }, relation: 'fine-tuned' })), notes: 'named as a base model in the file\'s metadata' }));
  }
  return out;
}

/** The payload finding for one file, or undefined when nothing may be signed (not read in full, nothing found). */
function payloadFields(f: ScannedFile): Record<string, unknown> | undefined {
  const scanner = { ...SCANNER };
  if (f.tampered) {
    return { scanner, finding: { kind: 'malicious-code', description: `content does not match its name: named sha256 ${f.tampered.claimed}, content ${f.tampered.actual}`.slice(0, 4096) }, severity: 'critical' };
  }
  const counted = f.findings.filter((x) => x.kind in PAYLOAD_KIND);
  if (counted.length === 0) {
    if (f.coverage.state !== 'inspected') return undefined;
    return { scanner, finding: { kind: 'clean', description: `static inspection (${f.format}, chorus inspector revision ${INSPECTOR_REVISION}) read every part and found nothing dangerous` }, severity: 'info' };
  }
  const worst = SEVERITY_ORDER.find((s) => counted.some((x) => x.severity === s)) ?? 'low';
  const lead = counted.find((x) => x.severity === worst) as (typeof counted)[number];
  const description = cut(plain(counted.slice(0, 20).map((x) => `${x.path ? `${x.path}: ` : ''}${x.detail}`).join('; ')), 4096);
  return { scanner, finding: { kind: PAYLOAD_KIND[lead.kind as keyof typeof PAYLOAD_KIND], ...(lead.path ? { path: cut(plain(lead.path), 1024) } : {}), description }, severity: worst };
}

/**
 * The statements a model's signature earns under `scan --attest`, only when it was checked
 * against a key or trusted root the user pinned: verified, a `provenance` attestation naming the
 * signer (subjects: the signed model's digest and each signed file's); a signature that holds
 * over files that do not match it, a `payload` finding (the model changed after it was signed).
 * An unpinned signature proves nothing and earns nothing.
 */
export function signatureStatements(m: ScannedModel, issuer: string, now: Date): Statement[] {
  const sig = m.signature;
  if (sig === undefined || !sig.pinned) return [];
  const v = sig.verification;
  if (v.verified) {
    const digests = [v.modelDigest?.replace(/^sha256:/, ''), ...v.files.map((f) => f.actual ?? f.expected)].filter((d): d is string => d !== undefined && /^[0-9a-f]{64}$/.test(d));
    const subjects = [...new Set(digests)].slice(0, 64).map((d, i) => ({ name: cut(plain(i === 0 && v.modelDigest !== undefined ? m.name : `${m.name}/${v.files.find((f) => (f.actual ?? f.expected) === d)?.name ?? d}`), 256) || d, digest: { sha256: d } }));
    if (subjects.length === 0) return [];
    const signer = defined({ identity: v.signer.identity && cut(plain(v.signer.identity), 256), oidcIssuer: v.signer.issuer && cut(plain(v.signer.issuer), 256), keyFingerprint: v.signer.publicKeyFingerprint && cut(plain(v.signer.publicKeyFingerprint), 256) });
    if (signer['identity'] === undefined && signer['keyFingerprint'] === undefined) return [];
    return [buildStatement({ kind: 'provenance', subjects, issuer, issuedAt: now, fields: { signatureType: OMS_SIGNATURE_TYPE, method: v.method, signer, files: Math.max(1, v.files.length), notes: `OpenSSF model signing signature ${cut(plain(sig.path.split('/').at(-1) ?? 'model.sig'), 200)} verified offline by chorus ${SCANNER.version}; every file re-hashed` } })];
  }
  // A signature that fails against the pinned key may be someone else's, or the wrong key: that
  // is the user's to see, not evidence to spread. A signature that holds over files that do not
  // match it is: the model was changed after it was signed.
  if (!v.signatureVerified) return [];
  const digest = m.digest;
  if (!/^[0-9a-f]{64}$/.test(digest)) return [];
  const description = cut(plain(`files do not match the model signature that ${v.signer.identity ?? v.signer.publicKeyFingerprint ?? 'its signer'} signed: ${v.problems.slice(0, 10).map((p) => `${p.code}: ${p.detail}`).join('; ')}`), 4096);
  return [buildStatement({ kind: 'payload', subjects: [{ name: cut(plain(m.name), 256) || digest, digest: { sha256: digest } }], issuer, issuedAt: now, fields: { scanner: { ...SCANNER }, finding: { kind: 'suspicious', description }, severity: 'high' } })];
}

function defined(o: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(o).filter((e): e is [string, string] => e[1] !== undefined));
}

/** Text from a file, before it is signed: no control or bidirectional-override characters. */
function plain(text: string): string {
  // eslint-disable-next-line no-control-regex -- the point is to remove them
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '');
}

/** Cuts at `n` UTF-16 units without splitting a surrogate pair. */
function cut(text: string, n: number): string {
  const t = text.slice(0, n);
  return /[\ud800-\udbff]$/.test(t) ? t.slice(0, -1) : t;
}

function licenseOf(f: ScannedFile): string | undefined {
  const m = f.meta as { license?: unknown; metadata?: Record<string, unknown> };
  const l = typeof m.license === 'string' ? m.license : typeof m.metadata?.['license'] === 'string' ? m.metadata['license'] : undefined;
  const text = l === undefined ? '' : cut(plain(l).trim(), 512);
  return text === '' ? undefined : text;
}

function baseDigests(f: ScannedFile): string[] {
  const bases = (f.meta as { baseModels?: Record<string, unknown>[] }).baseModels ?? [];
  const out = new Set<string>();
  for (const b of bases.slice(0, 64)) {
    for (const v of Object.values(b)) {
      const m = typeof v === 'string' ? /(?:^|sha256:)([0-9a-f]{64})$/.exec(v) : null;
      if (m?.[1] !== undefined) out.add(m[1]);
    }
  }
  return [...out];
}
