import type { z } from 'zod';
import { ChorusError, type ErrorCode } from '../errors.js';
import { decodeBase64, encodeBase64, toHex, utf8 } from '../encoding/bytes.js';
import { pae, PAYLOAD_TYPE } from '../dsse/pae.js';
import { publicKeyFromDidKey, type DidKey } from '../identity/did-key.js';
import { kindOfType, PREDICATES } from '../statement/predicates.js';
import { Envelope, Statement, STATEMENT_TYPE } from '../statement/statement.js';
import type { CryptoSuite } from '../crypto/suite.js';
import type { Limits } from './limits.js';
import type { VerifiedAttestation, verifiedBrand } from './verified.js';

function fail(code: ErrorCode, message: string, details?: Record<string, unknown>): never {
  throw new ChorusError(code, message, details);
}

function issuesOf(error: z.ZodError): { path: string; message: string }[] {
  return error.issues.slice(0, 10).map((i) => ({ path: i.path.join('.'), message: i.message }));
}

function describe(error: z.ZodError): string {
  const first = error.issues[0];
  if (!first) return 'invalid';
  const at = first.path.length > 0 ? first.path.join('.') : '(root)';
  return `${at}: ${first.message}`;
}

// ignoreBOM keeps a byte-order mark in the text, so JSON.parse rejects it whether the
// input arrived as bytes or as a string.
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** An envelope that passed every check but the signature: what the signature check needs. */
export interface ParsedEnvelope {
  /** PAE(payloadType, payload): the signed bytes. */
  readonly signed: Uint8Array;
  readonly sig: Uint8Array;
  readonly issuerKey: Uint8Array;
  /** The attestation's fields, not yet an attestation: `verifyParsed` makes one once the signature verified. */
  readonly unverified: Unverified;
}

/** What a parsed envelope says, before its signature is checked: no brand, no id. */
type Unverified = Omit<VerifiedAttestation, 'id' | typeof verifiedBrand>;

/**
 * Steps 1-3 of the ingest path except the signature check: decode, schema, identity.
 * Throws a ChorusError with the code of the first rule broken; never anything else.
 * Split from `verifyEnvelope` so a node can check many signatures at once off its main
 * thread.
 */
