import { createCipheriv, createDecipheriv, randomBytes, scrypt as scryptCb, type ScryptOptions } from 'node:crypto';
import { constants } from 'node:fs';
import { copyFile, chmod, mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { privateKeyFromProtobuf } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { z } from 'zod';
import { ChorusError, isChorusError } from '../../src/errors.js';
import { decodeBase64, encodeBase64 } from '../../src/encoding/bytes.js';
import { didKeyFromPublicKey } from '../../src/identity/did-key.js';
import { publicKeyOf } from '../../src/crypto/reference-suite.js';
import { DidKeyString } from '../../src/statement/common.js';
import { writeFileAtomic } from './files.js';
import { identityFileText, loadIdentity, type Identity } from './identity.js';
import { completeHome, type HomePaths } from './home.js';

/**
 * A passphrase-encrypted backup of a node's keys, for moving a node or keeping a copy
 * offline: the issuer identity (its did) and the libp2p peer key (its peer id).
 *
 *   {"format":"chorus-key-backup","version":1,"did":"did:key:…","peerId":"12D3…",
 *    "kdf":{"name":"scrypt","N":131072,"r":8,"p":1,"salt":b64},
 *    "cipher":{"name":"aes-256-gcm","iv":b64,"tag":b64},"ciphertext":b64}
 *
 * did and peerId are public, so a file says whose keys it holds without the passphrase;
 * every header field is authenticated (GCM additional data), so none can be changed
 * unnoticed.
 */

export const KEY_BACKUP_FORMAT = 'chorus-key-backup';
export const KEY_BACKUP_VERSION = 1;
/** A backup of two small keys is under 1 KiB; anything near this is not one. */
export const MAX_KEY_BACKUP_BYTES = 64 * 1024;
/** What every backup is written with: about 0.3 s and 128 MiB on a laptop. */
export const SCRYPT_PARAMS = { N: 2 ** 17, r: 8, p: 1 } as const;

const SALT_BYTES = 16;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;

/** The libp2p peer key's place in the data dir (node/net/network.ts opens the same file). */

/** The keys a backup carries. */
export interface NodeKeys {
  readonly identity: Identity;
  /** libp2p private key as peer.key holds it (protobuf); absent if the node never joined the network. */
  readonly peerKey: { readonly bytes: Uint8Array; readonly peerId: string } | undefined;
}

const bytesOf = (name: string, length?: number) =>
  z.string().max(MAX_KEY_BACKUP_BYTES).transform((s, ctx) => {
    const b = decodeBase64(s);
    if (b === undefined || (length !== undefined && b.length !== length)) {
      ctx.addIssue({ code: 'custom', message: `${name} is not ${length ?? 'some'} bytes of base64` });
      return z.NEVER;
    }
    return b;
  });

const powerOfTwo = (n: number): boolean => n >= 2 && (n & (n - 1)) === 0;

// A backup file may come from anywhere, and scrypt costs 128·N·r·p bytes and time to
// match: a crafted file asking for N=2^30 or p=1000 would make import burn GiBs of
// memory or minutes of CPU before it could say "wrong passphrase". So nothing above what
// chorus itself writes is accepted, and the check runs before any key derivation.
const Kdf = z.strictObject({
  name: z.literal('scrypt'),
  N: z.int().refine(powerOfTwo, 'N must be a power of two').refine((n) => n <= SCRYPT_PARAMS.N, `N above ${SCRYPT_PARAMS.N} (the most chorus writes) is refused`),
  r: z.int().min(1).max(SCRYPT_PARAMS.r, `r above ${SCRYPT_PARAMS.r} (the most chorus writes) is refused`),
  p: z.int().min(1).max(SCRYPT_PARAMS.p, `p above ${SCRYPT_PARAMS.p} (the most chorus writes) is refused`),
  salt: bytesOf('kdf.salt', SALT_BYTES),
});

const KeyBackupFile = z.strictObject({
  format: z.literal(KEY_BACKUP_FORMAT),
  version: z.literal(KEY_BACKUP_VERSION),
  did: DidKeyString,
  peerId: z.string().regex(/^[1-9A-HJ-NP-Za-km-z]{1,128}$/).optional(),
  kdf: Kdf,
  cipher: z.strictObject({
    name: z.literal('aes-256-gcm'),
    iv: bytesOf('cipher.iv', IV_BYTES),
    tag: bytesOf('cipher.tag', TAG_BYTES),
  }),
  ciphertext: bytesOf('ciphertext'),
});

/** A backup file whose header has been checked; nothing is decrypted yet. */
export type KeyBackup = z.infer<typeof KeyBackupFile>;

/** What is encrypted: the secrets themselves. */
const Secrets = z.strictObject({
  identity: bytesOf('identity', 32),
  peerKey: bytesOf('peerKey').optional(),
});

/** The header fields in a fixed order: what GCM authenticates besides the ciphertext. */
function additionalData(h: Omit<KeyBackup, 'cipher' | 'ciphertext'> & { cipher: { name: string; iv: Uint8Array } }): Buffer {
  return Buffer.from(JSON.stringify([
    h.format, h.version, h.did, h.peerId ?? null,
    h.kdf.name, h.kdf.N, h.kdf.r, h.kdf.p, encodeBase64(h.kdf.salt),
    h.cipher.name, encodeBase64(h.cipher.iv),
  ]), 'utf8');
}

function deriveKey(passphrase: string, salt: Uint8Array, kdf: { N: number; r: number; p: number }): Promise<Buffer> {
  // NFC: the same passphrase typed on another system may arrive in another normal form.
  const secret = Buffer.from(passphrase.normalize('NFC'), 'utf8');
  // What OpenSSL needs is 128·r·(N + p + 2) bytes (and 128·r·p for the output blocks); the
  // header check has already capped N, r and p at what chorus writes.
  const options: ScryptOptions = { ...kdf, maxmem: 128 * kdf.r * (kdf.N + 2 * kdf.p + 2) + (1 << 20) };
  return new Promise((resolve, reject) => {
    try {
      scryptCb(secret, salt, KEY_BYTES, options, (e, key) => (e ? reject(new ChorusError('malformed_json', `the key backup's scrypt parameters are unusable: ${e.message}`)) : resolve(key)));
    } catch (e) {
      reject(new ChorusError('malformed_json', `the key backup's scrypt parameters are unusable: ${(e as Error).message}`));
    }
  });
}

function peerKeyOf(bytes: Uint8Array, where: string): NonNullable<NodeKeys['peerKey']> {
  try {
    return { bytes, peerId: peerIdFromPrivateKey(privateKeyFromProtobuf(bytes)).toString() };
  } catch (e) {
    throw new ChorusError('io_error', `${where} is not a libp2p private key: ${(e as Error).message}`);
  }
}

/** Reads the node's identity and, when there is one, its peer key. */
export async function readNodeKeys(home: HomePaths): Promise<NodeKeys> {
  const identity = await loadIdentity(home.key);
  let peerKey: NodeKeys['peerKey'];
  try {
    peerKey = peerKeyOf(new Uint8Array(await readFile(home.peerKey)), home.peerKey);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw isChorusError(e) ? e : new ChorusError('io_error', `cannot read ${home.peerKey}: ${(e as Error).message}`);
  }
  return { identity, peerKey };
}

/**
 * Encrypts `keys` under `passphrase`: the text of a backup file. `cost` is for tests; a
 * backup made with more than SCRYPT_PARAMS could not be imported.
 */
export async function encryptKeyBackup(keys: NodeKeys, passphrase: string, cost: { N: number; r: number; p: number } = SCRYPT_PARAMS): Promise<string> {
  const kdf = { name: 'scrypt' as const, N: cost.N, r: cost.r, p: cost.p, salt: new Uint8Array(randomBytes(SALT_BYTES)) };
  const iv = new Uint8Array(randomBytes(IV_BYTES));
  const header = { format: KEY_BACKUP_FORMAT, version: KEY_BACKUP_VERSION, did: keys.identity.did, ...(keys.peerKey ? { peerId: keys.peerKey.peerId } : {}), kdf } as const;
  const key = await deriveKey(passphrase, kdf.salt, kdf);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(additionalData({ ...header, cipher: { name: 'aes-256-gcm', iv } }));
  const plain = Buffer.from(JSON.stringify({
    identity: encodeBase64(keys.identity.secretKey),
    ...(keys.peerKey ? { peerKey: encodeBase64(keys.peerKey.bytes) } : {}),
  }));
  const ciphertext = Buffer.concat([cipher.update(plain), cipher.final()]);
  plain.fill(0);
  key.fill(0);
  return JSON.stringify({
    ...header,
    kdf: { ...kdf, salt: encodeBase64(kdf.salt) },
    cipher: { name: 'aes-256-gcm', iv: encodeBase64(iv), tag: encodeBase64(cipher.getAuthTag()) },
    ciphertext: encodeBase64(ciphertext),
  }, null, 2) + '\n';
}

/**
 * Checks a backup file's size and header without the passphrase, and without deriving
 * any key: a file that would be too costly to try is refused here.
 */
export function parseKeyBackup(data: string | Uint8Array, source = 'the backup'): KeyBackup {
  const size = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
  if (size > MAX_KEY_BACKUP_BYTES) {
    throw new ChorusError('too_large', `${source} is ${size} bytes; a Chorus key backup is under ${MAX_KEY_BACKUP_BYTES}`, { size, limit: MAX_KEY_BACKUP_BYTES });
  }
  let json: unknown;
  try {
    json = JSON.parse(typeof data === 'string' ? data : Buffer.from(data).toString('utf8'));
  } catch {
    throw new ChorusError('malformed_json', `${source} is not a Chorus key backup (not JSON)`);
  }
  const head = json as { format?: unknown; version?: unknown } | null;
  if (head?.format === KEY_BACKUP_FORMAT && typeof head.version === 'number' && head.version !== KEY_BACKUP_VERSION) {
    throw new ChorusError('malformed_json', `${source} is a version ${head.version} key backup; this chorus reads version ${KEY_BACKUP_VERSION}`);
  }
  const parsed = KeyBackupFile.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const at = issue?.path.length ? `${issue.path.join('.')}: ` : '';
    throw new ChorusError('malformed_json', `${source} is not a Chorus key backup (${at}${issue?.message ?? 'bad shape'})`);
  }
  return parsed.data;
}

