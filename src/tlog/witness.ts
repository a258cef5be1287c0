import { sha256 } from '@noble/hashes/sha2.js';
import { sign as ed25519Sign } from '../crypto/reference-suite.js';
import type { CryptoSuite } from '../crypto/suite.js';
import { encodeBase64, fromHex, toHex, utf8 } from '../encoding/bytes.js';
import { ChorusError } from '../errors.js';
import { publicKeyFromDidKey } from '../identity/did-key.js';
import { consistencyRoots, EMPTY_ROOT, equal, isPowerOfTwo, maxProofLength } from './merkle.js';
import { keyId, parseCheckpoint, parseNote, type Checkpoint, type Note, type NoteSignature } from './note.js';

/**
 * Issuer logs between nodes (SPEC §16): whose log a checkpoint is, the cosignatures
 * witnesses add to it (c2sp.org/tlog-cosignature, cosignature/v1), and the portable proof
 * that an issuer signed two histories that cannot both be true.
 *
 * Names: an issuer's log and its checkpoint key are both named `chorus-log/<did>`, a
 * witness's cosigning key `chorus-witness/<did>`; the did:key carries the Ed25519 public key,
 * so any node can verify either without a key directory.
 */

const COSIGNATURE_V1 = 0x04;
const LOG_PREFIX = 'chorus-log/';
const WITNESS_PREFIX = 'chorus-witness/';
/** A cosignature's timestamp may be at most this far ahead of the verifier's clock. */
export const COSIGNATURE_MAX_SKEW_S = 600;

export function logOrigin(did: string): string {
  return `${LOG_PREFIX}${did}`;
}

export function witnessName(did: string): string {
  return `${WITNESS_PREFIX}${did}`;
}

function bad(message: string): ChorusError {
  return new ChorusError('bad_input', message);
}

/** The extension line a Chorus checkpoint carries: when its issuer signed it (POSIX seconds). */
export function timeExtension(ms: number): string {
  return `time ${Math.floor(ms / 1000)}`;
}

/** When the issuer signed a checkpoint (epoch ms), from its time extension line; undefined without one. */
export function checkpointTime(checkpoint: Checkpoint): number | undefined {
  for (const line of checkpoint.extensions) {
    const match = /^time (0|[1-9][0-9]{0,11})$/.exec(line);
    if (match) return Number(match[1]) * 1000;
  }
  return undefined;
}

/** The did a log origin names, when it names a valid did:key. */
export function issuerOfOrigin(origin: string): string | undefined {
  if (!origin.startsWith(LOG_PREFIX)) return undefined;
  const did = origin.slice(LOG_PREFIX.length);
  return publicKeyFromDidKey(did) === undefined ? undefined : did;
}

/** An issuer's checkpoint, verified: its signed note, what it says, whose it is. */
export interface SignedCheckpoint {
  readonly issuer: string;
  readonly checkpoint: Checkpoint;
  /** The note's text (origin, size, root and extensions), what the issuer signed. */
  readonly text: string;
  /** The issuer's signature line, as it appears in the note. */
  readonly signatureLine: string;
  /** Every other signature line the note carried (cosignatures, unverified here). */
  readonly others: readonly NoteSignature[];
}

function sigLine(sig: NoteSignature): string {
  const blob = new Uint8Array(4 + sig.signature.length);
  blob.set([sig.id >>> 24, (sig.id >>> 16) & 0xff, (sig.id >>> 8) & 0xff, sig.id & 0xff]);
  blob.set(sig.signature, 4);
  return `\u2014 ${sig.name} ${encodeBase64(blob)}`;
}

/**
 * Parses a signed checkpoint and verifies the issuer's signature (one Ed25519 verification,
 * after the size and syntax checks of note.ts). Throws `bad_input` for a malformed note or
 * a checkpoint not of a chorus-log origin, `bad_signature` when the issuer's signature is
 * missing or wrong.
 */
export function verifyCheckpointNote(note: string, suite: Pick<CryptoSuite, 'verify'>): SignedCheckpoint {
  const parsed: Note = parseNote(note);
  const checkpoint = parseCheckpoint(parsed.text);
  const issuer = issuerOfOrigin(checkpoint.origin);
  if (issuer === undefined) throw bad('a checkpoint\'s origin is chorus-log/<did:key>');
  if (checkpoint.size === 0 && !equal(checkpoint.root, EMPTY_ROOT)) throw bad('an empty log\'s root is the hash of nothing');
  const publicKey = publicKeyFromDidKey(issuer)!;
  const id = keyId(checkpoint.origin, publicKey);
  const message = utf8.encode(parsed.text);
  // The first line of the issuer's name and key id is its signature: only that one is
  // checked (its name and id are public, so a note may carry many such lines: one check).
  const own = parsed.signatures.find((sig) => sig.name === checkpoint.origin && sig.id === id);
  if (own === undefined || own.signature.length !== 64 || !suite.verify(own.signature, message, publicKey)) throw new ChorusError('bad_signature', `the checkpoint is not signed by ${issuer}`);
  return { issuer, checkpoint, text: parsed.text, signatureLine: sigLine(own), others: parsed.signatures.filter((sig) => sig !== own) };
}

