import { z } from 'zod';

/** The reputation view's shape: the API documents and the code types it from here. */
export const ModelVerdictSchema = z.enum(['pass', 'warn', 'fail', 'info']);
export const CountReasonSchema = z.enum(['trusted', 'untrusted', 'retracted', 'expired', 'not-scored']);
export const StatusSchema = z.enum(['flagged', 'caution', 'ok', 'unknown']).describe('flagged: a counted fail; caution: a counted warn; ok: counted passes only; unknown: nothing counted');

export const EvidenceItemSchema = z.object({
  id: z.string(),
  issuer: z.string(),
  predicateType: z.string(),
  issuedAt: z.string(),
  expiresAt: z.string().optional(),
  verdict: ModelVerdictSchema.optional(),
  counts: z.boolean().describe('whether this attestation counts toward the summary'),
  reason: CountReasonSchema.describe('why it counts or does not'),
  retractedBy: z.string().optional().describe('id of the retraction that withdrew it'),
  predicate: z.record(z.string(), z.unknown()),
});

export const PredicateSummarySchema = z.object({
  summary: z.union([ModelVerdictSchema, z.literal('none')]).describe('worst verdict among counted attestations; none when none count'),
  counted: z.int(),
  total: z.int(),
  attestations: z.array(EvidenceItemSchema),
});

export const ReputationViewSchema = z.object({
  digest: z.string().describe('sha256:<hex>'),
  asOf: z.string(),
  status: StatusSchema,
  trustedIssuers: z.int(),
  byPredicate: z.record(z.string(), PredicateSummarySchema),
  evidence: z
    .object({
      total: z.int().describe('attestations stored about the digest, by any issuer'),
      listed: z.int().describe('attestations listed in byPredicate: every one of a counting issuer, and at most 20 others'),
      omitted: z.int().describe('attestations not listed (none of them counts); page them with GET /v1/models/{digest}/attestations'),
    })
    .optional(),
});

export type ModelVerdict = z.infer<typeof ModelVerdictSchema>;
export type CountReason = z.infer<typeof CountReasonSchema>;
export type Status = z.infer<typeof StatusSchema>;
export type EvidenceItem = z.infer<typeof EvidenceItemSchema>;
export type PredicateSummary = z.infer<typeof PredicateSummarySchema>;
export type ReputationView = z.infer<typeof ReputationViewSchema>;
