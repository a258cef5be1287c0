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

function checkIssuer(issuer: string): void {
  if (publicKeyFromDidKey(issuer) === undefined) {
    throw new ChorusError('bad_input', `not an Ed25519 did:key: "${issuer.slice(0, 100)}"`);
  }
}

/** Adds (or updates the note of) an issuer. Returns whether it was new. */
export async function trustAdd(path: string, issuer: string, note: string | undefined, now: Date): Promise<boolean> {
  checkIssuer(issuer);
  const t = await loadTrust(path);
  const existing = t.issuers.find((e) => e.issuer === issuer);
  if (existing) {
    if (note !== undefined) existing.note = note;
  } else {
    t.issuers.push({ issuer, ...(note === undefined ? {} : { note }), addedAt: now.toISOString().replace(/\.\d{3}Z$/, 'Z') });
  }
  await writeFileAtomic(path, JSON.stringify(t, null, 2) + '\n');
  return existing === undefined;
}

/** Removes an issuer. Returns whether it was there. */
export async function trustRemove(path: string, issuer: string): Promise<boolean> {
  checkIssuer(issuer);
  const t = await loadTrust(path);
  const before = t.issuers.length;
  t.issuers = t.issuers.filter((e) => e.issuer !== issuer);
  if (t.issuers.length === before) return false;
  await writeFileAtomic(path, JSON.stringify(t, null, 2) + '\n');
  return true;
}
