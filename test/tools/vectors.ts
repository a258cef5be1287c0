import { createHash } from 'node:crypto';
import * as ed from '@noble/ed25519';
import { sha512 } from '@noble/hashes/sha2.js';
import { concatBytes, encodeBase64, toHex, utf8 } from '../../src/encoding/bytes.js';
import { pae, PAYLOAD_TYPE } from '../../src/dsse/pae.js';
import { didKeyFromPublicKey } from '../../src/identity/did-key.js';
import { base58 } from '@scure/base';
import { PREDICATES, type PredicateKind } from '../../src/statement/predicates.js';
import { rootDigest } from '../../src/digest/model-digest.js';
import { referenceSuite } from '../../src/crypto/reference-suite.js';
import { endorsementSubject } from '../../src/statement/endorsement-subject.js';
import { STATEMENT_TYPE } from '../../src/statement/statement.js';

ed.hashes.sha512 = sha512;

/*
 * Builds protocol/vectors/*.json deterministically (fixed seeds, fixed times; Ed25519
 * signing is deterministic), so a test can rebuild them and fail on drift.
 */

const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const sha256 = (b: Uint8Array): Uint8Array => new Uint8Array(createHash('sha256').update(b).digest());
const seed = (label: string): Uint8Array => sha256(utf8.encode(`chorus test vector seed: ${label}`));
const le = (b: Uint8Array): bigint => b.reduceRight((n, x) => (n << 8n) | BigInt(x), 0n);
const toLe = (n: bigint): Uint8Array => Uint8Array.from({ length: 32 }, (_, i) => Number((n >> BigInt(8 * i)) & 0xffn));
const hex = (h: string): Uint8Array => Uint8Array.from(h.match(/../g) ?? [], (x) => parseInt(x, 16));

interface Key {
  did: string;
  secret: Uint8Array;
  pub: Uint8Array;
  scalar: bigint;
}
const keys = new Map<string, Key>();
function key(label: string): Key {
  const known = keys.get(label);
  if (known !== undefined) return known;
  const secret = seed(label);
  const ext = ed.utils.getExtendedPublicKey(secret);
  const k = { did: didKeyFromPublicKey(ext.pointBytes), secret, pub: ext.pointBytes, scalar: ext.scalar };
  keys.set(label, k);
  return k;
}

/** A signature (R, S) with R = rB + extra and k over the given bytes: for edge cases. */
function craft(a: Key | { pub: Uint8Array; scalar: bigint }, msg: Uint8Array, opts: { rPoint?: ed.Point; r?: bigint } = {}): Uint8Array {
  const r = opts.r ?? (le(sha512(concatBytes(utf8.encode('nonce'), msg, a.pub))) % L);
  const R = opts.rPoint ?? ed.Point.BASE.multiply(r);
  const Rb = R.toBytes();
  const k = le(sha512(concatBytes(Rb, a.pub, msg))) % L;
  const S = (r + k * a.scalar) % L;
  return concatBytes(Rb, toLe(S));
}

// --- Ed25519 edge cases ---------------------------------------------------------------

export interface Ed25519Vector {
  name: string;
  publicKey: string;
  message: string;
  signature: string;
  valid: boolean;
  why: string;
}

function ed25519Vectors(): Ed25519Vector[] {
  const out: Ed25519Vector[] = [];
  const add = (name: string, pub: Uint8Array, msg: Uint8Array, sig: Uint8Array, valid: boolean, why: string): void => {
    out.push({ name, publicKey: toHex(pub), message: toHex(msg), signature: toHex(sig), valid, why });
  };
  const k = key('ed25519 main');
  const msg = utf8.encode('Chorus strict Ed25519');
  const good = ed.sign(msg, k.secret);
  add('valid', k.pub, msg, good, true, 'RFC 8032 signature');
  add('empty-message', k.pub, new Uint8Array(), ed.sign(new Uint8Array(), k.secret), true, 'empty message is allowed');
  add('wrong-message', k.pub, utf8.encode('Chorus strict Ed25519!'), good, false, 'signature over another message');
  add('wrong-key', key('other').pub, msg, good, false, 'signature by another key');
  const flipped = good.slice();
  flipped[10] = (flipped[10] as number) ^ 1;
  add('flipped-R-bit', k.pub, msg, flipped, false, 'corrupted R');
  const sPlusL = concatBytes(good.subarray(0, 32), toLe(le(good.subarray(32)) + L));
  add('non-canonical-S', k.pub, msg, sPlusL, false, 'S + L: same point, S >= L must be rejected (malleability)');
  add('S-all-ones', k.pub, msg, concatBytes(good.subarray(0, 32), new Uint8Array(32).fill(0xff)), false, 'S >= L');

  // Small-order public keys: with R = identity and S = 0 the cofactorless equation holds
  // for every message, so only the precheck stands between them and a forgery.
  const identity = ed.Point.ZERO.toBytes();
  const zeroSig = concatBytes(identity, new Uint8Array(32));
  const torsion8 = ed.Point.fromBytes(hex('c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a'));
  for (let i = 0; i < 8; i++) {
    const T = i === 0 ? ed.Point.ZERO : torsion8.multiply(BigInt(i));
    add(`small-order-key-${i}`, T.toBytes(), msg, zeroSig, false, `public key of small order (${i}·T8); R = identity, S = 0`);
  }
  const identityNeg = identity.slice();
  identityNeg[31] = (identityNeg[31] as number) | 0x80;
  add('small-order-key-negative-zero', identityNeg, msg, zeroSig, false, 'identity with the sign bit set (x = 0, x_0 = 1): not canonical');
  // y = p + 1 encodes the identity non-canonically.
  const yP1 = toLe(2n ** 255n - 19n + 1n);
  add('non-canonical-key-y-p+1', yP1, msg, zeroSig, false, 'public key y >= p');
  // A key that is canonical but not on the curve.
  let off = 2n;
  for (;; off++) {
    try {
      ed.Point.fromBytes(toLe(off));
    } catch {
      break;
    }
  }
  add('key-not-on-curve', toLe(off), msg, good, false, `y = ${off} has no x on the curve`);
  add('non-canonical-R', k.pub, msg, concatBytes(toLe(2n ** 255n - 1n), good.subarray(32)), false, 'R y >= p');

  // Small-order R with S = k·a: the cofactorless equation holds; libsodium rejects it.
  const rZero = { rPoint: ed.Point.ZERO, r: 0n };
  add('small-order-R', k.pub, msg, craft(k, msg, rZero), false, 'R is the identity: rejected as libsodium does');

  // Mixed-order R = rB + T8: cofactored verification accepts it, cofactorless rejects.
  add('mixed-order-R', k.pub, msg, craft(k, msg, { r: 12345n, rPoint: ed.Point.BASE.multiply(12345n).add(torsion8) }), false,
    'R has a torsion component: accepted by cofactored verifiers, rejected by the cofactorless rule Chorus uses');

  // Mixed-order public key A' = A + T8. Valid under the cofactorless rule only when
  // k·T8 = 0, i.e. k ≡ 0 (mod 8).
  const Amixed = ed.Point.fromBytes(k.pub).add(torsion8);
  const mixed = { pub: Amixed.toBytes(), scalar: k.scalar };
  let accepted: Uint8Array | undefined;
  let rejected: Uint8Array | undefined;
  for (let i = 0; accepted === undefined || rejected === undefined; i++) {
    const m = utf8.encode(`mixed-order key ${i}`);
    const sig = craft(mixed, m);
    const kk = le(sha512(concatBytes(sig.subarray(0, 32), mixed.pub, m))) % L;
    if (kk % 8n === 0n && accepted === undefined) {
      accepted = sig;
      add('mixed-order-key-k-multiple-of-8', mixed.pub, m, sig, true, "A has a torsion component but k·T = 0: the equation holds (both OpenSSL's and the reference's)");
    } else if (kk % 8n !== 0n && rejected === undefined) {
      rejected = sig;
      add('mixed-order-key', mixed.pub, m, sig, false, 'A has a torsion component and k·T ≠ 0: cofactored verifiers accept, cofactorless rejects');
    }
  }
  add('short-signature', k.pub, msg, good.subarray(0, 63), false, 'signature is not 64 bytes');
  add('short-key', k.pub.subarray(0, 31), msg, good, false, 'public key is not 32 bytes');
  return out;
}

// --- PAE ------------------------------------------------------------------------------

function paeVectors(): { payloadType: string; payloadHex: string; paeHex: string }[] {
  const cases: [string, Uint8Array][] = [
    [PAYLOAD_TYPE, utf8.encode('{"hello":"world"}')],
    [PAYLOAD_TYPE, new Uint8Array()],
    ['http://example.com/HelloWorld', utf8.encode('hello world')],
    [PAYLOAD_TYPE, utf8.encode('{"name":"modèle ✓"}')], // multi-byte: lengths are bytes
  ];
  return cases.map(([t, p]) => ({ payloadType: t, payloadHex: toHex(p), paeHex: toHex(pae(t, p)) }));
}

// --- did:key --------------------------------------------------------------------------

function didVectors(): { valid: { publicKey: string; did: string }[]; invalid: { did: string; why: string }[] } {
  const zeros = new Uint8Array(32);
  const x25519 = `did:key:z${base58.encode(concatBytes(Uint8Array.of(0xec, 0x01), key('x').pub))}`;
  return {
    valid: [key('did 1').pub, key('did 2').pub, zeros].map((p) => ({ publicKey: toHex(p), did: didKeyFromPublicKey(p) })),
    invalid: [
      { did: x25519, why: 'x25519 multicodec, not ed25519' },
      { did: 'did:key:z6MkInvalid0OIl', why: 'not base58btc' },
      { did: `did:key:z${base58.encode(concatBytes(Uint8Array.of(0xed, 0x01), new Uint8Array(31)))}`, why: 'key is 31 bytes' },
      { did: `did:web:example.com`, why: 'not did:key' },
      { did: `${key('did 1').did}#fragment`, why: 'fragment' },
    ],
  };
}

// --- model digests --------------------------------------------------------------------