/**
 * Decrypts a parsed backup. A wrong passphrase and a changed file are the same failure
 * (`bad_signature`): GCM cannot tell them apart, and neither yields any key.
 */
export async function decryptKeyBackup(backup: KeyBackup, passphrase: string, source = 'the backup'): Promise<NodeKeys> {
  const key = await deriveKey(passphrase, backup.kdf.salt, backup.kdf);
  let plain: Buffer;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, backup.cipher.iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(additionalData(backup));
    decipher.setAuthTag(backup.cipher.tag);
    plain = Buffer.concat([decipher.update(backup.ciphertext), decipher.final()]);
  } catch {
    throw new ChorusError('bad_signature', `cannot decrypt ${source}: wrong passphrase, or the file was changed`);
  } finally {
    key.fill(0);
  }
  let secrets: z.infer<typeof Secrets>;
  try {
    secrets = Secrets.parse(JSON.parse(plain.toString('utf8')));
  } catch {
    throw new ChorusError('malformed_json', `${source} decrypts, but not to Chorus keys`);
  } finally {
    plain.fill(0);
  }
  const publicKey = publicKeyOf(secrets.identity);
  const identity: Identity = { did: didKeyFromPublicKey(publicKey), publicKey, secretKey: secrets.identity };
  const peerKey = secrets.peerKey ? peerKeyOf(secrets.peerKey, `the peer key in ${source}`) : undefined;
  if (identity.did !== backup.did || peerKey?.peerId !== backup.peerId) {
    throw new ChorusError('keyid_mismatch', `${source} holds keys other than the ids its header names`);
  }
  return { identity, peerKey };
}