/** The key id of a witness's cosignature/v1 key (C2SP: SHA-256(name || "\n" || 0x04 || key)[:4]). */
export function cosignatureKeyId(name: string, publicKey: Uint8Array): number {
  const hash = sha256(Uint8Array.from([...utf8.encode(name), 0x0a, COSIGNATURE_V1, ...publicKey]));
  return ((hash[0]! << 24) | (hash[1]! << 16) | (hash[2]! << 8) | hash[3]!) >>> 0;
}

/** What a cosignature/v1 signs: the header line, the time line, then the checkpoint's text. */
export function cosignedMessage(text: string, timestamp: number): Uint8Array {
  return utf8.encode(`cosignature/v1\ntime ${timestamp}\n${text}`);
}

/** A verified cosignature: which witness, when (POSIX seconds). */
export interface Cosignature {
  readonly witness: string;
  readonly timestamp: number;
  /** The signature line as it appears in a note. */
  readonly line: string;
}

/** Cosigns a checkpoint's text as the witness `did` (its Ed25519 seed; `signer`: a faster signer of the same seed): the signature line. */
export function cosign(text: string, did: string, seed: Uint8Array, timestamp: number, signer: (message: Uint8Array) => Uint8Array = (message) => ed25519Sign(message, seed)): Cosignature {
  const publicKey = publicKeyFromDidKey(did);
  if (publicKey === undefined || !Number.isSafeInteger(timestamp) || timestamp < 0) throw bad('a cosignature needs the witness\'s did:key and a time in seconds');
  const name = witnessName(did);
  const id = cosignatureKeyId(name, publicKey);
  const sig = signer(cosignedMessage(text, timestamp));
  const blob = new Uint8Array(4 + 8 + 64);
  new DataView(blob.buffer).setUint32(0, id);
  new DataView(blob.buffer).setBigUint64(4, BigInt(timestamp));
  blob.set(sig, 12);
  return { witness: did, timestamp, line: `\u2014 ${name} ${encodeBase64(blob)}` };
}

/**
 * The valid cosignatures among a note's other signature lines: chorus-witness/<did> names,
 * the cosignature/v1 key id, a timestamp not too far ahead of `nowSeconds`, and a signature
 * that verifies. Lines of other names or types are skipped (a note may carry any), one per
 * witness (the newest). At most `max` are verified: a note carries at most 100 lines.
 */
export function verifiedCosignatures(text: string, lines: readonly NoteSignature[], suite: Pick<CryptoSuite, 'verify'>, nowSeconds: number, max = 32): Cosignature[] {
  const out = new Map<string, Cosignature>();
  let tried = 0;
  for (const line of lines) {
    if (!line.name.startsWith(WITNESS_PREFIX) || line.signature.length !== 72) continue;
    const did = line.name.slice(WITNESS_PREFIX.length);
    const publicKey = publicKeyFromDidKey(did);
    if (publicKey === undefined || line.id !== cosignatureKeyId(line.name, publicKey)) continue;
    const ts = new DataView(line.signature.buffer, line.signature.byteOffset, 8).getBigUint64(0);
    if (!(ts <= BigInt(Math.floor(Number.isFinite(nowSeconds) ? nowSeconds : 0) + COSIGNATURE_MAX_SKEW_S))) continue;
    if (++tried > max) break;
    const timestamp = Number(ts);
    if (!suite.verify(line.signature.subarray(8), cosignedMessage(text, timestamp), publicKey)) continue;
    const prev = out.get(did);
    if (prev === undefined || prev.timestamp < timestamp) out.set(did, { witness: did, timestamp, line: sigLine(line) });
  }
  return [...out.values()];
}

/** A note: the text, a blank line, the issuer's signature line, then cosignature lines. */
export function noteWith(signed: SignedCheckpoint, cosignatures: readonly Cosignature[]): string {
  return `${signed.text}\n${[signed.signatureLine, ...cosignatures.map((cosignature) => cosignature.line)].join('\n')}\n`;
}

