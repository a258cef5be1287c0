import { sha256 } from '@noble/hashes/sha2.js';
import { sign as ed25519Sign, publicKeyOf } from '../crypto/reference-suite.js';
import type { CryptoSuite } from '../crypto/suite.js';
import { decodeBase64, encodeBase64, utf8 } from '../encoding/bytes.js';
import { ChorusError } from '../errors.js';
import { HASH_BYTES } from './merkle.js';

/**
 * C2SP signed notes (c2sp.org/signed-note) with Ed25519 keys, and tlog checkpoints
 * (c2sp.org/tlog-checkpoint) carried in them: byte for byte the formats Go's
 * golang.org/x/mod/sumdb/note and the transparency-dev witnesses read (SPEC §16).
 *
 * A note is UTF-8 text ending in a newline, a blank line, then one signature line per
 * signer: "— <key name> <base64(key id || signature)>". The key id is the first 4 bytes
 * of SHA-256(key name || 0x0A || 0x01 || public key), 0x01 naming Ed25519; the signature
 * is over the text. A verifier key is written "<name>+<key id hex>+<base64(0x01 || public key)>".
 */

const ED25519 = 0x01;
const DASH = '\u2014 ';
/** A note and its signatures are small: more is refused before any parsing (SPEC §14). */
export const MAX_NOTE_BYTES = 16 * 1024;
export const MAX_SIGNATURES = 100;

export interface NoteKey {
  readonly name: string;
  readonly id: number;
  readonly publicKey: Uint8Array;
}

export interface NoteSignature {
  readonly name: string;
  readonly id: number;
  /** The signature bytes (an Ed25519 signature for a key of type 0x01; other types are kept, not verified). */
  readonly signature: Uint8Array;
}

export interface Note {
  readonly text: string;
  readonly signatures: readonly NoteSignature[];
}

/** Standard, padded base64 only (what the C2SP formats write), as bytes; undefined otherwise. */
function strictBase64(text: string): Uint8Array | undefined {
  const b = decodeBase64(text);
  return b !== undefined && encodeBase64(b) === text ? b : undefined;
}

function bad(message: string): ChorusError {
  return new ChorusError('bad_input', message);
}

/** A key name: non-empty, no whitespace, no '+'. */
export function validKeyName(name: string): boolean {
  return name.length > 0 && name.length <= 256 && !/[\s+]/u.test(name) && [...name].every((c) => c.codePointAt(0)! >= 0x20);
}

/** The 4-byte key id of an Ed25519 key named `name`, as a 32-bit unsigned integer. */
export function keyId(name: string, publicKey: Uint8Array): number {
  const h = sha256(Uint8Array.from([...utf8.encode(name), 0x0a, ED25519, ...publicKey]));
  return ((h[0]! << 24) | (h[1]! << 16) | (h[2]! << 8) | h[3]!) >>> 0;
}

const hex8 = (id: number): string => id.toString(16).padStart(8, '0');

/** A verifier key's text: name+hex key id+base64(0x01 || public key). */
export function encodeVerifierKey(name: string, publicKey: Uint8Array): string {
  if (!validKeyName(name) || publicKey.length !== 32) throw bad('a verifier key needs a name without spaces or "+" and a 32-byte Ed25519 key');
  return `${name}+${hex8(keyId(name, publicKey))}+${encodeBase64(Uint8Array.from([ED25519, ...publicKey]))}`;
}

/** Parses a verifier key; throws `bad_input` when it is malformed, of another type, or its id does not match. */
export function parseVerifierKey(text: string): NoteKey {
  const first = text.indexOf('+');
  const second = text.indexOf('+', first + 1);
  if (first <= 0 || second < 0) throw bad('a verifier key is name+id+key');
  const name = text.slice(0, first);
  const idText = text.slice(first + 1, second);
  const raw = strictBase64(text.slice(second + 1));
  if (!validKeyName(name) || !/^[0-9a-f]{8}$/.test(idText) || raw === undefined) throw bad('malformed verifier key');
  if (raw.length !== 33 || raw[0] !== ED25519) throw bad('not an Ed25519 verifier key (type 0x01, 32 bytes)');
  const publicKey = raw.slice(1);
  const id = Number.parseInt(idText, 16);
  if (keyId(name, publicKey) !== id) throw bad('the verifier key\'s id does not match its name and key');
  return { name, id, publicKey };
}

/** A signer key's text as Go writes it: PRIVATE+KEY+name+hex key id+base64(0x01 || seed). */
export function parseSignerKey(text: string): { name: string; id: number; seed: Uint8Array; publicKey: Uint8Array } {
  const m = /^PRIVATE\+KEY\+([^+]+)\+([0-9a-f]{8})\+(\S+)$/.exec(text);
  const raw = m ? strictBase64(m[3]!) : undefined;
  if (!m || raw === undefined || raw.length !== 33 || raw[0] !== ED25519 || !validKeyName(m[1]!)) throw bad('malformed signer key');
  const seed = raw.slice(1);
  const publicKey = publicKeyOf(seed);
  if (keyId(m[1]!, publicKey) !== Number.parseInt(m[2]!, 16)) throw bad('the signer key\'s id does not match');
  return { name: m[1]!, id: Number.parseInt(m[2]!, 16), seed, publicKey };
}