function modelDigestVectors(): { files: { path: string; contentUtf8: string; sha256: string }[]; ignored: string[]; root: string }[] {
  const mk = (files: [string, string][], ignored: string[]): { files: { path: string; contentUtf8: string; sha256: string }[]; ignored: string[]; root: string } => {
    const fs = files.map(([path, c]) => ({ path, contentUtf8: c, sha256: toHex(sha256(utf8.encode(c))) }));
    const { root, files: ordered } = rootDigest(fs.map((f) => ({ path: f.path, sha256: f.sha256 })), referenceSuite);
    return { files: ordered.map((o) => fs.find((f) => f.path === o.path)!), ignored, root };
  };
  return [
    mk([['config.json', '{"model_type":"llama"}\n'], ['model.safetensors', 'weights'], ['tokenizer.json', '{}']], []),
    mk([['a-b', 'x'], ['a/b', 'y'], ['B', 'z'], ['a', 'w']], ['.git/HEAD', '.gitignore', 'model.sig']),
    mk([['empty', '']], []),
  ];
}

// --- envelopes through the whole ingest path ------------------------------------------

export interface EnvelopeCase {
  name: string;
  /** Envelopes ingested first, each must be accepted. */
  given?: string[];
  /** Limits that differ from the defaults for this case. */
  limits?: Record<string, number>;
  envelope: string;
  expect: { outcome: 'accept'; id: string } | { outcome: 'ignore' | 'reject'; code: string };
}

const NOW = '2026-06-01T00:00:00Z';
const ISSUED = '2026-05-01T00:00:00Z';
const DIGEST = toHex(sha256(utf8.encode('example model')));

function statement(k: Key, kind: PredicateKind | string, fields: Record<string, unknown>, extra: { subject?: unknown; header?: Record<string, unknown>; type?: string } = {}): Record<string, unknown> {
  const type = kind in PREDICATES ? PREDICATES[kind as PredicateKind].type : kind;
  return {
    _type: extra.type ?? STATEMENT_TYPE,
    subject: extra.subject ?? [{ name: 'example.gguf', digest: { sha256: DIGEST } }],
    predicateType: type,
    predicate: { issuer: k.did, issuedAt: ISSUED, ...fields, ...extra.header },
  };
}

function envelope(k: Key, payload: unknown, opts: { keyid?: string; type?: string; urlSafe?: boolean; tamper?: (sig: Uint8Array) => void; signer?: Key } = {}): { text: string; id: string } {
  const bytes = typeof payload === 'string' ? utf8.encode(payload) : utf8.encode(JSON.stringify(payload));
  const type = opts.type ?? PAYLOAD_TYPE;
  const sig = ed.sign(pae(type, bytes), (opts.signer ?? k).secret);
  opts.tamper?.(sig);
  const b64 = (b: Uint8Array): string => (opts.urlSafe ? encodeBase64(b).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '') : encodeBase64(b));
  const env = { payloadType: type, payload: b64(bytes), signatures: [{ keyid: opts.keyid ?? k.did, sig: b64(sig) }] };
  return { text: JSON.stringify(env), id: toHex(sha256(pae(type, bytes))) };
}

function envelopeCases(): EnvelopeCase[] {
  const alice = key('alice');
  const bob = key('bob');
  const cases: EnvelopeCase[] = [];
  const accept = (name: string, e: { text: string; id: string }, given?: string[]): void => {
    cases.push({ name, ...(given ? { given } : {}), envelope: e.text, expect: { outcome: 'accept', id: e.id } });
  };
  const refuse = (name: string, outcome: 'ignore' | 'reject', code: string, text: string, more: Partial<EnvelopeCase> = {}): void => {
    cases.push({ name, ...more, envelope: text, expect: { outcome, code } });
  };
  const audit = { harness: { name: 'lm-eval', version: '0.4.2' }, metrics: { refusal_rate: 0.97 }, verdict: 'pass' };
  const auditA = envelope(alice, statement(alice, 'audit', audit));

  accept('audit', auditA);
  accept('dealignment', envelope(alice, statement(alice, 'dealignment', { baseModel: { sha256: 'a'.repeat(64) }, method: 'abliteration', evidence: { description: 'refusal direction removed', uri: 'https://example.org/report' } })));
  accept('license', envelope(alice, statement(alice, 'license', { declared: null, detected: ['Apache-2.0', 'MIT OR GPL-2.0-only'], verdict: 'unknown' })));
  accept('payload', envelope(alice, statement(alice, 'payload', { scanner: { name: 'picklescan', version: '0.0.14' }, finding: { kind: 'pickle-exec', path: 'data.pkl', description: 'os.system' }, severity: 'critical' })));
  accept('lineage', envelope(alice, statement(alice, 'lineage', { derivedFrom: [{ digest: { sha256: 'b'.repeat(64) }, relation: 'quantized' }] })));
  accept('endorsement', envelope(alice, statement(alice, 'endorsement', { endorsed: bob.did, scope: ['audit'], weight: 0.5 }, { subject: [{ name: bob.did, digest: { sha256: endorsementSubject(bob.did) } }] })));
  accept('approval', envelope(alice, statement(alice, 'approval', { name: 'acme/model', version: '1.0', license: 'Apache-2.0' })));
  accept('audit-with-expiry-and-two-subjects', envelope(alice, statement(alice, 'audit', audit, { header: { expiresAt: '2027-01-01T00:00:00Z' }, subject: [{ name: 'a', digest: { sha256: DIGEST } }, { name: 'b', digest: { sha256: 'c'.repeat(64), sha512: 'ab' } }] })));
  accept('unknown-predicate-type-is-kept', envelope(alice, statement(alice, 'https://example.org/custom-eval/v3', { anything: ['goes', 1] })));
  const urlSafe = envelope(alice, statement(alice, 'audit', audit), { urlSafe: true });
  accept('url-safe-unpadded-base64-same-id', urlSafe);
  const retraction = envelope(alice, statement(alice, 'retraction', { target: auditA.id, reason: 'wrong harness' }));
  accept('retraction-by-owner', retraction, [auditA.text]);
  accept('retraction-past-its-expiry-still-counts', envelope(alice, statement(alice, 'retraction', { target: auditA.id }, { header: { expiresAt: '2026-05-15T00:00:00Z' } })), [auditA.text]);
  accept('retraction-of-unknown-target', envelope(alice, statement(alice, 'retraction', { target: 'd'.repeat(64) })));

  refuse('too-large', 'reject', 'too_large', envelope(alice, statement(alice, 'https://example.org/big/v1', { blob: 'x'.repeat(50_000) })).text);
  refuse('not-json', 'reject', 'malformed_json', '{"payloadType": "application/vnd.in-toto+json", "payload": ');
  refuse('json-array', 'reject', 'malformed_envelope', '[]');
  refuse('missing-signatures', 'reject', 'malformed_envelope', JSON.stringify({ payloadType: PAYLOAD_TYPE, payload: 'e30=' }));
  const two = JSON.parse(auditA.text) as { signatures: unknown[] };
  two.signatures.push(two.signatures[0]);
  refuse('two-signatures', 'reject', 'malformed_envelope', JSON.stringify(two));
  refuse('extra-envelope-field', 'reject', 'malformed_envelope', JSON.stringify({ ...(JSON.parse(auditA.text) as object), extra: 1 }));
  refuse('wrong-payload-type', 'reject', 'bad_payload_type', envelope(alice, statement(alice, 'audit', audit), { type: 'application/json' }).text);
  refuse('payload-not-base64', 'reject', 'bad_base64', JSON.stringify({ ...(JSON.parse(auditA.text) as object), payload: 'not base64!' }));
  refuse('payload-not-json', 'reject', 'malformed_statement', envelope(alice, 'this is not json').text);
  refuse('statement-v0.1', 'reject', 'unknown_statement_type', envelope(alice, statement(alice, 'audit', audit, { type: 'https://in-toto.io/Statement/v0.1' })).text);
  refuse('no-subject', 'reject', 'malformed_statement', envelope(alice, statement(alice, 'audit', audit, { subject: [] })).text);
  refuse('uppercase-digest', 'reject', 'bad_subject_digest', envelope(alice, statement(alice, 'audit', audit, { subject: [{ name: 'x', digest: { sha256: DIGEST.toUpperCase() } }] })).text);
  refuse('short-digest', 'reject', 'bad_subject_digest', envelope(alice, statement(alice, 'audit', audit, { subject: [{ name: 'x', digest: { sha256: 'abc' } }] })).text);
  refuse('bad-verdict', 'reject', 'bad_predicate', envelope(alice, statement(alice, 'audit', { ...audit, verdict: 'maybe' })).text);
  refuse('unknown-predicate-field', 'reject', 'bad_predicate', envelope(alice, statement(alice, 'audit', { ...audit, score: 3 })).text);
  refuse('missing-issuedAt', 'reject', 'malformed_statement', envelope(alice, statement(alice, 'audit', audit, { header: { issuedAt: undefined } })).text);
  refuse('local-time-not-utc', 'reject', 'malformed_statement', envelope(alice, statement(alice, 'audit', audit, { header: { issuedAt: '2026-05-01T02:00:00+02:00' } })).text);
  refuse('issued-before-1970', 'reject', 'malformed_statement', envelope(alice, statement(alice, 'audit', audit, { header: { issuedAt: '1969-12-31T23:59:59Z' } })).text);
  refuse('issued-in-year-0000', 'reject', 'malformed_statement', envelope(alice, statement(alice, 'audit', audit, { header: { issuedAt: '0000-01-01T00:00:00Z' } })).text);
  refuse('expiry-before-issue', 'reject', 'bad_expiry', envelope(alice, statement(alice, 'audit', audit, { header: { expiresAt: '2026-04-01T00:00:00Z' } })).text);
  const x25519 = `did:key:z${base58.encode(concatBytes(Uint8Array.of(0xec, 0x01), alice.pub))}`;
  refuse('issuer-not-ed25519', 'reject', 'bad_issuer', envelope(alice, statement(alice, 'audit', audit, { header: { issuer: x25519 } }), { keyid: x25519 }).text);
  refuse('keyid-not-issuer', 'reject', 'keyid_mismatch', envelope(alice, statement(alice, 'audit', audit), { keyid: bob.did }).text);
  refuse('signed-by-someone-else', 'reject', 'bad_signature', envelope(alice, statement(alice, 'audit', audit), { signer: bob }).text);
  refuse('flipped-signature-bit', 'reject', 'bad_signature', envelope(alice, statement(alice, 'audit', audit), { tamper: (s) => void (s[40] = (s[40] as number) ^ 4) }).text);
  // A forged attestation under a small-order key: naive cofactorless verifiers accept it.
  const smallDid = didKeyFromPublicKey(ed.Point.ZERO.toBytes());
  const forged = { payloadType: PAYLOAD_TYPE, payload: encodeBase64(utf8.encode(JSON.stringify({ ...statement(alice, 'audit', audit), predicate: { ...audit, issuer: smallDid, issuedAt: ISSUED } }))), signatures: [{ keyid: smallDid, sig: encodeBase64(concatBytes(ed.Point.ZERO.toBytes(), new Uint8Array(32))) }] };
  refuse('small-order-issuer-key-forgery', 'reject', 'bad_signature', JSON.stringify(forged));
  refuse('expired', 'ignore', 'expired', envelope(alice, statement(alice, 'audit', audit, { header: { expiresAt: '2026-05-15T00:00:00Z' } })).text);
  refuse('future-dated', 'ignore', 'future_dated', envelope(alice, statement(alice, 'audit', audit, { header: { issuedAt: '2026-06-01T00:10:01Z' } })).text);
  accept('issued-within-clock-skew', envelope(alice, statement(alice, 'audit', audit, { header: { issuedAt: '2026-06-01T00:09:59Z' } })));
  refuse('duplicate', 'ignore', 'duplicate', auditA.text, { given: [auditA.text] });
  refuse('duplicate-in-other-base64', 'ignore', 'duplicate', urlSafe.text, { given: [auditA.text] });
  refuse('retraction-by-someone-else', 'ignore', 'retraction_not_owner', envelope(bob, statement(bob, 'retraction', { target: auditA.id })).text, { given: [auditA.text] });
  refuse('retraction-of-a-retraction', 'ignore', 'retraction_bad_target', envelope(alice, statement(alice, 'retraction', { target: retraction.id })).text, { given: [auditA.text, retraction.text] });
  refuse('issuer-over-quota', 'ignore', 'issuer_quota', envelope(alice, statement(alice, 'license', { declared: 'MIT', detected: [], verdict: 'compliant' })).text, { given: [auditA.text], limits: { issuerQuotaBytes: 1200 } });
  return cases;
}

