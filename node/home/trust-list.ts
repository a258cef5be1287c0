import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { ChorusError } from '../../src/errors.js';
import { DidKeyString, Timestamp } from '../../src/statement/common.js';
import { publicKeyFromDidKey } from '../../src/identity/did-key.js';
import { writeFileAtomic } from './files.js';

export const TrustEntry = z.strictObject({
  issuer: DidKeyString,
  note: z.string().max(256).optional(),
  addedAt: Timestamp,
});
export const TrustFile = z.strictObject({ issuers: z.array(TrustEntry) });
export type TrustEntry = z.infer<typeof TrustEntry>;
export type TrustFile = z.infer<typeof TrustFile>;

export async function loadTrust(path: string): Promise<TrustFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { issuers: [] };
    throw new ChorusError('io_error', `cannot read ${path}: ${(e as Error).message}`);
  }
  try {
    return TrustFile.parse(JSON.parse(text));
  } catch {
    throw new ChorusError('bad_input', `trust list ${path} is damaged; fix or remove it`);
  }
}

/** Replaces the whole trust list (atomically). */
export async function writeTrust(path: string, t: TrustFile): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(TrustFile.parse(t), null, 2) + '\n');
}

/**
 * Replaces the trust list with `issuers`, keeping the addedAt (and, when not given, the
 * note) of issuers that were already on it. Rejects a bad or repeated did before writing.
 */
export async function replaceTrust(path: string, issuers: readonly { issuer: string; note?: string | undefined }[], now: Date): Promise<TrustFile> {
  const before = new Map((await loadTrust(path)).issuers.map((e) => [e.issuer, e]));
  const stamp = now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const seen = new Set<string>();
  const next: TrustFile = {
    issuers: issuers.map((e) => {
      if (publicKeyFromDidKey(e.issuer) === undefined) throw new ChorusError('bad_input', `not an Ed25519 did:key: "${e.issuer.slice(0, 100)}"`, { issuer: e.issuer });
      if (seen.has(e.issuer)) throw new ChorusError('bad_input', `listed twice: ${e.issuer}`);
      seen.add(e.issuer);
      const note = e.note ?? before.get(e.issuer)?.note;
      return { issuer: e.issuer, ...(note === undefined ? {} : { note }), addedAt: before.get(e.issuer)?.addedAt ?? stamp };
    }),
  };
  await writeTrust(path, next);
  return next;
}