function checkText(text: string): void {
  if (!text.endsWith('\n')) throw bad('a note\'s text ends with a newline');
  if (text.includes('\n\n') || text.startsWith('\n')) throw bad('a note\'s text has no blank line');
  // No control characters but newline; valid UTF-8 is given (a JS string), no lone surrogates.
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0009\u000b-\u001f\u007f]/u.test(text) || /\p{Cs}/u.test(text)) throw bad('a note\'s text holds a control character');
}

/** Signs `text` (ending in a newline) with an Ed25519 seed: the note with its one signature line. */
export function signNote(text: string, name: string, seed: Uint8Array): string {
  checkText(text);
  if (!validKeyName(name)) throw bad('a key name has no spaces or "+"');
  const publicKey = publicKeyOf(seed);
  const id = keyId(name, publicKey);
  const sig = ed25519Sign(utf8.encode(text), seed);
  const blob = Uint8Array.from([id >>> 24, (id >>> 16) & 0xff, (id >>> 8) & 0xff, id & 0xff, ...sig]);
  return `${text}\n${DASH}${name} ${encodeBase64(blob)}\n`;
}

/** Splits a signed note into its text and signature lines; throws `bad_input` on anything malformed. */
export function parseNote(note: string): Note {
  if (utf8.encode(note).length > MAX_NOTE_BYTES) throw bad(`a signed note is at most ${MAX_NOTE_BYTES} bytes`);
  const split = note.lastIndexOf('\n\n');
  if (split < 0 || !note.endsWith('\n')) throw bad('a signed note is text, a blank line, then signature lines');
  const text = note.slice(0, split + 1);
  checkText(text);
  const lines = note.slice(split + 2, -1).split('\n');
  if (lines.length === 0 || lines.length > MAX_SIGNATURES) throw bad(`a signed note has 1 to ${MAX_SIGNATURES} signatures`);
  const signatures = lines.map((line) => {
    if (!line.startsWith(DASH)) throw bad('a signature line starts with "— "');
    const rest = line.slice(DASH.length);
    const space = rest.indexOf(' ');
    const name = rest.slice(0, space);
    const blob = space > 0 ? strictBase64(rest.slice(space + 1)) : undefined;
    if (!validKeyName(name) || blob === undefined || blob.length < 5) throw bad('malformed signature line');
    const id = ((blob[0]! << 24) | (blob[1]! << 16) | (blob[2]! << 8) | blob[3]!) >>> 0;
    return { name, id, signature: blob.slice(4) };
  });
  return { text, signatures };
}

/** Whether `note` carries a valid signature by `key` (by name and id, then the signature). */
export function verifiedBy(note: Note, key: NoteKey, suite: Pick<CryptoSuite, 'verify'>): boolean {
  const message = utf8.encode(note.text);
  return note.signatures.some((s) => s.name === key.name && s.id === key.id && s.signature.length === 64 && suite.verify(s.signature, message, key.publicKey));
}

/** A checkpoint (c2sp.org/tlog-checkpoint): the log's origin, its size, its root, and any extension lines. */
export interface Checkpoint {
  readonly origin: string;
  readonly size: number;
  readonly root: Uint8Array;
  readonly extensions: readonly string[];
}

/** A checkpoint's note text. */
export function checkpointText(c: Checkpoint): string {
  if (c.origin.length === 0 || /\n/.test(c.origin)) throw bad('a checkpoint origin is one non-empty line');
  if (!Number.isSafeInteger(c.size) || c.size < 0) throw bad('a checkpoint size is a non-negative integer');
  if (c.root.length !== HASH_BYTES) throw bad('a checkpoint root is 32 bytes');
  return [c.origin, String(c.size), encodeBase64(c.root), ...c.extensions].join('\n') + '\n';
}

/** Parses a checkpoint's note text; throws `bad_input` on anything malformed. */
export function parseCheckpoint(text: string): Checkpoint {
  const lines = text.split('\n');
  if (lines.length < 4 || lines[lines.length - 1] !== '') throw bad('a checkpoint is origin, size and root hash lines');
  const [origin, sizeText, rootText, ...rest] = lines.slice(0, -1) as [string, string, string, ...string[]];
  const root = strictBase64(rootText);
  if (origin.length === 0) throw bad('a checkpoint origin is not empty');
  if (!/^(0|[1-9][0-9]{0,15})$/.test(sizeText) || !Number.isSafeInteger(Number(sizeText))) throw bad('a checkpoint size is a decimal integer without leading zeros');
  if (root === undefined || root.length !== HASH_BYTES) throw bad('a checkpoint root is the standard base64 of 32 bytes');
  if (rest.some((l) => l.length === 0)) throw bad('a checkpoint has no empty extension line');
  return { origin, size: Number(sizeText), root, extensions: rest };
}
