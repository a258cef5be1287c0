import { readFile, open } from 'node:fs/promises';
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import type { PrivateKey } from '@libp2p/interface';
import { ChorusError } from '../../src/errors.js';

/**
 * The node's libp2p identity (peer id), kept apart from the issuer key: an organisation
 * may run several nodes that publish under one issuer key, and a node's transport
 * identity can be rotated without touching what it has signed. Mode 0600, never logged.
 */
export async function loadOrCreatePeerKey(path: string): Promise<PrivateKey> {
  try {
    return privateKeyFromProtobuf(new Uint8Array(await readFile(path)));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new ChorusError('io_error', `peer key ${path} is unreadable or damaged: ${(e as Error).message}`);
    }
  }
  const key = await generateKeyPair('Ed25519');
  const fh = await open(path, 'wx', 0o600);
  try {
    await fh.writeFile(privateKeyToProtobuf(key));
    await fh.sync();
  } finally {
    await fh.close();
  }
  return key;
}
