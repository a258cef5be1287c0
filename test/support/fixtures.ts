import { randomBytes } from 'node:crypto';
import { encodeBase64, utf8 } from '../../src/encoding/bytes.js';
import { pae, PAYLOAD_TYPE } from '../../src/dsse/pae.js';
import { didKeyFromPublicKey, type DidKey } from '../../src/identity/did-key.js';
import { publicKeyOf } from '../../src/crypto/reference-suite.js';
import { PREDICATES, type PredicateKind } from '../../src/statement/predicates.js';
import { STATEMENT_TYPE, type Envelope, type Statement } from '../../src/statement/statement.js';
import { timestamp } from '../../src/statement/build.js';
import { nativeSigner } from '../../node/crypto/native-suite.js';

/** A test issuer with a fast native signer. */
export interface TestIssuer {
  readonly did: DidKey;
  readonly secretKey: Uint8Array;
  readonly publicKey: Uint8Array;
  sign(message: Uint8Array): Uint8Array;
}

export function makeIssuer(seed?: Uint8Array): TestIssuer {
  const secretKey = seed ?? new Uint8Array(randomBytes(32));
  const publicKey = publicKeyOf(secretKey);
  return { did: didKeyFromPublicKey(publicKey), secretKey, publicKey, sign: nativeSigner(secretKey) };
}

/** A random sha256 hex digest. */
export function randomDigest(): string {
  return randomBytes(32).toString('hex');
}

/** A fixed issuer to endorse in examples (made once: key derivation in pure JS is slow). */
let endorsed: TestIssuer | undefined;

/** Example predicate fields (no header) for each kind. */
export function exampleFields(kind: PredicateKind, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const base: Record<PredicateKind, Record<string, unknown>> = {
    audit: { harness: { name: 'lm-eval', version: '0.4.2' }, metrics: { refusal_rate: 0.97 }, verdict: 'pass' },
    dealignment: { baseModel: { sha256: 'a'.repeat(64) }, method: 'abliteration', evidence: { description: 'refusal direction removed' } },
    license: { declared: 'Apache-2.0', detected: ['Apache-2.0'], verdict: 'compliant' },
    payload: { scanner: { name: 'picklescan', version: '0.0.14' }, finding: { kind: 'pickle-exec', description: 'os.system in data.pkl' }, severity: 'critical' },
    lineage: { derivedFrom: [{ digest: { sha256: 'b'.repeat(64) }, relation: 'quantized' }] },
    retraction: { target: 'c'.repeat(64), reason: 'wrong model' },
    endorsement: { endorsed: (endorsed ??= makeIssuer(new Uint8Array(32).fill(7))).did, scope: ['audit'], weight: 0.5 },
    approval: { name: 'acme/model', version: '1.0', license: 'Apache-2.0' },
    provenance: { signatureType: 'https://model_signing/signature/v1.0', method: 'key', signer: { keyFingerprint: 'd'.repeat(64) }, files: 3 },
  };
  return { ...base[kind], ...extra };
}

export interface StatementOptions {
  readonly subjects?: readonly string[];
  /** The subjects' name (default model.gguf). */
  readonly subjectName?: string;
  readonly kind?: PredicateKind;
  readonly predicateType?: string;
  readonly fields?: Record<string, unknown>;
  readonly issuedAt?: Date;
  readonly expiresAt?: Date;
}

/** A statement by `issuer` (audit about a random digest unless told otherwise). */
export function makeStatement(issuer: TestIssuer, o: StatementOptions = {}): Statement {
  const kind = o.kind ?? 'audit';
  return {
    _type: STATEMENT_TYPE,
    subject: (o.subjects ?? [randomDigest()]).map((d) => ({ name: o.subjectName ?? 'model.gguf', digest: { sha256: d } })),
    predicateType: o.predicateType ?? PREDICATES[kind].type,
    predicate: {
      ...(o.fields ?? exampleFields(kind)),
      issuer: issuer.did,
      issuedAt: timestamp(o.issuedAt ?? new Date(Date.now() - 60_000)),
      ...(o.expiresAt ? { expiresAt: timestamp(o.expiresAt) } : {}),
    },
  };
}

/** Signs any JSON value (valid statement or not) as a DSSE envelope. */
export function signPayload(issuer: TestIssuer, payload: unknown, opts: { keyid?: string; payloadType?: string } = {}): Envelope {
  const bytes = typeof payload === 'string' ? utf8.encode(payload) : utf8.encode(JSON.stringify(payload));
  const type = opts.payloadType ?? PAYLOAD_TYPE;
  return { payloadType: type, payload: encodeBase64(bytes), signatures: [{ keyid: opts.keyid ?? issuer.did, sig: encodeBase64(issuer.sign(pae(type, bytes))) }] };
}

/** A valid signed attestation as one JSON line. */
export function makeEnvelopeLine(issuer: TestIssuer, o: StatementOptions = {}): string {
  return JSON.stringify(signPayload(issuer, makeStatement(issuer, o)));
}
