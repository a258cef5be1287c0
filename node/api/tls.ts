// @peculiar/x509 (through tsyringe) needs the Reflect metadata polyfill before it loads.
import 'reflect-metadata';
import { createHash, createPrivateKey, randomBytes, webcrypto, X509Certificate } from 'node:crypto';
import { chmod, mkdir, readFile } from 'node:fs/promises';
import { hostname, networkInterfaces } from 'node:os';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { writeFileAtomic } from '../home/files.js';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/** The node's own TLS certificate for LAN mode (issue 22): made once, kept in tls/ of the data dir. */
export interface NodeTls {
  readonly key: string;
  readonly cert: string;
  /** SHA-256 of the certificate (DER), as browsers show it: AB:CD:… */
  readonly fingerprint: string;
  /** The names and addresses the certificate is for (and the LAN server answers to). */
  readonly names: readonly string[];
  /** Why the files in tls/ were replaced by a new certificate, when they were there but could not be used. */
  readonly replaced?: string;
}

/** This machine's names and non-loopback addresses: what a browser on the LAN may call it. */
export function machineNames(): string[] {
  const out = new Set<string>([hostname().toLowerCase()]);
  if (!hostname().includes('.')) out.add(`${hostname().toLowerCase()}.local`);
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) if (!a.internal) out.add(a.address.toLowerCase());
  return [...out];
}

function fingerprintOf(der: ArrayBuffer): string {
  return createHash('sha256').update(Buffer.from(der)).digest('hex').toUpperCase().match(/../g)!.join(':');
}

/**
 * The certificate in `dir` (key.pem 0600, cert.pem), or a new self-signed one (ECDSA P-256,
 * 825 days) for this machine's names and addresses plus `extra` (e.g. the address the LAN
 * server binds), made when there is none or it does not cover them all.
 */
export async function ensureTls(dir: string, extra: readonly string[] = []): Promise<NodeTls> {
  const names = [...new Set([...machineNames(), 'localhost', ...extra.filter((x) => x !== '0.0.0.0' && x !== '::')])];
  const keyPath = join(dir, 'key.pem');
  const certPath = join(dir, 'cert.pem');
  const [key, certPem] = await Promise.all([readFile(keyPath, 'utf8').catch(() => undefined), readFile(certPath, 'utf8').catch(() => undefined)]);
  let replaced: string | undefined;
  if (key !== undefined && certPem !== undefined) {
    // Damaged files, or a key that is not the certificate's: made anew, and said so (the fingerprint changes).
    const usable = ((): string | undefined => {
      try {
        if (!new X509Certificate(certPem).checkPrivateKey(createPrivateKey(key))) return 'key.pem is not the key of cert.pem';
        return undefined;
      } catch (e) {
        return `they cannot be read as a certificate and its key (${(e as Error).message.split('\n')[0]})`;
      }
    })();
    if (usable === undefined) {
      const cert = new x509.X509Certificate(certPem);
      const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
      const covered = new Set((san?.names.items ?? []).map((n) => n.value.toLowerCase()));
      if (cert.notAfter.getTime() > Date.now() + 86_400_000 && names.every((n) => covered.has(n))) {
        // The key stays private whatever was done to the files since: 0600 in a 0700 directory.
        await Promise.all([chmod(dir, 0o700), chmod(keyPath, 0o600)]);
        return { key, cert: certPem, fingerprint: fingerprintOf(cert.rawData), names };
      }
    } else {
      replaced = usable;
    }
  }
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const isIp = (n: string): boolean => /^[0-9.]+$/.test(n) || n.includes(':');
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomBytes(16).toString('hex'),
    name: `CN=${hostname()}, O=Chorus node`,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 825 * 86_400_000),
    signingAlgorithm: alg,
    keys: keys as unknown as Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[0]['keys'],
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(names.map((n) => ({ type: isIp(n) ? 'ip' : 'dns', value: n }))),
    ],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)).toString('base64');
  const keyPem = `-----BEGIN PRIVATE KEY-----\n${pkcs8.match(/.{1,64}/g)!.join('\n')}\n-----END PRIVATE KEY-----\n`;
  const pem = cert.toString('pem') + '\n';
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  await writeFileAtomic(keyPath, keyPem, 0o600);
  await writeFileAtomic(certPath, pem, 0o644);
  return { key: keyPem, cert: pem, fingerprint: fingerprintOf(cert.rawData), names, ...(replaced === undefined ? {} : { replaced }) };
}
