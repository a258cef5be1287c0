import { randomBytes } from 'node:crypto';
import { open, readFile, stat } from 'node:fs/promises';
import { z } from 'zod';
import { ChorusError } from '../../src/errors.js';
import { decodeBase64, encodeBase64 } from '../../src/encoding/bytes.js';
import { didKeyFromPublicKey, type DidKey } from '../../src/identity/did-key.js';
import { publicKeyOf } from '../../src/crypto/reference-suite.js';

/** The node's issuer identity. The secret never leaves this object except to sign. */
export interface Identity {
  readonly did: DidKey;
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
}

const KeyFile = z.strictObject({
  type: z.literal('ed25519'),
  did: z.string(),
  secretKey: z.string(),
});

/** The key file's text for an identity. */
export function identityFileText(id: Pick<Identity, 'did' | 'secretKey'>): string {
  return JSON.stringify({ type: 'ed25519', did: id.did, secretKey: encodeBase64(id.secretKey) }, null, 2) + '\n';
}

/** Creates a new key file with mode 0600; fails if one exists. */
export async function createIdentity(path: string): Promise<Identity> {
  const secretKey = new Uint8Array(randomBytes(32));
  const publicKey = publicKeyOf(secretKey);
  const did = didKeyFromPublicKey(publicKey);
  const fh = await open(path, 'wx', 0o600);
  try {
    await fh.writeFile(identityFileText({ did, secretKey }));
    await fh.sync();
  } finally {
    await fh.close();
  }
  return { did, publicKey, secretKey };
}

/** Loads the key file, refusing one that others can read (as ssh does). */
export async function loadIdentity(path: string): Promise<Identity> {
  let text: string;
  try {
    const st = await stat(path);
    if ((st.mode & 0o077) !== 0) {
      throw new ChorusError('io_error', `key file ${path} is readable by others (mode ${(st.mode & 0o777).toString(8)}); run: chmod 600 ${path}`);
    }
    text = await readFile(path, 'utf8');
  } catch (e) {
    if (e instanceof ChorusError) throw e;
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new ChorusError('not_initialized', `no identity at ${path}; run: chorus init`);
    }
    throw new ChorusError('io_error', `cannot read key file ${path}: ${(e as Error).message}`);
  }
  let parsed: z.infer<typeof KeyFile>;
  try {
    parsed = KeyFile.parse(JSON.parse(text));
  } catch {
    throw new ChorusError('io_error', `key file ${path} is damaged (not a Chorus ed25519 key file)`);
  }
  const secretKey = decodeBase64(parsed.secretKey);
  if (!secretKey || secretKey.length !== 32) throw new ChorusError('io_error', `key file ${path} is damaged (secret key)`);
  const publicKey = publicKeyOf(secretKey);
  const did = didKeyFromPublicKey(publicKey);
  if (did !== parsed.did) throw new ChorusError('io_error', `key file ${path} is damaged (did does not match the key)`);
  return { did, publicKey, secretKey };
}