/** What installing a backup did to each key file. */
export type KeyFileOutcome = 'written' | 'unchanged' | 'replaced';
export interface InstallResult extends InstallPlan {
  /** The replaced key files, kept (mode 0600) under these names. */
  readonly kept: readonly string[];
}

/** The identity file's text, as createIdentity writes it. */

async function readIfPresent(path: string): Promise<Uint8Array | undefined> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ChorusError('io_error', `cannot read ${path}: ${(e as Error).message}`);
  }
}

/** The ids a backup holds: its header's, which decryption checks against the keys. */
export interface BackupIds {
  readonly did: string;
  readonly peerId?: string | undefined;
}

/** What installing keys with these ids would do to each key file. */
export interface InstallPlan {
  readonly identity: KeyFileOutcome;
  readonly peerKey: KeyFileOutcome | 'none';
}

/**
 * Compares the ids of a backup with the keys in the data dir; refuses (nothing changed)
 * when one would be replaced and `force` is not given. Needs no passphrase, so the CLI
 * can refuse before asking for one.
 */
export async function planInstall(home: HomePaths, ids: BackupIds, force: boolean): Promise<InstallPlan> {
  let currentDid: string | undefined;
  let identity: KeyFileOutcome = 'written';
  if ((await readIfPresent(home.key)) !== undefined) {
    try {
      currentDid = (await loadIdentity(home.key)).did;
    } catch (e) {
      if (!force) throw new ChorusError('already_initialized', `${home.root} holds an identity chorus cannot read (${(e as Error).message}); nothing was changed. Pass --force to replace it (the old file is kept as a .bak file)`);
    }
    identity = currentDid === ids.did ? 'unchanged' : 'replaced';
  }
  let peerKey: InstallPlan['peerKey'] = 'none';
  let currentPeerId: string | undefined;
  if (ids.peerId !== undefined) {
    const current = await readIfPresent(home.peerKey);
    peerKey = 'written';
    if (current !== undefined) {
      try {
        currentPeerId = peerKeyOf(current, home.peerKey).peerId;
      } catch {
        currentPeerId = 'an unreadable key';
      }
      peerKey = currentPeerId === ids.peerId ? 'unchanged' : 'replaced';
    }
  }
  if (!force && identity === 'replaced') {
    throw new ChorusError('already_initialized', `${home.root} already holds another identity (${currentDid}); the backup holds ${ids.did}. Nothing was changed; pass --force to replace it (the old key is kept as a .bak file)`);
  }
  if (!force && peerKey === 'replaced') {
    throw new ChorusError('already_initialized', `${home.root} already holds another peer key (peer id ${currentPeerId}); the backup holds peer id ${ids.peerId}. Nothing was changed; pass --force to replace it (the old key is kept as a .bak file)`);
  }
  return { identity, peerKey };
}

