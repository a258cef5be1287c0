import { z } from 'zod';
import { DidKeyString, Timestamp } from '../statement/common.js';

/** The predicate kinds trust is scoped by (SPEC §10.1). */
export const SCOPES = ['audit', 'dealignment', 'license', 'payload', 'lineage', 'provenance'] as const;
export type Scope = (typeof SCOPES)[number];
export const ScopeSchema = z.enum(SCOPES);
/** A scope list: kinds, or `*` for every kind. */
export const ScopeList = z.array(z.union([ScopeSchema, z.literal('*')])).min(1).max(SCOPES.length + 1);

/** What a flagged finding of each kind means in this view: `flagged`, or only `caution`. */
export const SeverityMap = z.strictObject({
  audit: z.enum(['flagged', 'caution']).default('flagged'),
  dealignment: z.enum(['flagged', 'caution']).default('flagged'),
  license: z.enum(['flagged', 'caution']).default('caution').describe('a license problem is not a safety problem unless you say so'),
  payload: z.enum(['flagged', 'caution']).default('flagged'),
});

/** The policy's parameters, with the defaults of SPEC §10.1. */
export const TrustParams = z.strictObject({
  maxDepth: z.int().min(0).max(6).default(3).describe('endorsement hops from a root at most'),
  spread: z.number().gt(0).lt(1).default(0.5).describe('fraction of its trust an issuer passes on to those it endorses (decay per hop)'),
  minWeight: z.number().min(0).max(1).default(0.005).describe('an issuer counts from this trust on'),
  decideWeight: z.number().gt(0).default(0.01).describe('weight a side needs before it decides a status'),
  disputeRatio: z.number().gt(0).max(1).default(0.5).describe('fail and pass weights closer than this ratio (smaller / larger) are a dispute'),
  cautionRatio: z.number().gt(0).max(1).default(0.25).describe('fail and warn weight outweighed by passes still make caution from this ratio (to the pass weight) on'),
  severity: SeverityMap.prefault({}),
});

export const TrustRoot = z.strictObject({
  issuer: DidKeyString,
  scope: ScopeList.default(['*']),
  weight: z.number().gt(0).max(1).default(1),
  note: z.string().max(256).optional(),
  addedAt: Timestamp.optional(),
});
export const TrustBlock = z.strictObject({ issuer: DidKeyString, note: z.string().max(256).optional(), addedAt: Timestamp.optional() });
export const TrustSubscription = z.strictObject({
  issuer: DidKeyString,
  weight: z.number().gt(0).max(1).default(0.5),
  note: z.string().max(256).optional(),
  addedAt: Timestamp.optional(),
});

/** trust.json, version 2: whom this node trusts, on what, and how much (SPEC §10.1). */
export const TrustPolicyFile = z
  .strictObject({
    version: z.literal(2),
    roots: z.array(TrustRoot).max(100_000).default([]),
    blocks: z.array(TrustBlock).max(100_000).default([]),
    subscriptions: z.array(TrustSubscription).max(1_000).default([]),
    params: TrustParams.prefault({}),
  })
  .superRefine((p, ctx) => {
    // An issuer is in at most one place, once: a repeated root would multiply its weight.
    const seen = new Set<string>();
    for (const [list, entries] of [['roots', p.roots], ['blocks', p.blocks], ['subscriptions', p.subscriptions]] as const) {
      entries.forEach((e, i) => {
        if (seen.has(e.issuer)) ctx.addIssue({ code: 'custom', path: [list, i, 'issuer'], message: `${e.issuer} is listed more than once (an issuer is a root, a block or a subscription, once)` });
        seen.add(e.issuer);
      });
    }
  });

export type TrustRoot = z.infer<typeof TrustRoot>;
export type TrustBlock = z.infer<typeof TrustBlock>;
export type TrustSubscription = z.infer<typeof TrustSubscription>;
export type TrustParams = z.infer<typeof TrustParams>;
export type TrustPolicy = z.infer<typeof TrustPolicyFile>;

/** The default policy: no roots (the node's own key is added by the node when configured). */
export function emptyPolicy(): TrustPolicy {
  return TrustPolicyFile.parse({ version: 2 });
}

/** The kind an attestation's trust is looked up in; undefined for kinds that are not scored by issuer trust. */
export function scopeOf(kind: string | undefined): Scope | undefined {
  return (SCOPES as readonly string[]).includes(kind ?? '') ? (kind as Scope) : undefined;
}
