import { createHash } from 'node:crypto';
import * as ed from '@noble/ed25519';
import { sha512 } from '@noble/hashes/sha2.js';
import { concatBytes, encodeBase64, toHex, utf8 } from '../../src/encoding/bytes.js';
import { pae, PAYLOAD_TYPE } from '../../src/dsse/pae.js';
import { didKeyFromPublicKey } from '../../src/identity/did-key.js';
import { base58 } from '@scure/base';
import { kindOfType, PREDICATES, type PredicateKind } from '../../src/statement/predicates.js';
import { rootDigest } from '../../src/digest/model-digest.js';
import { referenceSuite } from '../../src/crypto/reference-suite.js';
import { TrustPolicyFile } from '../../src/reputation/policy.js';
import { TrustGraph, type EndorsementInput } from '../../src/reputation/trust-graph.js';
import { reputationView, round } from '../../src/reputation/view.js';
import { STATEMENT_TYPE, type Statement } from '../../src/statement/statement.js';

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
function key(label: string): Key {
  const secret = seed(label);
  const ext = ed.utils.getExtendedPublicKey(secret);
  return { did: didKeyFromPublicKey(ext.pointBytes), secret, pub: ext.pointBytes, scalar: ext.scalar };
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
  accept('endorsement', envelope(alice, statement(alice, 'endorsement', { endorsed: bob.did, scope: ['audit'], weight: 0.5 }, { subject: [{ name: bob.did, digest: { sha256: toHex(sha256(utf8.encode(bob.did))) } }] })));
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

// --- Reputation views (SPEC §10) --------------------------------------------------------

/** One view case: a policy, endorsements, attestations about DIGEST, a time -> the view. */
export interface ViewCase {
  name: string;
  policy: unknown;
  endorsements: EndorsementInput[];
  attestations: { id: string; issuer: string; predicateType: string; predicate: Record<string, unknown>; issuedAt: string; expiresAt?: string }[];
  without?: string;
  expect: {
    status: string;
    byPredicate: Record<string, { status: string; weights: Record<string, number>; attestations: { id: string; counts: boolean; reason: string; weight?: number }[] }>;
    trust: Record<string, Record<string, number>>;
  };
}

function viewCases(): ViewCase[] {
  const [lab, red, anon, curator, scanner, weak] = ['lab', 'red', 'anon', 'curator', 'scanner', 'weak'].map((l) => key(`view ${l}`).did) as [string, string, string, string, string, string];
  const sybils = Array.from({ length: 30 }, (_, i) => key(`view sybil ${i}`).did);
  let n = 0;
  const nextId = (): string => toHex(sha256(utf8.encode(`view vector ${n++}`)));
  const day = 86_400_000;
  const at = (msBeforeNow: number): string => new Date(Date.parse(NOW) - msBeforeNow).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const a = (issuer: string, kind: PredicateKind, fields: Record<string, unknown>, o: { ago?: number; expires?: number } = {}) => ({
    id: nextId(), issuer, predicateType: PREDICATES[kind].type, predicate: { issuer, issuedAt: at(o.ago ?? day), ...(o.expires === undefined ? {} : { expiresAt: at(-o.expires) }), ...fields },
    issuedAt: at(o.ago ?? day), ...(o.expires === undefined ? {} : { expiresAt: at(-o.expires) }),
  });
  const e = (endorser: string, endorsed: string, weight: number, scope: string[] = ['*'], o: { retracted?: boolean; ago?: number } = {}): EndorsementInput => ({
    id: nextId(), endorser, endorsed, scope, weight, issuedAt: Date.parse(NOW) - (o.ago ?? day), expiresAt: undefined, retracted: o.retracted ?? false,
  });
  const audit = (verdict: string) => ({ harness: { name: 'lm-eval', version: '0.4.2' }, metrics: {}, verdict });
  const payload = { scanner: { name: 'picklescan', version: '0.0.14' }, finding: { kind: 'pickle-exec', description: 'os.system' }, severity: 'critical' };
  const cases: Omit<ViewCase, 'expect'>[] = [
    { name: 'sybil-cluster-behind-one-weak-endorsement', policy: { version: 2, roots: [{ issuer: lab }] }, endorsements: [e(lab, weak, 0.1), e(weak, sybils[0]!, 1), ...sybils.flatMap((s, i) => [e(s, sybils[(i + 1) % 30]!, 1), e(s, sybils[(i + 7) % 30]!, 1)])], attestations: [a(lab, 'audit', audit('pass')), ...sybils.map((s) => a(s, 'audit', audit('fail')))] },
    { name: 'scope-carried-along-a-path', policy: { version: 2, roots: [{ issuer: lab, scope: ['payload'] }] }, endorsements: [e(lab, scanner, 1)], attestations: [a(scanner, 'payload', payload), a(scanner, 'audit', audit('fail'))] },
    { name: 'dispute-between-trusted-issuers', policy: { version: 2, roots: [{ issuer: lab }, { issuer: red, weight: 0.8 }] }, endorsements: [], attestations: [a(lab, 'audit', audit('fail')), a(red, 'audit', audit('pass'))] },
    { name: 'supersession-and-equivocation', policy: { version: 2, roots: [{ issuer: lab }, { issuer: red }] }, endorsements: [], attestations: [a(lab, 'audit', audit('fail'), { ago: 2 * day }), a(lab, 'audit', audit('pass'), { ago: day }), a(red, 'audit', audit('pass'), { ago: day }), a(red, 'audit', audit('fail'), { ago: day })] },
    { name: 'subscription-and-block', policy: { version: 2, subscriptions: [{ issuer: curator, weight: 0.8 }], blocks: [{ issuer: anon }] }, endorsements: [e(curator, scanner, 1, ['payload']), e(curator, anon, 1)], attestations: [a(scanner, 'payload', payload), a(curator, 'audit', audit('pass')), a(anon, 'audit', audit('fail'))] },
    { name: 'retracted-endorsement-and-license-severity', policy: { version: 2, roots: [{ issuer: lab }] }, endorsements: [e(lab, red, 1, ['*'], { retracted: true }), e(lab, anon, 1, ['license'])], attestations: [a(red, 'audit', audit('fail')), a(anon, 'license', { declared: 'MIT', detected: ['GPL-3.0-only'], verdict: 'noncompliant' })] },
    { name: 'what-if-without-an-issuer', policy: { version: 2, roots: [{ issuer: lab }, { issuer: red }] }, endorsements: [], attestations: [a(lab, 'payload', payload), a(red, 'audit', audit('pass'))], without: lab },
  ];
  return cases.map((c) => ({ ...c, expect: expectedView(c) }));
}

/** The view the reference implementation computes for a case (what the vectors pin down). */
export function expectedView(c: Omit<ViewCase, 'expect'>): ViewCase['expect'] {
  const now = Date.parse(NOW);
  const graph = TrustGraph.compute(TrustPolicyFile.parse(c.policy), c.endorsements, now);
  const inputs = c.attestations.map((x) => ({
    id: x.id, issuer: x.issuer, kind: kindOfType(x.predicateType), issuedAt: Date.parse(x.issuedAt), expiresAt: x.expiresAt === undefined ? undefined : Date.parse(x.expiresAt),
    statement: { _type: STATEMENT_TYPE, subject: [{ name: 'example.gguf', digest: { sha256: DIGEST } }], predicateType: x.predicateType, predicate: x.predicate } as Statement,
  }));
  const v = reputationView(DIGEST, inputs, graph, now, { without: c.without });
  const trust: Record<string, Record<string, number>> = {};
  for (const [issuer, t] of graph.reached()) trust[issuer] = Object.fromEntries(Object.entries(t).map(([k, x]) => [k, round(x)]));
  return {
    status: v.status,
    byPredicate: Object.fromEntries(Object.entries(v.byPredicate).map(([k, g]) => [k, {
      status: g.status,
      weights: g.weights,
      attestations: g.attestations.map((i) => ({ id: i.id, counts: i.counts, reason: i.reason, ...(i.weight === undefined ? {} : { weight: i.weight }) })),
    }])),
    trust,
  };
}

/** Every vector file: name -> content. */
export function buildVectors(): Record<string, unknown> {
  return {
    'ed25519.json': { description: 'Strict Ed25519 verification (SPEC.md, Signatures). Hex; valid says whether a conforming verifier accepts.', cases: ed25519Vectors() },
    'pae.json': { description: 'DSSE v1 Pre-Authentication Encoding. Hex.', cases: paeVectors() },
    'did-key.json': { description: 'Ed25519 did:key encoding.', ...didVectors() },
    'model-digest.json': { description: 'Model directory root digests (SPEC.md, Model digests). Files listed in digest order; ignored paths must not change the root.', cases: modelDigestVectors() },
    'views.json': {
      description: 'Reputation views (SPEC §10): a trust policy, the live endorsements, attestations about one digest and `now` -> per kind the status, weights and each attestation\'s reason and weight (4 decimals), and every reached issuer\'s trust per kind.',
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