// --- Reputation views and the trust graph (SPEC §10) -------------------------------------
//
// The inputs are built here; the expectations are NOT computed by the code under test: each
// is written by hand from protocol/SPEC.md §10 (worked out in the comments), so another
// implementation can take them as the rules. Trust values are chosen as binary fractions
// (1, 0.5, 0.25, …) so the arithmetic is exact; views show weights to 4 decimals.

const KINDS = ['audit', 'dealignment', 'license', 'payload', 'lineage', 'provenance'] as const;
type Kind = (typeof KINDS)[number];
type PerKind = Partial<Record<Kind, number>>;
/** The same trust in every kind (a `*` root or a chain of `*` endorsements). */
const everyKind = (x: number): PerKind => Object.fromEntries(KINDS.map((k) => [k, x]));

/** An endorsement as the trust graph takes it (SPEC §9, §10.2): times are timestamps. */
export interface EndorsementVector {
  id: string;
  endorser: string;
  endorsed: string;
  scope: string[];
  weight: number;
  issuedAt: string;
  expiresAt?: string;
  /** Withdrawn by a retraction of its issuer. */
  retracted: boolean;
}

/** An attestation about a digest, as a view takes it. */
export interface AttestationVector {
  id: string;
  issuer: string;
  predicateType: string;
  predicate: Record<string, unknown>;
  issuedAt: string;
  expiresAt?: string;
}

/** A policy, the endorsements and `now` -> every issuer's trust per kind (SPEC §10.1, §10.2). */
export interface TrustCase {
  name: string;
  /** The SPEC rule this case pins, with its section. */
  rule: string;
  /** Set when the code is known to disagree with this hand-worked expectation: the test expects the mismatch. */
  pending?: string;
  policy: unknown;
  endorsements: EndorsementVector[];
  expect: {
    /** Every issuer with trust > 0, per kind with trust > 0 (kinds not listed: 0). */
    trust: Record<string, PerKind>;
    /** Strongest paths (SPEC §10.2): issuer -> the issuers from the root (or subscription) to it, in one kind. */
    paths?: Record<string, { kind: Kind; path: string[] }>;
  };
}

export interface ExpectedItem {
  reason: string;
  counts: boolean;
  verdict?: string;
  weight?: number;
  retractedBy?: string;
  inherited?: { from: string; relation: string; lineageBy: string; originalVerdict: string };
}

export interface ExpectedKind {
  status: string;
  /** The most severe counted verdict (fail > warn > pass > info), `none` when none counts. */
  summary: string;
  counted: number;
  /** F, W, P of SPEC §10.4. */
  weights: { fail: number; warn: number; pass: number };
}

/** A policy, endorsements, attestations about `digest` (and about bases) and `now` -> the view (SPEC §10). */
export interface ViewCase {
  name: string;
  rule: string;
  pending?: string;
  policy: unknown;
  endorsements: EndorsementVector[];
  attestations: AttestationVector[];
  /** Attestations about other digests: the bases that lineage claims name (SPEC §10.5). */
  bases?: Record<string, AttestationVector[]>;
  /** What-if: the view as if this issuer were blocked (SPEC §10.3 `ignored`). */
  without?: string;
  expect: {
    status: string;
    /** Per scored kind whose status is not `unknown` or that counts something; other kinds: unknown, nothing counted. */
    byKind: Partial<Record<Kind, ExpectedKind>>;
    /** Every listed attestation (all kinds), by id; absent when the case leaves which ones open. */
    attestations?: Record<string, ExpectedItem>;
    disputes: { kind: string; fail: { issuer: string; weight: number }[]; pass: { issuer: string; weight: number }[] }[];
    equivocators: string[];
    /** Listed evidence from issuers with no trust in its kind, by verdict (SPEC §10.4), when the case pins it. */
    untrusted?: { listed: number; fail: number; warn: number; pass: number };
  };
}

const DAY = 86_400_000;
const at = (msBeforeNow: number): string => new Date(Date.parse(NOW) - msBeforeNow).toISOString().replace(/\.\d{3}Z$/, 'Z');
/** did:key of a test issuer, by label. */
const who = (label: string): string => key(`view ${label}`).did;
const idOf = (label: string): string => toHex(sha256(utf8.encode(`view vector ${label}`)));
/** Digest of a base model (SPEC §10.5 cases). */
const baseDigest = (n: number): string => toHex(sha256(utf8.encode(`base model ${n}`)));

const auditP = (verdict: string): Record<string, unknown> => ({ harness: { name: 'lm-eval', version: '0.4.2' }, metrics: {}, verdict });
const payloadP = (finding: string, severity: string): Record<string, unknown> => ({ scanner: { name: 'picklescan', version: '0.0.14' }, finding: { kind: finding, description: 'os.system' }, severity });
const licenseP = (verdict: string): Record<string, unknown> => ({ declared: 'MIT', detected: ['GPL-3.0-only'], verdict });
const dealignP = (): Record<string, unknown> => ({ baseModel: { sha256: 'a'.repeat(64) }, method: 'abliteration', evidence: { description: 'refusal direction removed' } });
const lineageP = (...from: [string, string][]): Record<string, unknown> => ({ derivedFrom: from.map(([d, relation]) => ({ digest: { sha256: d }, relation })) });
const provenanceP = (): Record<string, unknown> => ({ signatureType: 'https://model_signing/signature/v1.0', method: 'key', signer: { keyFingerprint: 'ab12' }, files: 3 });

/** One attestation by `by` (a label), of a kind or an unknown predicate type, issued `ago` ms before now. */
function att(ref: string, by: string, kind: PredicateKind | string, fields: Record<string, unknown>, o: { ago?: number; expires?: number; id?: string } = {}): AttestationVector {
  const issuer = who(by);
  const predicateType = kind in PREDICATES ? PREDICATES[kind as PredicateKind].type : kind;
  const issuedAt = at(o.ago ?? DAY);
  const expiresAt = o.expires === undefined ? undefined : at(-o.expires);
  return {
    id: o.id ?? idOf(ref), issuer, predicateType,
    predicate: { issuer, issuedAt, ...(expiresAt === undefined ? {} : { expiresAt }), ...fields },
    issuedAt, ...(expiresAt === undefined ? {} : { expiresAt }),
  };
}

/** An endorsement of `to` by `from` (labels). */
function end(ref: string, from: string, to: string, weight: number, scope: string[] = ['*'], o: { ago?: number; expires?: number; retracted?: boolean } = {}): EndorsementVector {
  return {
    id: idOf(ref), endorser: who(from), endorsed: who(to), scope, weight, issuedAt: at(o.ago ?? DAY),
    ...(o.expires === undefined ? {} : { expiresAt: at(-o.expires) }), retracted: o.retracted ?? false,
  };
}

const root = (label: string, o: { weight?: number; scope?: string[] } = {}): Record<string, unknown> => ({ issuer: who(label), ...o });
const policy = (p: { roots?: (string | Record<string, unknown>)[]; blocks?: string[]; subscriptions?: [string, number][]; params?: Record<string, unknown> }): unknown => ({
  version: 2,
  ...(p.roots ? { roots: p.roots.map((r) => (typeof r === 'string' ? root(r) : r)) } : {}),
  ...(p.blocks ? { blocks: p.blocks.map((b) => ({ issuer: who(b) })) } : {}),
  ...(p.subscriptions ? { subscriptions: p.subscriptions.map(([s, weight]) => ({ issuer: who(s), weight })) } : {}),
  ...(p.params ? { params: p.params } : {}),
});
const trustOf = (m: Record<string, PerKind>): Record<string, PerKind> => Object.fromEntries(Object.entries(m).map(([l, t]) => [who(l), t]));

// Expected items.
const trusted = (verdict: string, weight: number): ExpectedItem => ({ reason: 'trusted', counts: true, verdict, weight });
const not = (reason: string, verdict?: string, more: Partial<ExpectedItem> = {}): ExpectedItem => ({ reason, counts: false, ...(verdict === undefined ? {} : { verdict }), ...more });
const inh = (verdict: string, weight: number, base: string, relation: string, by: string, originalVerdict: string): ExpectedItem =>
  ({ reason: 'trusted', counts: true, verdict, weight, inherited: { from: `sha256:${base}`, relation, lineageBy: who(by), originalVerdict } });
