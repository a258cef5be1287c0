import { PAYLOAD_TYPE } from '../../src/dsse/pae.js';
import { kindOfType, type PredicateKind } from '../../src/statement/predicates.js';
import type { Envelope, Statement } from '../../src/statement/statement.js';
import type { VerifiedAttestation } from '../../src/ingest/verified.js';
import { readU64, u64 } from './keys.js';

/**
 * A stored record: seq(8) receivedAt(8) type(1) sig(64) payload(raw JSON bytes).
 * The envelope is rebuilt from these on demand (the payload type is the one Chorus uses,
 * the keyid is the statement's issuer), so reading a record parses the statement once and
 * never decodes base64, and LevelDB compresses the raw JSON far better than base64.
 */
const TYPE_IN_TOTO_JSON = 1;
const HEADER = 8 + 8 + 1 + 64;

/** An attestation as read back from the store. Its signature was checked on the way in. */
export interface StoredAttestation {
  readonly id: string;
  readonly seq: number;
  readonly receivedAt: number;
  /** The canonical DSSE envelope (built on first use). */
  readonly envelope: Envelope;
  readonly statement: Statement;
  readonly kind: PredicateKind | undefined;
  readonly issuer: string;
  readonly issuedAt: number;
  readonly expiresAt: number | undefined;
}

export function encodeRecord(a: VerifiedAttestation, seq: number, receivedAt: number): Buffer {
  const payload = Buffer.from(a.envelope.payload, 'base64');
  const sig = Buffer.from(a.envelope.signatures[0]!.sig, 'base64');
  return Buffer.concat([u64(seq), u64(receivedAt), Buffer.of(TYPE_IN_TOTO_JSON), sig, payload]);
}

/** The record's arrival sequence number. */
export function recordSeq(value: Uint8Array): number {
  return readU64(value, 0);
}

/** The canonical envelope JSON of a record, exactly as the ingest path produced it. */
export function recordEnvelopeJson(value: Buffer): string | undefined {
  if (value.length < HEADER || value[16] !== TYPE_IN_TOTO_JSON) return undefined;
  const payload = value.subarray(HEADER);
  let issuer: string;
  try {
    issuer = (JSON.parse(payload.toString('utf8')) as Statement).predicate.issuer;
  } catch {
    return undefined;
  }
  const env: Envelope = { payloadType: PAYLOAD_TYPE, payload: payload.toString('base64'), signatures: [{ keyid: issuer, sig: value.subarray(17, HEADER).toString('base64') }] };
  return JSON.stringify(env);
}

export function decodeRecord(id: string, value: Buffer): StoredAttestation {
  const seq = readU64(value, 0);
  const receivedAt = readU64(value, 8);
  const sig = value.subarray(17, HEADER);
  const payload = value.subarray(HEADER);
  const statement = JSON.parse(payload.toString('utf8')) as Statement;
  const p = statement.predicate;
  let envelope: Envelope | undefined;
  return {
    id,
    seq,
    receivedAt,
    get envelope(): Envelope {
      envelope ??= { payloadType: PAYLOAD_TYPE, payload: payload.toString('base64'), signatures: [{ keyid: p.issuer, sig: sig.toString('base64') }] };
      return envelope;
    },
    statement,
    kind: kindOfType(statement.predicateType),
    issuer: p.issuer,
    issuedAt: Date.parse(p.issuedAt),
    expiresAt: p.expiresAt === undefined ? undefined : Date.parse(p.expiresAt),
  };
}
