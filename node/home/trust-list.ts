import { copyFile, readFile } from 'node:fs/promises';
import { z } from 'zod';
import { ChorusError } from '../../src/errors.js';
import { DidKeyString, Timestamp } from '../../src/statement/common.js';
import { publicKeyFromDidKey } from '../../src/identity/did-key.js';
import { emptyPolicy, TrustPolicyFile, type Scope, type TrustPolicy } from '../../src/reputation/policy.js';
import { writeFileAtomic } from './files.js';

/** trust.json version 1: a flat list of trusted issuers. Read only to migrate. */
const TrustFileV1 = z.strictObject({
  issuers: z.array(z.strictObject({ issuer: DidKeyString, note: z.string().max(256).optional(), addedAt: Timestamp })),
});

function stamp(now: Date): string {
  return now.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * Reads the trust policy. A missing file is the empty policy; a version-1 file (a flat
 * list) becomes version 2 with each issuer a root of every kind at weight 1, written back
 * once (the old file kept beside it as trust.json.v1), so nothing is lost.
 */
export async function loadPolicy(path: string): Promise<TrustPolicy> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return emptyPolicy();
    throw new ChorusError('io_error', `cannot read ${path}: ${(e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new ChorusError('bad_input', `trust policy ${path} is not JSON; fix or remove it`);
  }
  const v1 = TrustFileV1.safeParse(raw);
  if (v1.success) {
    const policy = TrustPolicyFile.parse({
      version: 2,
      roots: v1.data.issuers.map((entry) => ({ issuer: entry.issuer, scope: ['*'], weight: 1, addedAt: entry.addedAt, ...(entry.note === undefined ? {} : { note: entry.note }) })),
    });
    await copyFile(path, `${path}.v1`);
    await writePolicy(path, policy);
    return policy;
  }
  const v2 = TrustPolicyFile.safeParse(raw);
  if (!v2.success) {
    const first = v2.error.issues[0];
    throw new ChorusError('bad_input', `trust policy ${path} is damaged at ${first?.path.join('.') || '(root)'}: ${first?.message ?? 'invalid'}; fix or remove it`);
  }
  return v2.data;
}

/** Replaces the whole policy (atomically), after validating it. */
export async function writePolicy(path: string, policy: TrustPolicy): Promise<TrustPolicy> {
  const checked = TrustPolicyFile.parse(policy);
  await writeFileAtomic(path, JSON.stringify(checked, null, 2) + '\n');
  return checked;
}

function checkDid(did: string): void {
  if (publicKeyFromDidKey(did) === undefined) throw new ChorusError('bad_input', `not an Ed25519 did:key: "${did.slice(0, 100)}" (expected did:key:z6Mk…)`, { issuer: did });
}

/** One change to a policy, as the CLI and the API express it. */
export type PolicyEdit =
  | { readonly op: 'trust'; readonly issuer: string; readonly scope?: readonly (Scope | '*')[] | undefined; readonly weight?: number | undefined; readonly note?: string | undefined }
  | { readonly op: 'block'; readonly issuer: string; readonly note?: string | undefined }
  | { readonly op: 'subscribe'; readonly issuer: string; readonly weight?: number | undefined; readonly note?: string | undefined }
  | { readonly op: 'remove'; readonly issuer: string }
  | { readonly op: 'params'; readonly params: Partial<TrustPolicy['params']> };

/**
 * Applies one edit. An issuer is in at most one of roots, blocks and subscriptions:
 * trusting unblocks, blocking removes trust and subscription. Returns the new policy and
 * whether the edit changed anything.
 */
export function applyEdit(policy: TrustPolicy, edit: PolicyEdit, now: Date): { policy: TrustPolicy; changed: boolean } {
  if (edit.op === 'params') {
    const next = TrustPolicyFile.parse({ ...policy, params: { ...policy.params, ...edit.params } });
    return { policy: next, changed: JSON.stringify(next.params) !== JSON.stringify(policy.params) };
  }
  checkDid(edit.issuer);
  const without = {
    roots: policy.roots.filter((root) => root.issuer !== edit.issuer),
    blocks: policy.blocks.filter((block) => block.issuer !== edit.issuer),
    subscriptions: policy.subscriptions.filter((subscription) => subscription.issuer !== edit.issuer),
  };
  const was = [...policy.roots, ...policy.blocks, ...policy.subscriptions].find((entry) => entry.issuer === edit.issuer);
  const addedAt = was?.addedAt ?? stamp(now);
  const note = 'note' in edit && edit.note !== undefined ? edit.note : was?.note;
  const noteField = note === undefined ? {} : { note };
  let next: TrustPolicy;
  switch (edit.op) {
    case 'remove':
      next = { ...policy, ...without };
      break;
    case 'trust': {
      const old = policy.roots.find((root) => root.issuer === edit.issuer);
      next = { ...policy, ...without, roots: [...without.roots, { issuer: edit.issuer, scope: [...(edit.scope ?? old?.scope ?? ['*'])], weight: edit.weight ?? old?.weight ?? 1, addedAt, ...noteField }] };
      break;
    }
    case 'block':
      next = { ...policy, ...without, blocks: [...without.blocks, { issuer: edit.issuer, addedAt, ...noteField }] };
      break;
    case 'subscribe': {
      const old = policy.subscriptions.find((subscription) => subscription.issuer === edit.issuer);
      next = { ...policy, ...without, subscriptions: [...without.subscriptions, { issuer: edit.issuer, weight: edit.weight ?? old?.weight ?? 0.5, addedAt, ...noteField }] };
      break;
    }
  }
  const checked = TrustPolicyFile.parse(next);
  return { policy: checked, changed: JSON.stringify(checked) !== JSON.stringify(policy) };
}

/** Loads, edits and writes the policy; returns it and whether anything changed. */
export async function editPolicy(path: string, edit: PolicyEdit, now = new Date()): Promise<{ policy: TrustPolicy; changed: boolean }> {
  const result = applyEdit(await loadPolicy(path), edit, now);
  if (result.changed) await writePolicy(path, result.policy);
  return result;
}

/**
 * Replaces the roots with `issuers` (the version-1 API: PUT /v1/trust with an issuer list),
 * keeping blocks, subscriptions, params, and the addedAt and notes of roots kept.
 */
export async function replaceRoots(path: string, issuers: readonly { issuer: string; note?: string | undefined; scope?: readonly (Scope | '*')[] | undefined; weight?: number | undefined }[], now: Date): Promise<TrustPolicy> {
  const policy = await loadPolicy(path);
  const before = new Map(policy.roots.map((root) => [root.issuer, root]));
  const seen = new Set<string>();
  const roots = issuers.map((entry) => {
    checkDid(entry.issuer);
    if (seen.has(entry.issuer)) throw new ChorusError('bad_input', `listed twice: ${entry.issuer}`);
    seen.add(entry.issuer);
    const old = before.get(entry.issuer);
    const note = entry.note ?? old?.note;
    return { issuer: entry.issuer, scope: [...(entry.scope ?? old?.scope ?? ['*'])], weight: entry.weight ?? old?.weight ?? 1, addedAt: old?.addedAt ?? stamp(now), ...(note === undefined ? {} : { note }) };
  });
  return writePolicy(path, { ...policy, roots, blocks: policy.blocks.filter((block) => !seen.has(block.issuer)), subscriptions: policy.subscriptions.filter((subscription) => !seen.has(subscription.issuer)) });
}