const kind = (status: string, summary: string, counted: number, fail: number, warn: number, pass: number): ExpectedKind => ({ status, summary, counted, weights: { fail, warn, pass } });
const items = (pairs: [AttestationVector, ExpectedItem][]): Record<string, ExpectedItem> => Object.fromEntries(pairs.map(([a, x]) => [a.id, x]));
const side = (...s: [string, number][]): { issuer: string; weight: number }[] => s.map(([l, weight]) => ({ issuer: who(l), weight }));

function trustCases(): TrustCase[] {
  const c: TrustCase[] = [];
  c.push({
    name: 'roots-weight-and-scope',
    rule: '§10.1/§10.2 step 1: a root has trust = its weight in every kind its scope holds (`*`: all six), and none in the others.',
    policy: policy({ roots: ['lab', root('red', { weight: 0.5, scope: ['audit', 'license'] })] }),
    endorsements: [],
    expect: { trust: trustOf({ lab: everyKind(1), red: { audit: 0.5, license: 0.5 } }) },
  });
  // lab passes 0.5 -> a: E 0.5, trust 0.25, passes 0.25 -> b: trust 0.125 -> c: 0.0625; d is a 4th hop.
  c.push({
    name: 'decay-per-hop-and-max-depth',
    rule: '§10.2 steps 2-3: each hop keeps (1 − spread) of the energy E it receives and passes spread × E on, for at most maxDepth (3) layers.',
    policy: policy({ roots: ['lab'] }),
    endorsements: [end('t2 ab', 'a', 'b', 1), end('t2 lab a', 'lab', 'a', 1), end('t2 bc', 'b', 'c', 1), end('t2 cd', 'c', 'd', 1)],
    expect: {
      trust: trustOf({ lab: everyKind(1), a: everyKind(0.25), b: everyKind(0.125), c: everyKind(0.0625) }),
      paths: { [who('c')]: { kind: 'audit', path: ['lab', 'a', 'b', 'c'].map(who) }, [who('lab')]: { kind: 'audit', path: [] } },
    },
  });
  // lab's weights sum to 2: a gets 0.5·1/2, b and c 0.5·0.5/2. red (audit only) sums to 0.75 < 1: divided by 1,
  // so d gets 0.5·0.5 and e 0.5·0.25; the rest of red's 0.5 is not passed on.
  c.push({
    name: 'split-in-proportion-never-more-than-it-has',
    rule: '§10.2 step 2: an issuer splits what it passes in proportion to its endorsements\' weights, divided by max(1, sum of its weights); an endorsement carries trust only in the kinds its endorser has.',
    policy: policy({ roots: ['lab', root('red', { scope: ['audit'] })] }),
    endorsements: [end('t3 lab a', 'lab', 'a', 1), end('t3 lab b', 'lab', 'b', 0.5), end('t3 lab c', 'lab', 'c', 0.5), end('t3 red d', 'red', 'd', 0.5), end('t3 red e', 'red', 'e', 0.25)],
    expect: { trust: trustOf({ lab: everyKind(1), red: { audit: 1 }, a: everyKind(0.125), b: everyKind(0.0625), c: everyKind(0.0625), d: { audit: 0.125 }, e: { audit: 0.0625 } }) },
  });
  // Layer 1: a, b (E 0.25 each, pass 0.125). a's list (b, c) sums to 2: a -> b is same-layer (nothing), a -> c
  // carries 0.0625. b's list (lab, c) sums to 2: b -> lab is a back edge (nothing), b -> c carries 0.0625.
  // c: E 0.125, trust 0.0625; c -> a is a back edge.
  c.push({
    name: 'back-edges-cycles-and-same-layer-edges-carry-nothing',
    rule: '§10.2 step 2: an endorsement carries only when it leads to the next layer; edges to an earlier or the same layer carry nothing (their share is lost, not redistributed), and several edges into the next layer add up.',
    policy: policy({ roots: ['lab'] }),
    endorsements: [end('t4 lab a', 'lab', 'a', 1), end('t4 lab b', 'lab', 'b', 1), end('t4 a b', 'a', 'b', 1), end('t4 a c', 'a', 'c', 1), end('t4 b lab', 'b', 'lab', 1), end('t4 b c', 'b', 'c', 1), end('t4 c a', 'c', 'a', 1)],
    expect: { trust: trustOf({ lab: everyKind(1), a: everyKind(0.125), b: everyKind(0.125), c: everyKind(0.0625) }) },
  });
  // Only the newer 0.25 endorsement holds: a gets 0.5·0.25 = 0.125, trust 0.0625 (both together would be 0.5·1/1.25).
  c.push({
    name: 'newest-endorsement-per-pair',
    rule: '§10.2: per endorser and endorsed issuer only the newest live endorsement counts (a newer, lower weight replaces an older one).',
    policy: policy({ roots: ['lab'] }),
    endorsements: [end('t5 old', 'lab', 'a', 1, ['*'], { ago: 2 * DAY }), end('t5 new', 'lab', 'a', 0.25, ['*'], { ago: DAY })],
    expect: { trust: trustOf({ lab: everyKind(1), a: everyKind(0.0625) }) },
  });
  // Each dead endorsement, if it took part, would also lower a's share (the norm would exceed 1).
  c.push({
    name: 'dead-endorsements-take-no-part',
    rule: '§10.2: retracted endorsements, expired ones (expiresAt ≤ now), weight 0 and self-endorsements take no part, not even in an endorser\'s normalisation.',
    policy: policy({ roots: ['lab'] }),
    endorsements: [
      end('t6 a', 'lab', 'a', 0.5), end('t6 retracted', 'lab', 'b', 1, ['*'], { retracted: true }), end('t6 expired', 'lab', 'c', 1, ['*'], { ago: 2 * DAY, expires: 0 }),
      end('t6 zero', 'lab', 'd', 0), end('t6 self', 'lab', 'lab', 1), end('t6 a self', 'a', 'a', 1), end('t6 a e', 'a', 'e', 1),
    ],
    // a: E 0.25, trust 0.125, passes 0.125 all to e (its self-endorsement dropped): e trust 0.0625.
    expect: { trust: trustOf({ lab: everyKind(1), a: everyKind(0.125), e: everyKind(0.0625) }) },
  });
  c.push({
    name: 'blocked-issuers-hold-and-pass-nothing',
    rule: '§10.1/§10.2: endorsements by or of a blocked issuer are dropped (so they do not dilute the endorser\'s other endorsements); a blocked issuer has trust 0 and passes nothing.',
    policy: policy({ roots: ['lab'], blocks: ['anon'] }),
    endorsements: [end('t7 lab anon', 'lab', 'anon', 1), end('t7 lab a', 'lab', 'a', 1), end('t7 anon b', 'anon', 'b', 1)],
    expect: { trust: trustOf({ lab: everyKind(1), a: everyKind(0.25) }) },
  });
  // The curator passes its whole 0.8, split over two: each E 0.4, trust 0.2; it keeps nothing.
  c.push({
    name: 'subscription-passes-its-weight-and-keeps-nothing',
    rule: '§10.1/§10.2 step 1: a subscription passes on its whole weight along its endorsements and keeps no trust itself.',
    policy: policy({ subscriptions: [['cur', 0.8]] }),
    endorsements: [end('t8 a', 'cur', 'a', 1), end('t8 b', 'cur', 'b', 1, ['audit'])],
    expect: {
      trust: trustOf({ a: { audit: 0.2, dealignment: 0.4, license: 0.4, payload: 0.4, lineage: 0.4, provenance: 0.4 }, b: { audit: 0.2 } }),
      paths: { [who('a')]: { kind: 'audit', path: [who('cur'), who('a')] } },
    },
  });
  // lab -> cur: cur E 0.5, trust 0.25 (layer 1). cur's subscription already reached a at layer 1 (E 0.5, trust 0.25);
  // cur's own pass at layer 1 to a is a same-layer edge.
  c.push({
    name: 'subscribed-curator-endorsed-by-a-root',
    rule: '§10.1: a curator\'s own attestations count only if it is endorsed: then it holds trust like any endorsed issuer, and its subscription still passes its weight.',
    policy: policy({ roots: ['lab'], subscriptions: [['cur', 0.5]] }),
    endorsements: [end('t9 lab cur', 'lab', 'cur', 1), end('t9 cur a', 'cur', 'a', 1)],
    expect: { trust: trustOf({ lab: everyKind(1), cur: everyKind(0.25), a: everyKind(0.25) }) },
  });
  // lab -> x (layer 1, E 0.5, trust 0.25). x -> cur is dropped: cur is subscribed and x is not a root, so cur holds 0.
  // cur's subscription reached a at layer 1 (E 0.5, trust 0.25).
  c.push({
    name: 'subscribed-curator-endorsed-further-down',
    rule: '§10.1: a subscribed curator\'s own attestations count only if a root endorses it directly: an endorsement of it by an endorsed issuer is dropped.',
    policy: policy({ roots: ['lab'], subscriptions: [['cur', 0.5]] }),
    endorsements: [end('t10 lab x', 'lab', 'x', 1), end('t10 x cur', 'x', 'cur', 1), end('t10 cur a', 'cur', 'a', 1)],
    expect: { trust: trustOf({ lab: everyKind(1), x: everyKind(0.25), a: everyKind(0.25) }) },
  });
  // payload: scanner is a root (layer 0): lab -> scanner is a same-layer edge, scanner stays 1. In the other kinds
  // scanner is not a root and is reached from lab: 0.25.
  c.push({
    name: 'a-root-is-not-raised-by-endorsements',
    rule: '§10.2 step 1-2: trust is computed per kind: a root keeps exactly its weight in the kinds of its scope (an endorsement to it is a same-layer edge) and is an ordinary endorsed issuer in the others.',
    policy: policy({ roots: ['lab', root('scanner', { scope: ['payload'] })] }),
    endorsements: [end('t11 lab scanner', 'lab', 'scanner', 1)],
    expect: { trust: trustOf({ lab: everyKind(1), scanner: { audit: 0.25, dealignment: 0.25, license: 0.25, payload: 1, lineage: 0.25, provenance: 0.25 } }) },
  });
  // A newer weight-0 endorsement revokes the older weight-1 one: lab -> a carries nothing, a holds 0.
  c.push({
    name: 'newer-zero-weight-endorsement',
    rule: '§10.2: per endorser and endorsed issuer only the newest endorsement counts, and only while live: a newer one of weight 0 revokes the older, which does not come back.',
    policy: policy({ roots: ['lab'] }),
    endorsements: [end('t12 old', 'lab', 'a', 1, ['*'], { ago: 2 * DAY }), end('t12 zero', 'lab', 'a', 0, ['*'], { ago: DAY })],
    expect: { trust: trustOf({ lab: everyKind(1) }) },
  });
  // lab -> weak (0.1): E 0.05, trust 0.025, passes 0.025 -> s0: trust 0.0125, passes 0.0125 over two (s1, s7):
  // E 0.00625 each, trust 0.003125, layer 3 = maxDepth. The cluster holds 0.01875 ≤ 0.025, what the one edge carries.
  c.push({
    name: 'sybil-cluster-behind-one-weak-endorsement',
    rule: '§10.2 Sybil bound: a cluster reached only through one endorsement holds in total at most the energy that endorsement carries, however densely its members endorse each other.',
    policy: policy({ roots: ['lab'] }),
    endorsements: sybilEndorsements(),
    expect: { trust: trustOf({ lab: everyKind(1), weak: everyKind(0.025), 'sybil 0': everyKind(0.0125), 'sybil 1': everyKind(0.003125), 'sybil 7': everyKind(0.003125) }) },
  });
  return c;
}

