import { randomBytes } from 'node:crypto';
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { beforeAll, describe, expect, it, vi } from 'vitest';

/** node:crypto's scrypt, counted: "refused before any key derivation" is then a fact the test checks, not a timing. */
const scryptCalls = vi.hoisted(() => ({ n: 0 }));
vi.mock('node:crypto', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:crypto')>();
  const scrypt = ((...args: Parameters<typeof real.scrypt>) => {
    scryptCalls.n++;
    return (real.scrypt as (...a: unknown[]) => void)(...args);
  }) as typeof real.scrypt;
  return { ...real, default: { ...real, scrypt }, scrypt };
});
import {
  decryptKeyBackup, encryptKeyBackup, MAX_KEY_BACKUP_BYTES, parseKeyBackup, SCRYPT_PARAMS, type NodeKeys,
} from '../../node/home/key-backup.js';
import { publicKeyOf } from '../../src/crypto/reference-suite.js';
import { encodeBase64 } from '../../src/encoding/bytes.js';
import { didKeyFromPublicKey } from '../../src/identity/did-key.js';
import { isChorusError, type ErrorCode } from '../../src/errors.js';

const PASSPHRASE = 'correct horse battery staple';
/** What tampering is checked against: the same format at a cost of milliseconds, not a second. */
const CHEAP = { N: 2 ** 10, r: 8, p: 1 };

function identityOf(secretKey: Uint8Array): NodeKeys['identity'] {
  const publicKey = publicKeyOf(secretKey);
  return { did: didKeyFromPublicKey(publicKey), publicKey, secretKey };
}

async function nodeKeys(): Promise<NodeKeys> {
  const peer = await generateKeyPair('Ed25519');
  return {
    identity: identityOf(new Uint8Array(randomBytes(32))),
    peerKey: { bytes: privateKeyToProtobuf(peer), peerId: peerIdFromPrivateKey(peer).toString() },
  };
}

/** A backup file's JSON, loosely: what a tamperer edits. */
type BackupJson = Record<string, unknown> & { ciphertext: string; kdf: Record<string, unknown>; cipher: Record<string, unknown> };

/** The backup text with `edit` applied to its JSON. */
function edited(text: string, edit: (file: BackupJson) => void): string {
  const file = JSON.parse(text) as BackupJson;
  edit(file);
  return JSON.stringify(file);
}

async function failureOf(p: Promise<unknown> | (() => unknown)): Promise<{ code: ErrorCode; message: string }> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    if (isChorusError(e)) return { code: e.code, message: e.message };
    throw e;
  }
  throw new Error('expected a ChorusError, got success');
}

