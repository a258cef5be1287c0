import { createPrivateKey, X509Certificate } from 'node:crypto';
import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { ensureTls } from '../../node/api/tls.js';
import { tempDir } from '../support/temp-dir.js';

/*
 * The LAN server's certificate (issue 22): made once and kept; damaged files or a key that
 * is not the certificate's are replaced (with the reason, for the log) rather than stopping
 * the node with a stack trace; the key is kept private whatever was done to its mode.
 */

const mode = async (p: string): Promise<number> => (await stat(p)).mode & 0o777;

describe('ensureTls', () => {
  test('a made certificate is kept: the same fingerprint on the next start; key 0600 in a 0700 directory, restored if loosened', async () => {
    await using dir = await tempDir();
    const tls = join(dir.path, 'tls');
    const first = await ensureTls(tls, ['127.0.0.2']);
    expect(first.replaced).toBeUndefined();
    expect(new X509Certificate(first.cert).checkPrivateKey(createPrivateKey(first.key))).toBe(true);
    expect(await mode(join(tls, 'key.pem'))).toBe(0o600);
    expect(await mode(tls)).toBe(0o700);
    await chmod(join(tls, 'key.pem'), 0o644);
    await chmod(tls, 0o755);
    const again = await ensureTls(tls, ['127.0.0.2']);
    expect(again.fingerprint).toBe(first.fingerprint);
    expect(await mode(join(tls, 'key.pem'))).toBe(0o600);
    expect(await mode(tls)).toBe(0o700);
  });

  test('a damaged certificate, or a key from elsewhere: a new pair that works, and why', async () => {
    await using dir = await tempDir();
    const tls = join(dir.path, 'tls');
    const first = await ensureTls(tls, []);
    await writeFile(join(tls, 'cert.pem'), 'garbage\n');
    const fixed = await ensureTls(tls, []);
    expect(fixed.replaced).toMatch(/cannot be read as a certificate/);
    expect(fixed.fingerprint).not.toBe(first.fingerprint);
    expect(new X509Certificate(await readFile(join(tls, 'cert.pem'))).checkPrivateKey(createPrivateKey(await readFile(join(tls, 'key.pem'))))).toBe(true);

    await using other = await tempDir();
    const foreign = await ensureTls(join(other.path, 'tls'), []);
    await writeFile(join(tls, 'key.pem'), foreign.key, { mode: 0o600 });
    const mended = await ensureTls(tls, []);
    expect(mended.replaced).toBe('key.pem is not the key of cert.pem');
    expect(new X509Certificate(mended.cert).checkPrivateKey(createPrivateKey(mended.key))).toBe(true);
  });
});
