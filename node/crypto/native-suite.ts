import * as cryptoModule from 'node:crypto';
import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { precheck } from '../../src/crypto/ed25519-rules.js';
import type { CryptoSuite } from '../../src/crypto/suite.js';
import { VerifyPool } from './verify-pool.js';

const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const KEY_CACHE_SIZE = 4096;

/** The process's signature workers, started on first use (CHORUS_VERIFY_WORKERS: how many; default one per core, at most 4). */
let pool: VerifyPool | undefined;
function verifyPool(fallback: (sig: Uint8Array, msg: Uint8Array, key: Uint8Array) => boolean, few: (sig: Uint8Array, msg: Uint8Array, key: Uint8Array) => Promise<boolean>): VerifyPool {
  const n = Number(process.env['CHORUS_VERIFY_WORKERS']);
  return (pool ??= new VerifyPool(fallback, Number.isInteger(n) && n >= 1 && n <= 16 ? n : undefined, few));
}


/**
 * The node's hot-path suite: OpenSSL through node:crypto (about 14x @noble here).
 * The shared prechecks run first, so its verdicts match the reference on every input.
 */
export function nativeSuite(): CryptoSuite {
  const keys = new Map<string, KeyObject | null>();

  function keyFor(publicKey: Uint8Array): KeyObject | null {
    const k = Buffer.from(publicKey.buffer, publicKey.byteOffset, publicKey.byteLength).toString('latin1');
    let key = keys.get(k);
    if (key !== undefined) {
      keys.delete(k); // keep recently used keys at the end (LRU)
      keys.set(k, key);
      return key;
    }
    try {
      key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' });
    } catch {
      key = null;
    }
    if (keys.size >= KEY_CACHE_SIZE) keys.delete(keys.keys().next().value as string);
    keys.set(k, key);
    return key;
  }

  return {
    name: 'native (node:crypto)',
    sha256: (data) => createHash('sha256').update(data).digest(),
    verifyAsync(signature, message, publicKey) {
      if (precheck(signature, publicKey) !== undefined) return Promise.resolve(false);
      // Batched to the worker threads (one per core), a few on the threadpool: see verify-pool.ts.
      return verifyPool(checkHere, onThreadpool).verify(signature, message, publicKey);
    },
    verify: checkHere,
  };

  /** One check on the libuv threadpool (OpenSSL with a callback); the precheck passed. */
  function onThreadpool(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): Promise<boolean> {
    const key = keyFor(publicKey);
    if (key === null) return Promise.resolve(false);
    return new Promise((resolve) => {
      try {
        verify(null, message, key, signature, (err, ok) => resolve(err === null && ok));
      } catch {
        resolve(false);
      }
    });
  }

  function checkHere(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
    if (precheck(signature, publicKey) !== undefined) return false;
    const key = keyFor(publicKey);
    if (key === null) return false;
    try {
      return verify(null, message, key, signature);
    } catch {
      return false;
    }
  }
}

const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** A fast signer for one 32-byte seed via node:crypto (for bulk signing and benchmarks). */
export function nativeSigner(secretKey: Uint8Array): (message: Uint8Array) => Uint8Array {
  const { createPrivateKey, sign } = cryptoModule;
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, secretKey]), format: 'der', type: 'pkcs8' });
  return (message) => new Uint8Array(sign(null, message, key));
}