function sybilEndorsements(): EndorsementVector[] {
  const s = (i: number): string => `sybil ${i % 30}`;
  return [end('sybil lab weak', 'lab', 'weak', 0.1), end('sybil weak s0', 'weak', s(0), 1), ...Array.from({ length: 30 }, (_, i) => [end(`sybil ${i} +1`, s(i), s(i + 1), 1), end(`sybil ${i} +7`, s(i), s(i + 7), 1)]).flat()];
}

function viewCases(): ViewCase[] {
  const c: ViewCase[] = [];
  const none = { disputes: [], equivocators: [] };
  const two = policy({ roots: ['lab', 'red'] });

  {
    // Trust as in trust-graph.json's sybil case: s0 counts (0.0125 ≥ minWeight), s1 and s7 are weak, the rest unreached.
    // audit: P = 1, F = 0.0125: no dispute (ratio 0.0125), F < P, and (F + W) / P < 0.25: ok.
    const pass = att('sybil lab pass', 'lab', 'audit', auditP('pass'));
    const fails = Array.from({ length: 30 }, (_, i) => att(`sybil ${i} fail`, `sybil ${i}`, 'audit', auditP('fail')));
    c.push({
      name: 'sybil-cluster-behind-one-weak-endorsement', rule: '§10.2 Sybil bound, §10.3-10.4: thirty keys behind one weak endorsement change no verdict: one counts with a sliver of weight, two are weak, the rest untrusted.',
      policy: policy({ roots: ['lab'] }), endorsements: sybilEndorsements(), attestations: [pass, ...fails],
      expect: {
        status: 'ok', byKind: { audit: kind('ok', 'fail', 2, 0.0125, 0, 1) },
        attestations: items([[pass, trusted('pass', 1)], ...fails.map((f, i): [AttestationVector, ExpectedItem] => [f, i === 0 ? trusted('fail', 0.0125) : i === 1 || i === 7 ? not('weak', 'fail') : not('untrusted', 'fail')])]),
        ...none,
      },
    });
  }
  {
    const pay = att('scope payload', 'scanner', 'payload', payloadP('pickle-exec', 'critical'));
    const aud = att('scope audit', 'scanner', 'audit', auditP('fail'));
    c.push({
      name: 'scope-carried-along-a-path', rule: '§10.2: trust in a kind flows only from roots whose scope holds it: a `*` endorsement from a payload-only root gives trust in payload only.',
      policy: policy({ roots: [root('lab', { scope: ['payload'] })] }), endorsements: [end('scope lab scanner', 'lab', 'scanner', 1)], attestations: [pay, aud],
      expect: { status: 'flagged', byKind: { payload: kind('flagged', 'fail', 1, 0.25, 0, 0) }, attestations: items([[pay, trusted('fail', 0.25)], [aud, not('untrusted', 'fail')]]), ...none },
    });
  }
  const pair = (name: string, rule: string, labW: number, redW: number, labV: string, redV: string, status: string, summary: string, w: [number, number, number], disputes: ViewCase['expect']['disputes'] = []): void => {
    const a = att(`${name} lab`, 'lab', 'audit', auditP(labV));
    const b = att(`${name} red`, 'red', 'audit', auditP(redV));
    c.push({
      name, rule, policy: policy({ roots: [root('lab', { weight: labW }), root('red', { weight: redW })] }), endorsements: [], attestations: [a, b],
      expect: { status, byKind: { audit: kind(status, summary, 2, ...w) }, attestations: items([[a, trusted(labV, labW)], [b, trusted(redV, redW)]]), disputes, equivocators: [] },
    });
  };
  pair('dispute-at-the-ratio', '§10.4: disputed when F ≥ decideWeight, P ≥ decideWeight and min(F, P) / max(F, P) ≥ disputeRatio (here exactly 0.5); both sides are listed in disputes.',
    1, 0.5, 'fail', 'pass', 'disputed', 'fail', [1, 0, 0.5], [{ kind: 'audit', fail: side(['lab', 1]), pass: side(['red', 0.5]) }]);
  pair('fail-outweighing-pass-flags', '§10.4: when not disputed (ratio 0.25 < 0.5), F ≥ decideWeight and F ≥ P give severity[kind] (flagged for audit).',
    1, 0.25, 'fail', 'pass', 'flagged', 'fail', [1, 0, 0.25]);
  pair('outweighed-fail-at-the-caution-ratio', '§10.4: with P ≥ decideWeight, a fail reaching decideWeight makes caution when (F + W) / P ≥ cautionRatio (here exactly 0.25).',
    1, 0.25, 'pass', 'fail', 'caution', 'fail', [0.25, 0, 1]);
  pair('outweighed-fail-below-the-caution-ratio', '§10.4: with P ≥ decideWeight and (F + W) / P < cautionRatio (0.125), the status is ok.',
    1, 0.125, 'pass', 'fail', 'ok', 'fail', [0.125, 0, 1]);
  pair('warnings-alone-are-caution', '§10.4: no pass side: caution when F or W reaches decideWeight.',
    1, 0.5, 'warn', 'warn', 'caution', 'warn', [0, 1.5, 0]);
  pair('below-decide-weight-is-unknown', '§10.4: counted evidence lighter than decideWeight (0.0078125 < 0.01, though above minWeight) decides nothing: unknown.',
    0.0078125, 0.0078125, 'fail', 'pass', 'unknown', 'fail', [0.0078125, 0, 0.0078125]);
  {
    const l = att('license severity', 'lab', 'license', licenseP('noncompliant'));
    c.push({
      name: 'license-fail-is-caution', rule: '§10.1 severity: a counted license fail means caution by default (a license problem is not a safety problem).',
      policy: policy({ roots: ['lab'] }), endorsements: [], attestations: [l],
      expect: { status: 'caution', byKind: { license: kind('caution', 'fail', 1, 1, 0, 0) }, attestations: items([[l, trusted('fail', 1)]]), ...none },
    });
    const l2 = att('license severity flagged', 'lab', 'license', licenseP('noncompliant'));
    c.push({
      name: 'severity-param-flags-license', rule: '§10.1 severity: the policy may say a license fail means flagged.',
      policy: policy({ roots: ['lab'], params: { severity: { license: 'flagged' } } }), endorsements: [], attestations: [l2],
      expect: { status: 'flagged', byKind: { license: kind('flagged', 'fail', 1, 1, 0, 0) }, attestations: items([[l2, trusted('fail', 1)]]), ...none },
    });
  }
  {
    // F = 2 (critical, high), W = 2 (low, medium), P = 1 (clean), info counts but weighs in no side: 1/2 ≥ 0.5, disputed.
    const rows: [string, string, string][] = [['clean', 'info', 'pass'], ['pickle-exec', 'critical', 'fail'], ['backdoor', 'high', 'fail'], ['suspicious', 'info', 'info'], ['suspicious', 'low', 'warn'], ['malicious-code', 'medium', 'warn']];
    const as = rows.map(([f, s], i) => att(`payload verdict ${i}`, `p${i}`, 'payload', payloadP(f, s)));
    c.push({
      name: 'payload-verdicts', rule: '§10.3 Verdicts: payload finding clean → pass; otherwise severity high/critical → fail, info → info, low/medium → warn.',
      policy: policy({ roots: rows.map((_, i) => `p${i}`) }), endorsements: [], attestations: as,
      expect: {
        status: 'disputed', byKind: { payload: kind('disputed', 'fail', 6, 2, 2, 1) }, attestations: items(as.map((a, i) => [a, trusted(rows[i]![2], 1)])),
        disputes: [{ kind: 'payload', fail: side(['p1', 1], ['p2', 1]), pass: side(['p0', 1]) }], equivocators: [],
      },
    });
  }
  {
    // license: F = W = P = 1: disputed. dealignment: F = 1: flagged. audit: P = W = 1: caution. lineage, provenance: info,
    // decide nothing. Overall: the most severe, flagged.
    const as: [AttestationVector, ExpectedItem][] = [
      [att('verdicts l1', 'l1', 'license', licenseP('compliant')), trusted('pass', 1)],
      [att('verdicts l2', 'l2', 'license', licenseP('noncompliant')), trusted('fail', 1)],
      [att('verdicts l3', 'l3', 'license', licenseP('unknown')), trusted('warn', 1)],
      [att('verdicts d1', 'd1', 'dealignment', dealignP()), trusted('fail', 1)],
      [att('verdicts a1', 'a1', 'audit', auditP('pass')), trusted('pass', 1)],
      [att('verdicts a2', 'a2', 'audit', auditP('warn')), trusted('warn', 1)],
      [att('verdicts lineage', 'l1', 'lineage', lineageP([baseDigest(99), 'converted'])), trusted('info', 1)],
      [att('verdicts provenance', 'l1', 'provenance', provenanceP()), trusted('info', 1)],
    ];
    c.push({
      name: 'verdicts-and-the-most-severe-kind', rule: '§10.3 Verdicts (license compliant/noncompliant/unknown → pass/fail/warn, dealignment → fail, lineage and provenance → info) and §10.4: the overall status is the most severe kind\'s (flagged > disputed > caution > ok > unknown).',
      policy: policy({ roots: ['l1', 'l2', 'l3', 'd1', 'a1', 'a2'] }), endorsements: [], attestations: as.map(([a]) => a), bases: { [baseDigest(99)]: [] },
      expect: {
        status: 'flagged',
        byKind: { license: kind('disputed', 'fail', 3, 1, 1, 1), dealignment: kind('flagged', 'fail', 1, 1, 0, 0), audit: kind('caution', 'warn', 2, 0, 1, 1), lineage: kind('unknown', 'info', 1, 0, 0, 0), provenance: kind('unknown', 'info', 1, 0, 0, 0) },
        attestations: items(as), disputes: [{ kind: 'license', fail: side(['l2', 1]), pass: side(['l1', 1]) }], equivocators: [],
      },
    });
  }
  {
    const l = att('info only lineage', 'lab', 'lineage', lineageP([baseDigest(98), 'fine-tuned']));
    const p = att('info only provenance', 'lab', 'provenance', provenanceP());
    c.push({
      name: 'lineage-alone-decides-nothing', rule: '§10.4: lineage (and provenance, info only) decide no status: a view with only those counted is unknown.',
      policy: policy({ roots: ['lab'] }), endorsements: [], attestations: [l, p], bases: { [baseDigest(98)]: [] },
      expect: { status: 'unknown', byKind: { lineage: kind('unknown', 'info', 1, 0, 0, 0), provenance: kind('unknown', 'info', 1, 0, 0, 0) }, attestations: items([[l, trusted('info', 1)], [p, trusted('info', 1)]]), ...none },
    });
  }
  {
    const old = att('supersede lab old', 'lab', 'audit', auditP('fail'), { ago: 2 * DAY });
    const nu = att('supersede lab new', 'lab', 'audit', auditP('pass'), { ago: DAY });
    const low = att('', 'red', 'audit', auditP('pass'), { id: '1'.repeat(64) });
    const high = att('', 'red', 'audit', auditP('pass'), { id: '2'.repeat(64) });
    c.push({
      name: 'supersession', rule: '§10.3: of one issuer\'s attestations in a kind exactly one counts, the newest (the smallest id among equal times); the others are superseded, so a verdict signed twice weighs no more.',
      policy: two, endorsements: [], attestations: [old, high, nu, low],
      expect: { status: 'ok', byKind: { audit: kind('ok', 'pass', 2, 0, 0, 2) }, attestations: items([[old, not('superseded', 'fail')], [nu, trusted('pass', 1)], [low, trusted('pass', 1)], [high, not('superseded', 'pass')]]), ...none },
    });
  }
  {
    const lab = att('equivocate lab', 'lab', 'audit', auditP('pass'));
    const older = att('equivocate red older', 'red', 'audit', auditP('warn'), { ago: 2 * DAY });
    const p = att('equivocate red pass', 'red', 'audit', auditP('pass'));
    const f = att('equivocate red fail', 'red', 'audit', auditP('fail'));
    const c1 = att('equivocate cur old fail', 'cur', 'audit', auditP('fail'), { ago: 3 * DAY });
    const c2 = att('equivocate cur old pass', 'cur', 'audit', auditP('pass'), { ago: 3 * DAY });
    const c3 = att('equivocate cur new', 'cur', 'audit', auditP('pass'));
    c.push({
      name: 'equivocation', rule: '§10.3: when an issuer\'s newest attestations in a kind share one issuedAt and disagree, all of those are equivocating and count for nothing, and it is listed in equivocators (its older ones are superseded); disagreement among older ones is not equivocation.',
      policy: policy({ roots: ['lab', 'red', 'cur'] }), endorsements: [], attestations: [lab, older, p, f, c1, c2, c3],
      expect: {
        status: 'ok', byKind: { audit: kind('ok', 'pass', 2, 0, 0, 2) },
        attestations: items([[lab, trusted('pass', 1)], [older, not('superseded', 'warn')], [p, not('equivocating', 'pass')], [f, not('equivocating', 'fail')], [c1, not('superseded', 'fail')], [c2, not('superseded', 'pass')], [c3, trusted('pass', 1)]]),
        disputes: [], equivocators: [who('red')],
      },
    });
  }
  {
    const target = att('retract target', 'lab', 'audit', auditP('fail'));
    const retraction = att('retract it', 'lab', 'retraction', { target: target.id }, { ago: DAY / 2, expires: -DAY / 4 });
    const redFail = att('retract red fail', 'red', 'audit', auditP('fail'));
    const notOwner = att('retract not owner', 'lab', 'retraction', { target: redFail.id }, { ago: DAY / 2 });
    const unknown = att('retract unknown', 'lab', 'retraction', { target: 'd'.repeat(64) }, { ago: DAY / 2 });
    const lic = att('retract expired license', 'lab', 'license', licenseP('noncompliant'), { ago: 2 * DAY, expires: -DAY });
    const licRetraction = att('retract license', 'lab', 'retraction', { target: lic.id }, { ago: DAY / 2 });
    c.push({
      name: 'retraction', rule: '§9/§10.3: a retraction withdraws its target only when both are about the digest and have the same issuer (the target shows `retracted` with retractedBy, before `expired`), even when the retraction itself has expired; others have no effect, and retractions are not listed.',
      policy: two, endorsements: [], attestations: [target, retraction, redFail, notOwner, unknown, lic, licRetraction],
      expect: {
        status: 'flagged', byKind: { audit: kind('flagged', 'fail', 1, 1, 0, 0) },
        attestations: items([[target, not('retracted', 'fail', { retractedBy: retraction.id })], [redFail, trusted('fail', 1)], [lic, not('retracted', 'fail', { retractedBy: licRetraction.id })]]),
        ...none,
      },
    });
  }
  {
    const gone = att('expiry now', 'lab', 'audit', auditP('fail'), { expires: 0 });
    const live = att('expiry later', 'red', 'audit', auditP('pass'), { expires: 1000 });
    c.push({
      name: 'expiry', rule: '§10.3: an attestation with expiresAt ≤ now is expired and counts for nothing; one a second later still counts.',
      policy: two, endorsements: [], attestations: [gone, live],
      expect: { status: 'ok', byKind: { audit: kind('ok', 'pass', 1, 0, 0, 1) }, attestations: items([[gone, not('expired', 'fail')], [live, trusted('pass', 1)]]), ...none },
    });
  }
  {
    const e = att('not scored endorsement', 'lab', 'endorsement', { endorsed: who('red'), scope: ['*'], weight: 1 });
    const ap = att('not scored approval', 'lab', 'approval', { name: 'acme/model' });
    const u = att('not scored unknown', 'lab', 'https://example.org/custom-eval/v3', { verdict: 'fail' });
    const u2 = att('not scored unknown stranger', 'anon', 'https://example.org/custom-eval/v3', { verdict: 'fail' });
    c.push({
      name: 'kinds-without-a-verdict-are-not-scored', rule: '§10.3: endorsements, approvals and unknown predicate types are `not-scored` (the first reason, whoever the issuer) and decide nothing.',
      policy: policy({ roots: ['lab'] }), endorsements: [], attestations: [e, ap, u, u2],
      expect: { status: 'unknown', byKind: {}, attestations: items([[e, not('not-scored')], [ap, not('not-scored')], [u, not('not-scored')], [u2, not('not-scored')]]), ...none },
    });
  }
  {
    // weak: lab -> w (0.01): E 0.005, trust 0.0025 < minWeight. anon is blocked though lab endorses it.
    const pass = att('order lab pass', 'lab', 'audit', auditP('pass'));
    const blocked = att('order blocked', 'anon', 'audit', auditP('fail'));
    const blockedExpired = att('order blocked expired', 'anon', 'license', licenseP('noncompliant'), { ago: 2 * DAY, expires: -DAY });
    const stranger = att('order stranger', 'stranger', 'audit', auditP('fail'));
    const strangerExpired = att('order stranger expired', 'stranger', 'license', licenseP('noncompliant'), { ago: 2 * DAY, expires: -DAY });
    const weak = att('order weak', 'w', 'audit', auditP('fail'));
    c.push({
      name: 'reasons-in-order', rule: '§10.3: each attestation gets the first matching reason: expired before blocked and untrusted; blocked whatever endorses it; untrusted (no trust in its kind); weak (0 < trust < minWeight).',
      policy: policy({ roots: ['lab'], blocks: ['anon'] }), endorsements: [end('order lab anon', 'lab', 'anon', 1), end('order lab w', 'lab', 'w', 0.01)],
      attestations: [pass, blocked, blockedExpired, stranger, strangerExpired, weak],
      expect: {
        status: 'ok', byKind: { audit: kind('ok', 'pass', 1, 0, 0, 1) },
        attestations: items([[pass, trusted('pass', 1)], [blocked, not('blocked', 'fail')], [blockedExpired, not('expired', 'fail')], [stranger, not('untrusted', 'fail')], [strangerExpired, not('expired', 'fail')], [weak, not('weak', 'fail')]]),
        ...none,
      },
    });
  }
  {
    // minWeight 0.0625: lab -> a (0.25): E 0.125, trust 0.0625, exactly minWeight: counts. lab -> b (0.125): 0.03125: weak.
    const a = att('min weight a', 'a', 'audit', auditP('fail'));
    const b = att('min weight b', 'b', 'audit', auditP('fail'));
    c.push({
      name: 'min-weight-boundary', rule: '§10.2 step 4: an issuer counts in a kind when its trust there is at least minWeight (equal counts; below is weak).',
      policy: policy({ roots: ['lab'], params: { minWeight: 0.0625 } }), endorsements: [end('min weight lab a', 'lab', 'a', 0.25), end('min weight lab b', 'lab', 'b', 0.125)], attestations: [a, b],
      expect: { status: 'flagged', byKind: { audit: kind('flagged', 'fail', 1, 0.0625, 0, 0) }, attestations: items([[a, trusted('fail', 0.0625)], [b, not('weak', 'fail')]]), ...none },
    });
  }
  {
    // Without lab: lab's own audit is ignored, and scanner (trusted only through lab) has no trust: untrusted.
    const f = att('without lab fail', 'lab', 'audit', auditP('fail'));
    const p = att('without red pass', 'red', 'audit', auditP('pass'));
    const s = att('without scanner', 'scanner', 'payload', payloadP('pickle-exec', 'critical'));
    c.push({
      name: 'what-if-without-an-issuer', rule: '§10.3: `without` computes the view as if that issuer were blocked: its attestations are `ignored` and the trust it passes on goes too.',
      policy: two, endorsements: [end('without lab scanner', 'lab', 'scanner', 1, ['payload'])], attestations: [f, p, s], without: who('lab'),
      expect: { status: 'ok', byKind: { audit: kind('ok', 'pass', 1, 0, 0, 1) }, attestations: items([[f, not('ignored', 'fail')], [p, trusted('pass', 1)], [s, not('untrusted', 'fail')]]), ...none },
    });
  }
  {
    // cur (0.8) -> scanner (payload) and -> anon (blocked, dropped): scanner E 0.8, trust 0.4. cur keeps nothing.
    const s = att('subscription scanner', 'scanner', 'payload', payloadP('pickle-exec', 'critical'));
    const cur = att('subscription curator', 'cur', 'audit', auditP('pass'));
    const anon = att('subscription anon', 'anon', 'audit', auditP('fail'));
    c.push({
      name: 'subscription-and-block', rule: '§10.1: a subscription\'s endorsements give trust, the curator\'s own attestations do not count unless it is endorsed, and a blocked issuer never counts whatever endorses it.',
      policy: policy({ subscriptions: [['cur', 0.8]], blocks: ['anon'] }), endorsements: [end('subscription cur scanner', 'cur', 'scanner', 1, ['payload']), end('subscription cur anon', 'cur', 'anon', 1)],
      attestations: [s, cur, anon],
      expect: { status: 'flagged', byKind: { payload: kind('flagged', 'fail', 1, 0.4, 0, 0) }, attestations: items([[s, trusted('fail', 0.4)], [cur, not('untrusted', 'pass')], [anon, not('blocked', 'fail')]]), ...none },
    });
  }
  {
    const as = [att('untrusted a', 'sa', 'audit', auditP('fail')), att('untrusted b', 'sb', 'audit', auditP('pass')), att('untrusted c', 'sc', 'audit', auditP('warn')), att('untrusted d', 'sd', 'license', licenseP('noncompliant'))];
    c.push({
      name: 'nothing-counted-lists-untrusted-evidence', rule: '§10.4: a view with nothing counted is unknown and says how much untrusted evidence it lists, by verdict.',
      policy: policy({ roots: ['lab'] }), endorsements: [], attestations: as,
      expect: { status: 'unknown', byKind: {}, attestations: items(as.map((a) => [a, not('untrusted', (a.predicate['verdict'] === 'noncompliant' ? 'fail' : a.predicate['verdict']) as string)])), ...none, untrusted: { listed: 4, fail: 2, warn: 1, pass: 1 } },
    });
  }
  return [...c, ...lineageCases()];
}