/**
 * Puts `keys` into the data dir: each key file written atomically with mode 0600, and
 * what `chorus init` would have created around them (API token, config, trust list) when
 * missing, so `chorus start` works next. A key file holding a different key is replaced
 * only with `force`, the old one kept as `<file>.<time>.bak` (0600). Stopping a node that
 * runs on this data dir is the caller's business.
 */
export async function installNodeKeys(home: HomePaths, keys: NodeKeys, opts: { force?: boolean; now?: Date } = {}): Promise<InstallResult> {
  const plan = await planInstall(home, { did: keys.identity.did, peerId: keys.peerKey?.peerId }, opts.force ?? false);
  await mkdir(home.root, { recursive: true, mode: 0o700 });
  const stamp = (opts.now ?? new Date()).toISOString().replace(/[:.]/g, '-');
  const kept: string[] = [];
  const keep = async (path: string): Promise<void> => {
    const bak = `${path}.${stamp}.bak`;
    await copyFile(path, bak, constants.COPYFILE_EXCL);
    await chmod(bak, 0o600);
    kept.push(bak);
  };
  if (plan.identity !== 'unchanged') {
    if (plan.identity === 'replaced') await keep(home.key);
    await writeFileAtomic(home.key, identityFileText(keys.identity), 0o600);
    // Read back through the one loader every command uses: what was written is what runs.
    if ((await loadIdentity(home.key)).did !== keys.identity.did) throw new ChorusError('io_error', `${home.key} did not read back as ${keys.identity.did}`);
    // This identity has an issuer log elsewhere (SPEC §16.2): unless its log/ came along,
    // the node recovers the log's order from its peers before it signs a checkpoint.
    const logDir = join(home.root, 'log');
    const leaves = await stat(join(logDir, 'leaves.bin')).then((st) => st.size, () => 0);
    if (leaves === 0) {
      await mkdir(logDir, { recursive: true, mode: 0o700 });
      await writeFileAtomic(join(logDir, 'recover'), `${keys.identity.did}\n`, 0o600);
    }
  }
  if (keys.peerKey && (plan.peerKey === 'written' || plan.peerKey === 'replaced')) {
    if (plan.peerKey === 'replaced') await keep(home.peerKey);
    await writeFileAtomic(home.peerKey, keys.peerKey.bytes, 0o600);
  }
  await completeHome(home);
  return { ...plan, kept };
}

// What initHome (home.ts) creates besides the identity. Kept in step with it by hand:
// initHome refuses a data dir that already has a key, which after an import is the case.