export function parseEnvelope(input: Uint8Array | string, limits: Pick<Limits, 'maxEnvelopeBytes'>): ParsedEnvelope {
  // 1. decode, size first so a huge input costs nothing more
  const size = typeof input === 'string' ? input.length : input.byteLength;
  if (size > limits.maxEnvelopeBytes) {
    fail('too_large', `envelope is ${size} bytes; the limit is ${limits.maxEnvelopeBytes}`, { size, limit: limits.maxEnvelopeBytes });
  }
  let text: string;
  try {
    text = typeof input === 'string' ? input : decoder.decode(input);
  } catch {
    fail('malformed_json', 'envelope is not valid UTF-8');
  }
  // A string's UTF-8 size is at most 3 bytes per UTF-16 unit: encode only when it matters.
  if (typeof input === 'string' && text.length * 3 > limits.maxEnvelopeBytes && utf8.encode(text).length > limits.maxEnvelopeBytes) {
    fail('too_large', `envelope exceeds ${limits.maxEnvelopeBytes} bytes`, { limit: limits.maxEnvelopeBytes });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    fail('malformed_json', `envelope is not JSON: ${(e as Error).message}`);
  }
  const env = Envelope.safeParse(json);
  if (!env.success) fail('malformed_envelope', `not a DSSE envelope: ${describe(env.error)}`, { issues: issuesOf(env.error) });
  const { payloadType, payload, signatures } = env.data;
  if (payloadType !== PAYLOAD_TYPE) {
    fail('bad_payload_type', `payloadType must be ${PAYLOAD_TYPE}`, { payloadType });
  }
  const payloadBytes = decodeBase64(payload);
  if (!payloadBytes) fail('bad_base64', 'payload is not base64');
  const sigEntry = signatures[0] as { keyid: string; sig: string };
  const sig = decodeBase64(sigEntry.sig);
  if (!sig) fail('bad_base64', 'signature is not base64');

  // 2. schema
  let statementJson: unknown;
  try {
    statementJson = JSON.parse(decoder.decode(payloadBytes));
  } catch {
    fail('malformed_statement', 'payload is not UTF-8 JSON');
  }
  if (typeof statementJson === 'object' && statementJson !== null && '_type' in statementJson && statementJson._type !== STATEMENT_TYPE) {
    fail('unknown_statement_type', `statement _type must be ${STATEMENT_TYPE}`, { _type: String(statementJson._type) });
  }
  const st = Statement.safeParse(statementJson);
  if (!st.success) {
    const digestIssue = st.error.issues.find((i) => i.path[0] === 'subject' && i.path.includes('digest'));
    if (digestIssue) fail('bad_subject_digest', `subject digest: ${digestIssue.message}`, { issues: issuesOf(st.error) });
    fail('malformed_statement', `statement: ${describe(st.error)}`, { issues: issuesOf(st.error) });
  }
  const statement = st.data;
  const kind = kindOfType(statement.predicateType);
  if (kind !== undefined) {
    const pr = PREDICATES[kind].schema.safeParse(statement.predicate);
    if (!pr.success) fail('bad_predicate', `${kind} predicate: ${describe(pr.error)}`, { kind, issues: issuesOf(pr.error) });
  }
  const { issuer, issuedAt, expiresAt } = statement.predicate;
  const issuedAtMs = Date.parse(issuedAt);
  const expiresAtMs = expiresAt === undefined ? undefined : Date.parse(expiresAt);
  if (expiresAtMs !== undefined && expiresAtMs <= issuedAtMs) {
    fail('bad_expiry', 'expiresAt must be later than issuedAt', { issuedAt, expiresAt });
  }

  // 3. identity and signature
  const issuerKey = publicKeyFromDidKey(issuer);
  if (!issuerKey) fail('bad_issuer', 'issuer is not a valid Ed25519 did:key', { issuer });
  if (sigEntry.keyid !== issuer) {
    fail('keyid_mismatch', "the signature's keyid must equal the statement's issuer", { keyid: sigEntry.keyid, issuer });
  }
  const signed = pae(payloadType, payloadBytes);

  const canonical: Envelope = {
    payloadType,
    payload: encodeBase64(payloadBytes),
    signatures: [{ keyid: issuer, sig: encodeBase64(sig) }],
  };
  const envelopeBytes = utf8.encode(JSON.stringify(canonical));
  // The canonical form pads base64, so it can be a few bytes longer than the input; it is
  // what other nodes receive, so it must fit the cap too.
  if (envelopeBytes.length > limits.maxEnvelopeBytes) {
    fail('too_large', `envelope exceeds ${limits.maxEnvelopeBytes} bytes in canonical form`, { size: envelopeBytes.length, limit: limits.maxEnvelopeBytes });
  }
  const subjects = [...new Set(statement.subject.map((s) => s.digest.sha256))];
  const unverified = {
    envelope: canonical,
    envelopeBytes,
    statement,
    kind,
    issuer: issuer as DidKey,
    issuerKey,
    issuedAt: issuedAtMs,
    expiresAt: expiresAtMs,
    subjects,
  };
  return { signed, sig, issuerKey, unverified };
}

/**
 * The one constructor of the verified type, and it checks the signature: the attestation of
 * a parsed envelope whose signature verifies (its id is sha256(PAE)), or a `bad_signature`
 * error. With `suite.verifyAsync`, off the main thread (so a node checks many at once).
 */
export async function verifyParsed(p: ParsedEnvelope, suite: CryptoSuite): Promise<VerifiedAttestation> {
  const ok = suite.verifyAsync ? await suite.verifyAsync(p.sig, p.signed, p.issuerKey) : suite.verify(p.sig, p.signed, p.issuerKey);
  return brand(p, ok, suite);
}

/** `verifyParsed` on this thread. */
export function verifyParsedSync(p: ParsedEnvelope, suite: CryptoSuite): VerifiedAttestation {
  return brand(p, suite.verify(p.sig, p.signed, p.issuerKey), suite);
}

/** Makes the verified type out of a signature check's answer; not exported, so nothing else can. */
function brand(p: ParsedEnvelope, signatureVerified: boolean, suite: Pick<CryptoSuite, 'sha256'>): VerifiedAttestation {
  if (!signatureVerified) throw new ChorusError('bad_signature', 'signature does not verify for the issuer key', { issuer: p.unverified.issuer });
  return { ...p.unverified, id: toHex(suite.sha256(p.signed)) } as VerifiedAttestation;
}

/**
 * Decodes, schema-checks and signature-checks one envelope (steps 1-3 of the ingest
 * path). Throws a ChorusError with the code of the first rule broken; never anything else.
 */
export function verifyEnvelope(input: Uint8Array | string, suite: CryptoSuite, limits: Pick<Limits, 'maxEnvelopeBytes'>): VerifiedAttestation {
  return verifyParsedSync(parseEnvelope(input, limits), suite);
}