describe('key backup', () => {
  let keys: NodeKeys;
  /** Written as `chorus key export` writes it. */
  let text: string;
  let cheap: string;
  beforeAll(async () => {
    keys = await nodeKeys();
    text = await encryptKeyBackup(keys, PASSPHRASE);
    cheap = await encryptKeyBackup(keys, PASSPHRASE, CHEAP);
  });

  it('round trip: the same did, secret and peer id come back; the file names them but holds no secret in clear', async () => {
    const backup = parseKeyBackup(text);
    expect(backup.did).toBe(keys.identity.did);
    expect(backup.peerId).toBe(keys.peerKey?.peerId);
    const back = await decryptKeyBackup(backup, PASSPHRASE);
    expect(back.identity.did).toBe(keys.identity.did);
    expect(Buffer.from(back.identity.secretKey).equals(Buffer.from(keys.identity.secretKey))).toBe(true);
    expect(back.peerKey?.peerId).toBe(keys.peerKey?.peerId);
    expect(Buffer.from(back.peerKey?.bytes ?? []).equals(Buffer.from(keys.peerKey?.bytes ?? [1]))).toBe(true);

    const file = JSON.parse(text) as { format: string; version: number; kdf: { N: number; r: number; p: number } };
    expect(file).toMatchObject({ format: 'chorus-key-backup', version: 1, kdf: { name: 'scrypt', ...SCRYPT_PARAMS }, cipher: { name: 'aes-256-gcm' } });
    expect(text).not.toContain(encodeBase64(keys.identity.secretKey));
    expect(text).not.toContain(encodeBase64(keys.peerKey?.bytes ?? new Uint8Array(1)));
    expect(text).not.toContain(PASSPHRASE);
    // Salt and IV are fresh each time: two backups of the same keys differ throughout.
    const again = JSON.parse(await encryptKeyBackup(keys, PASSPHRASE, CHEAP)) as { ciphertext: string; kdf: { salt: string } };
    expect(again.ciphertext).not.toBe((JSON.parse(text) as { ciphertext: string }).ciphertext);
    expect(again.kdf.salt).not.toBe((JSON.parse(text) as { kdf: { salt: string } }).kdf.salt);
  });

  it('a node that never joined the network (no peer key) round-trips too', async () => {
    const idOnly: NodeKeys = { identity: keys.identity, peerKey: undefined };
    const backup = parseKeyBackup(await encryptKeyBackup(idOnly, PASSPHRASE, CHEAP));
    expect(backup.peerId).toBeUndefined();
    const back = await decryptKeyBackup(backup, PASSPHRASE);
    expect(back.identity.did).toBe(keys.identity.did);
    expect(back.peerKey).toBeUndefined();
  });

  it('a wrong passphrase is a typed error that says so', async () => {
    const f = await failureOf(decryptKeyBackup(parseKeyBackup(text), PASSPHRASE + ' '));
    expect(f.code).toBe('bad_signature');
    expect(f.message).toMatch(/wrong passphrase, or the file was changed/);
  });

  it.each<[string, (file: BackupJson) => void]>([
    ['a flipped ciphertext bit', (f) => {
      const b = Buffer.from(f.ciphertext, 'base64');
      b[0] = (b[0] as number) ^ 1;
      f.ciphertext = b.toString('base64');
    }],
    ['another did in the header', (f) => void (f['did'] = identityOf(new Uint8Array(32).fill(7)).did)],
    ['the peer id dropped from the header', (f) => void delete f['peerId']],
    ['a cheaper kdf in the header', (f) => void (f.kdf['N'] = 2 ** 9)],
    ['another salt', (f) => void (f.kdf['salt'] = Buffer.alloc(16, 1).toString('base64'))],
    ['another iv', (f) => void (f.cipher['iv'] = Buffer.alloc(12, 1).toString('base64'))],
    ['another tag', (f) => void (f.cipher['tag'] = Buffer.alloc(16, 1).toString('base64'))],
  ])('%s is rejected with the same error, and no key comes out', async (_, edit) => {
    expect((await decryptKeyBackup(parseKeyBackup(cheap), PASSPHRASE)).identity.did).toBe(keys.identity.did);
    const f = await failureOf(async () => decryptKeyBackup(parseKeyBackup(edited(cheap, edit)), PASSPHRASE));
    expect(f.code).toBe('bad_signature');
  });

  it('a file whose keys are not the ids its header names is refused', async () => {
    const other = identityOf(new Uint8Array(32).fill(9));
    const lying = await encryptKeyBackup({ ...keys, identity: { ...keys.identity, did: other.did } }, PASSPHRASE, CHEAP);
    const before = scryptCalls.n;
    const f = await failureOf(decryptKeyBackup(parseKeyBackup(lying), PASSPHRASE));
    expect(f.code).toBe('keyid_mismatch');
    // The scrypt counter the hostile-parameter cases below rely on does count a derivation.
    expect(scryptCalls.n - before).toBe(1);
  });

  it.each<[string, Record<string, number>, RegExp]>([
    ['N = 2^30 (128 GiB)', { N: 2 ** 30 }, /kdf\.N: N above 131072/],
    ['N = 2^18', { N: 2 ** 18 }, /kdf\.N/],
    ['r = 1024', { r: 1024 }, /kdf\.r: r above 8/],
    ['p = 1000 (minutes of CPU)', { p: 1000 }, /kdf\.p: p above 1/],
    ['N not a power of two', { N: 100_000 }, /kdf\.N: N must be a power of two/],
  ])('hostile kdf parameters (%s) are refused before any key derivation', async (_, kdf, message) => {
    const hostile = edited(text, (f) => Object.assign(f.kdf, kdf));
    const before = scryptCalls.n;
    const started = performance.now();
    const f = await failureOf(() => parseKeyBackup(hostile, 'x.json'));
    console.log(`[key-backup] refused in ${(performance.now() - started).toFixed(1)} ms`);
    expect(scryptCalls.n - before).toBe(0);
    expect(f.code).toBe('malformed_json');
    expect(f.message).toMatch(message);
    expect(f.message).toMatch(/^x\.json is not a Chorus key backup/);
  });

  it('an oversized file is refused by its size, before it is parsed', async () => {
    const big = edited(text, (f) => void (f['padding'] = 'a'.repeat(MAX_KEY_BACKUP_BYTES)));
    const f = await failureOf(() => parseKeyBackup(Buffer.from(big), 'big.json'));
    expect(f.code).toBe('too_large');
    expect(f.message).toMatch(/big\.json is \d+ bytes/);
  });

  it('other files say what they are not', async () => {
    expect((await failureOf(() => parseKeyBackup('{"payloadType":'))).message).toMatch(/not a Chorus key backup \(not JSON\)/);
    expect((await failureOf(() => parseKeyBackup('{"type":"ed25519"}'))).message).toMatch(/not a Chorus key backup/);
    expect((await failureOf(() => parseKeyBackup(edited(text, (f) => void (f['version'] = 2))))).message).toMatch(/version 2 key backup; this chorus reads version 1/);
    expect((await failureOf(() => parseKeyBackup(edited(text, (f) => void (f['extra'] = 1))))).code).toBe('malformed_json');
  });
});