/** SPEC §10.5: the bases' findings a counted lineage claim carries over. */
function lineageCases(): ViewCase[] {
  const c: ViewCase[] = [];
  const none = { disputes: [], equivocators: [] };
  const B1 = baseDigest(1);
  const B2 = baseDigest(2);
  const B3 = baseDigest(3);
  const findingRoots = ['own', 'ra', 'rw', 'rp', 'rd', 'rl', 'rs'];
  /** One base holding a finding of every kind, each by its own root (weight 1). */
  const findings = (tag: string): Record<string, AttestationVector> => ({
    ra: att(`${tag} ra`, 'ra', 'audit', auditP('fail')),
    rw: att(`${tag} rw`, 'rw', 'audit', auditP('warn')),
    rp: att(`${tag} rp`, 'rp', 'audit', auditP('pass')),
    rd: att(`${tag} rd`, 'rd', 'dealignment', dealignP()),
    rl: att(`${tag} rl`, 'rl', 'license', licenseP('noncompliant')),
    rs: att(`${tag} rs`, 'rs', 'payload', payloadP('pickle-exec', 'critical')),
  });
  const table = (name: string, rule: string, relation: string, carried: Record<string, [string, string] | undefined>, own: [string, string][], status: string, byKind: ViewCase['expect']['byKind'], disputes: ViewCase['expect']['disputes'] = []): void => {
    const f = findings(name);
    const claim = att(`${name} claim`, 'lab', 'lineage', lineageP([B1, relation]));
    const owns = own.map(([by, v]) => att(`${name} own ${by}`, by, 'audit', auditP(v)));
    const ex: [AttestationVector, ExpectedItem][] = [[claim, trusted('info', 1)], ...owns.map((a, i): [AttestationVector, ExpectedItem] => [a, trusted(own[i]![1], 1)])];
    for (const [by, v] of Object.entries(carried)) if (v !== undefined) ex.push([f[by]!, inh(v[1], 1, B1, relation, 'lab', v[0])]);
    c.push({
      name, rule, policy: policy({ roots: ['lab', ...findingRoots] }), endorsements: [], attestations: [claim, ...owns], bases: { [B1]: Object.values(f) },
      expect: { status, byKind: { lineage: kind('unknown', 'info', 1, 0, 0, 0), ...byKind }, attestations: items(ex), disputes, equivocators: [] },
    });
  };
  // converted: all as is but payload. audit F = W = P = 1: disputed; dealignment flagged; license caution.
  table('lineage-converted', '§10.5 table, converted: audit, dealignment and license findings of the base carry over as they are; payload findings never do.',
    'converted', { ra: ['fail', 'fail'], rw: ['warn', 'warn'], rp: ['pass', 'pass'], rd: ['fail', 'fail'], rl: ['fail', 'fail'] }, [], 'flagged',
    { audit: kind('disputed', 'fail', 3, 1, 1, 1), dealignment: kind('flagged', 'fail', 1, 1, 0, 0), license: kind('caution', 'fail', 1, 1, 0, 0) },
    [{ kind: 'audit', fail: side(['ra', 1]), pass: side(['rp', 1]) }]);
  table('lineage-quantized', '§10.5 table, quantized: audit fail and warn carry over as warn, an audit pass does not; dealignment and license as they are; payload never.',
    'quantized', { ra: ['fail', 'warn'], rw: ['warn', 'warn'], rd: ['fail', 'fail'], rl: ['fail', 'fail'] }, [], 'flagged',
    { audit: kind('caution', 'warn', 2, 0, 2, 0), dealignment: kind('flagged', 'fail', 1, 1, 0, 0), license: kind('caution', 'fail', 1, 1, 0, 0) });
  table('lineage-pruned-with-own-audit', '§10.5 table, pruned (as quantized): audit fail and warn carry over as warn even when the model has its own counted audit.',
    'pruned', { ra: ['fail', 'warn'], rw: ['warn', 'warn'], rd: ['fail', 'fail'], rl: ['fail', 'fail'] }, [['own', 'pass']], 'flagged',
    { audit: kind('caution', 'warn', 3, 0, 2, 1), dealignment: kind('flagged', 'fail', 1, 1, 0, 0), license: kind('caution', 'fail', 1, 1, 0, 0) });
  table('lineage-distilled', '§10.5 table, distilled (as fine-tuned, merged): with no own counted audit, audit fail and warn carry over as warn, pass does not; dealignment fail becomes warn; license as is; payload never.',
    'distilled', { ra: ['fail', 'warn'], rw: ['warn', 'warn'], rd: ['fail', 'warn'], rl: ['fail', 'fail'] }, [], 'caution',
    { audit: kind('caution', 'warn', 2, 0, 2, 0), dealignment: kind('caution', 'warn', 1, 0, 1, 0), license: kind('caution', 'fail', 1, 1, 0, 0) });
  table('lineage-fine-tuned-with-own-audit', '§10.5 table, fine-tuned: when the model has its own counted audit, no audit finding of the base carries over; dealignment fail becomes warn; license as is.',
    'fine-tuned', { rd: ['fail', 'warn'], rl: ['fail', 'fail'] }, [['own', 'pass']], 'caution',
    { audit: kind('ok', 'pass', 1, 0, 0, 1), dealignment: kind('caution', 'warn', 1, 0, 1, 0), license: kind('caution', 'fail', 1, 1, 0, 0) });
  {
    // lin: lab -> lin (lineage only): lineage trust 0.25. ra's fail (1) carries at 0.25; small's license fail (0.125) at 0.125.
    const ra = att('lineage min ra', 'ra', 'audit', auditP('fail'));
    const small = att('lineage min small', 'small', 'license', licenseP('noncompliant'));
    const claim = att('lineage min claim', 'lin', 'lineage', lineageP([B1, 'converted']));
    c.push({
      name: 'lineage-weight-is-the-lesser', rule: '§10.5: a carried finding weighs min(its weight, the lineage issuer\'s lineage trust).',
      policy: policy({ roots: ['lab', 'ra', root('small', { weight: 0.125 })] }), endorsements: [end('lineage min lab lin', 'lab', 'lin', 1, ['lineage'])], attestations: [claim], bases: { [B1]: [ra, small] },
      expect: {
        status: 'flagged', byKind: { lineage: kind('unknown', 'info', 1, 0, 0, 0), audit: kind('flagged', 'fail', 1, 0.25, 0, 0), license: kind('caution', 'fail', 1, 0.125, 0, 0) },
        attestations: items([[claim, trusted('info', 0.25)], [ra, inh('fail', 0.25, B1, 'converted', 'lin', 'fail')], [small, inh('fail', 0.125, B1, 'converted', 'lin', 'fail')]]), ...none,
      },
    });
  }
  {
    // D <-merged- B1 (claim by lab) ; B1 <-quantized- B2 (claim by lin, lineage trust 0.5) ; B2 <-converted- B3.
    // B2's dealignment (1) reaches B1 at min(1, 0.5) = 0.5 as fail, then D as warn (merged), weight min(0.5, 1).
    // B1's audit fail reaches D as warn. B3's license finding is three hops away: it does not reach D.
    const claimD = att('two hops claim D', 'lab', 'lineage', lineageP([B1, 'merged']));
    const claimB1 = att('two hops claim B1', 'lin', 'lineage', lineageP([B2, 'quantized']));
    const claimB2 = att('two hops claim B2', 'lab', 'lineage', lineageP([B3, 'converted']));
    const ra = att('two hops ra', 'ra', 'audit', auditP('fail'));
    const rd = att('two hops rd', 'rd', 'dealignment', dealignP());
    const rl = att('two hops rl', 'rl', 'license', licenseP('noncompliant'));
    c.push({
      name: 'lineage-two-hops-and-no-more', rule: '§10.5: findings travel at most 2 lineage hops, mapped at each hop and weighing the least along the way; the mark names the base this model\'s claim names, its relation and issuer, and the original verdict.',
      policy: policy({ roots: ['lab', 'ra', 'rd', 'rl', root('lin', { weight: 0.5, scope: ['lineage'] })] }), endorsements: [], attestations: [claimD],
      bases: { [B1]: [claimB1, ra], [B2]: [claimB2, rd], [B3]: [rl] },
      expect: {
        status: 'caution', byKind: { lineage: kind('unknown', 'info', 1, 0, 0, 0), audit: kind('caution', 'warn', 1, 0, 1, 0), dealignment: kind('caution', 'warn', 1, 0, 0.5, 0) },
        attestations: items([[claimD, trusted('info', 1)], [ra, inh('warn', 1, B1, 'merged', 'lab', 'fail')], [rd, inh('warn', 0.5, B1, 'merged', 'lab', 'fail')]]), ...none,
      },
    });
  }
  {
    // scanner has trust in payload only: its lineage claim is untrusted and names nothing. B2's stranger fail does not count there.
    const bad = att('uncounted claim scanner', 'scanner', 'lineage', lineageP([B1, 'converted']));
    const good = att('uncounted claim lab', 'lab', 'lineage', lineageP([B2, 'converted']));
    const ra = att('uncounted ra', 'ra', 'audit', auditP('fail'));
    const stranger = att('uncounted stranger', 'stranger', 'audit', auditP('fail'));
    const rp = att('uncounted rp', 'rp', 'audit', auditP('pass'));
    c.push({
      name: 'lineage-only-counted-claims-and-findings', rule: '§10.5: only a counted lineage claim names bases, and only the base\'s counted findings carry over.',
      policy: policy({ roots: ['lab', 'ra', 'rp'] }), endorsements: [end('uncounted lab scanner', 'lab', 'scanner', 1, ['payload'])], attestations: [bad, good],
      bases: { [B1]: [ra], [B2]: [stranger, rp] },
      expect: {
        status: 'ok', byKind: { lineage: kind('unknown', 'info', 1, 0, 0, 0), audit: kind('ok', 'pass', 1, 0, 0, 1) },
        attestations: items([[bad, not('untrusted', 'info')], [good, trusted('info', 1)], [rp, inh('pass', 1, B2, 'converted', 'lab', 'pass')]]), ...none,
      },
    });
  }
  {
    // Five bases and the model itself: the self-reference is ignored and takes no place; 4 of the 5 bases carry a warn.
    const digests = [1, 2, 3, 4, 5].map((i) => baseDigest(10 + i));
    const claim = att('four bases claim', 'lab', 'lineage', lineageP([DIGEST, 'converted'], ...digests.map((d): [string, string] => [d, 'quantized'])));
    const warns = digests.map((d, i) => [d, att(`four bases w${i}`, `w${i}`, 'audit', auditP('warn'))] as const);
    c.push({
      name: 'lineage-at-most-four-bases-self-ignored', rule: '§10.5: at most 4 bases per model; a base naming the model itself is ignored (it takes none of the 4). Which 4 of 5 is not pinned.',
      policy: policy({ roots: ['lab', 'w0', 'w1', 'w2', 'w3', 'w4'] }), endorsements: [], attestations: [claim], bases: Object.fromEntries(warns.map(([d, a]) => [d, [a]])),
      expect: { status: 'caution', byKind: { lineage: kind('unknown', 'info', 1, 0, 0, 0), audit: kind('caution', 'warn', 4, 0, 4, 0) }, ...none },
    });
  }
  {
    // D <-> B1: the walk views B1 once, B1's claim naming D adds nothing. D: own pass (1), B1's fail (1): disputed.
    const claimD = att('cycle claim D', 'lab', 'lineage', lineageP([B1, 'converted']));
    const claimB1 = att('cycle claim B1', 'lab', 'lineage', lineageP([DIGEST, 'converted']));
    const own = att('cycle own', 'rp', 'audit', auditP('pass'));
    const ra = att('cycle ra', 'ra', 'audit', auditP('fail'));
    c.push({
      name: 'lineage-cycles-are-harmless', rule: '§10.5: cycles are harmless: a base naming the model back carries nothing of the model\'s own findings back to it.',
      policy: policy({ roots: ['lab', 'ra', 'rp'] }), endorsements: [], attestations: [claimD, own], bases: { [B1]: [claimB1, ra] },
      expect: {
        status: 'disputed', byKind: { lineage: kind('unknown', 'info', 1, 0, 0, 0), audit: kind('disputed', 'fail', 2, 1, 0, 1) },
        attestations: items([[claimD, trusted('info', 1)], [own, trusted('pass', 1)], [ra, inh('fail', 1, B1, 'converted', 'lab', 'fail')]]),
        disputes: [{ kind: 'audit', fail: side(['ra', 1]), pass: side(['rp', 1]) }], equivocators: [],
      },
    });
  }
  {
    // One attestation about B1 and B2 carries once; one about D and B1 is D's own, not inherited.
    const claim = att('dedupe claim', 'lab', 'lineage', lineageP([B1, 'converted'], [B2, 'converted']));
    const both = att('dedupe both bases', 'ra', 'audit', auditP('fail'));
    const ownToo = att('dedupe own and base', 'rl', 'license', licenseP('noncompliant'));
    c.push({
      name: 'lineage-each-finding-once', rule: '§10.5 (inheritFrom; not yet in the SPEC text): a finding carries over once, whatever number of bases it is about, and not at all when it is about the model itself.',
      policy: policy({ roots: ['lab', 'ra', 'rl'] }), endorsements: [], attestations: [claim, ownToo], bases: { [B1]: [both, ownToo], [B2]: [both] },
      expect: {
        status: 'flagged', byKind: { lineage: kind('unknown', 'info', 1, 0, 0, 0), audit: kind('flagged', 'fail', 1, 1, 0, 0), license: kind('caution', 'fail', 1, 1, 0, 0) },
        attestations: items([[claim, trusted('info', 1)], [ownToo, trusted('fail', 1)], [both, inh('fail', 1, B1, 'converted', 'lab', 'fail')]]), ...none,
      },
    });
  }
  {
    // rw: fail about B1 (3 days ago), warn about B2 (1 day ago): only the warn carries. rp: pass about D (2 days ago),
    // fail about B1 (1 day ago): its own word on D supersedes. D audit: P 1 (own), W 1 (rw): caution.
    const claim = att('inherit supersede claim', 'lab', 'lineage', lineageP([B1, 'converted'], [B2, 'converted']));
    const rwOld = att('inherit supersede rw old', 'rw', 'audit', auditP('fail'), { ago: 3 * DAY });
    const rwNew = att('inherit supersede rw new', 'rw', 'audit', auditP('warn'), { ago: DAY });
    const rpOwn = att('inherit supersede rp own', 'rp', 'audit', auditP('pass'), { ago: 2 * DAY });
    const rpBase = att('inherit supersede rp base', 'rp', 'audit', auditP('fail'), { ago: DAY });
    c.push({
      name: 'lineage-one-word-per-issuer-and-kind', rule: '§10.5 (inheritFrom; not yet in the SPEC text): an issuer\'s own counted word on the model in a kind supersedes what it said about a base, and of its findings about the bases in a kind only the newest carries over.',
      policy: policy({ roots: ['lab', 'rw', 'rp'] }), endorsements: [], attestations: [claim, rpOwn], bases: { [B1]: [rwOld, rpBase], [B2]: [rwNew] },
      expect: {
        status: 'caution', byKind: { lineage: kind('unknown', 'info', 1, 0, 0, 0), audit: kind('caution', 'warn', 2, 0, 1, 1) },
        attestations: items([[claim, trusted('info', 1)], [rpOwn, trusted('pass', 1)], [rwNew, inh('warn', 1, B2, 'converted', 'lab', 'warn')]]), ...none,
      },
    });
  }
  return c;
}