/**
 * An equivocation proof (SPEC §16.5): two checkpoints one issuer signed that cannot both be
 * true — the same size and different roots, or a smaller one that is not a prefix of the
 * larger. For the second kind, `nodes` are the larger tree's consistency proof to the
 * smaller size (with the true root of that prefix first when the smaller size is a power of
 * two): they hash to the larger root, and to a prefix root other than the smaller one's.
 * Verifiable by anyone with the two notes: no leaves, no trust in who sent it.
 */
export interface EquivocationProof {
  readonly type: 'chorus-equivocation/v1';
  /** The smaller (or, at equal sizes, the first by root) checkpoint's signed note. */
  readonly a: string;
  readonly b: string;
  readonly nodes: readonly string[];
}

export interface VerifiedEquivocation {
  readonly issuer: string;
  readonly a: SignedCheckpoint;
  readonly b: SignedCheckpoint;
  readonly proof: EquivocationProof;
}

/** Largest encoded equivocation proof (two notes and ⌈log₂ n⌉+1 hashes). */
export const MAX_EQUIVOCATION_BYTES = 40 * 1024;

/** Builds the proof from two verified checkpoints (and, for different sizes, the larger tree's nodes). */
export function equivocationProof(first: SignedCheckpoint, second: SignedCheckpoint, nodes: readonly Uint8Array[] = []): EquivocationProof {
  const [a, b] = first.checkpoint.size < second.checkpoint.size || (first.checkpoint.size === second.checkpoint.size && toHex(first.checkpoint.root) < toHex(second.checkpoint.root)) ? [first, second] : [second, first];
  return { type: 'chorus-equivocation/v1', a: noteWith(a, []), b: noteWith(b, []), nodes: nodes.map(toHex) };
}

/**
 * Verifies an equivocation proof; throws `bad_input` (malformed) or `bad_signature` (a note
 * not signed by its issuer) or `not_equivocation` (the two checkpoints are consistent).
 * Costs two signature verifications and at most ⌈log₂ n⌉+1 hashes.
 */
export function verifyEquivocation(raw: unknown, suite: Pick<CryptoSuite, 'verify'>): VerifiedEquivocation {
  const parsed = raw as Partial<EquivocationProof> | null;
  if (typeof parsed !== 'object' || parsed === null || parsed.type !== 'chorus-equivocation/v1' || typeof parsed.a !== 'string' || typeof parsed.b !== 'string' || !Array.isArray(parsed.nodes)) {
    throw bad('an equivocation proof is {type: "chorus-equivocation/v1", a, b, nodes}');
  }
  if (parsed.nodes.length > 64 || !parsed.nodes.every((hex) => typeof hex === 'string' && /^[0-9a-f]{64}$/.test(hex))) throw bad('an equivocation proof\'s nodes are at most 64 hashes in hex');
  const a = verifyCheckpointNote(parsed.a, suite);
  const b = verifyCheckpointNote(parsed.b, suite);
  if (a.issuer !== b.issuer) throw bad('the two checkpoints are of different logs');
  const nodes = parsed.nodes.map((hex) => fromHex(hex)!);
  const proof: EquivocationProof = { type: 'chorus-equivocation/v1', a: parsed.a, b: parsed.b, nodes: parsed.nodes };
  const [m, n] = [a.checkpoint.size, b.checkpoint.size];
  if (m === n) {
    if (equal(a.checkpoint.root, b.checkpoint.root)) throw new ChorusError('not_equivocation', 'the two checkpoints have the same size and root');
    if (nodes.length !== 0) throw bad('a same-size equivocation carries no nodes');
    return { issuer: a.issuer, a, b, proof };
  }
  if (m > n) throw bad('the first checkpoint is the smaller');
  if (m === 0) throw new ChorusError('not_equivocation', 'the empty tree is a prefix of every tree');
  if (nodes.length > maxProofLength(n) + 1) throw bad('too many nodes for the larger tree\'s size');
  const roots = consistencyRoots(m, n, nodes);
  if (roots === undefined || !equal(roots.sr, b.checkpoint.root)) throw bad('the nodes do not hash to the larger checkpoint\'s root');
  if (equal(roots.fr, a.checkpoint.root)) throw new ChorusError('not_equivocation', 'the smaller checkpoint is a prefix of the larger');
  return { issuer: a.issuer, a, b, proof };
}

/** The nodes that prove `first` is not a prefix: the consistency path of the larger tree, its true prefix root first when `first` is a power of two. */
export function inconsistencyNodes(first: number, proof: readonly Uint8Array[], prefixRoot: Uint8Array): Uint8Array[] {
  return isPowerOfTwo(first) ? [prefixRoot, ...proof] : [...proof];
}