/** Every vector file: name -> content. */
export function buildVectors(): Record<string, unknown> {
  return {
    'ed25519.json': { description: 'Strict Ed25519 verification (SPEC.md, Signatures). Hex; valid says whether a conforming verifier accepts.', cases: ed25519Vectors() },
    'pae.json': { description: 'DSSE v1 Pre-Authentication Encoding. Hex.', cases: paeVectors() },
    'did-key.json': { description: 'Ed25519 did:key encoding.', ...didVectors() },
    'model-digest.json': { description: 'Model directory root digests (SPEC.md, Model digests). Files listed in digest order; ignored paths must not change the root.', cases: modelDigestVectors() },
    'trust-graph.json': {
      description: 'The trust graph (SPEC §10.1-10.2): a trust policy and endorsements at `now` -> every issuer\'s trust per kind (issuers and kinds not listed: 0) and some strongest paths. Expectations are worked out by hand from the SPEC; `rule` names what each case pins; a case with `pending` is one the reference code does not yet agree with.',
      now: NOW,
      cases: trustCases(),
    },
    'views.json': {
      description: 'Reputation views (SPEC §10): a trust policy, endorsements, attestations about `digest` (and about the bases lineage claims name), `now` and an optional what-if `without` -> the status, per scored kind its status, most severe counted verdict, number counted and F/W/P weights, each listed attestation\'s reason (and verdict, weight when it counts, retraction, inheritance), disputes and equivocators. Weights are shown to 4 decimals. Expectations are worked out by hand from the SPEC; `rule` names what each case pins; a case with `pending` is one the reference code does not yet agree with.',
      now: NOW,
      digest: DIGEST,
      cases: viewCases(),
    },
    'envelopes.json': {
      description: 'Envelopes through the whole ingest path. Evaluate at `now` with default limits unless a case overrides them; ingest `given` first (each is accepted).',
      now: NOW,
      cases: envelopeCases(),
    },
  };
}
