import { z } from 'zod';

/** The reputation view's shape: the API documents and the code types it from here. */
export const ModelVerdictSchema = z.enum(['pass', 'warn', 'fail', 'info']);
export const CountReasonSchema = z
  .enum(['trusted', 'untrusted', 'weak', 'blocked', 'retracted', 'expired', 'superseded', 'equivocating', 'ignored', 'not-scored'])
  .describe('trusted: counts; untrusted: issuer not reached by your trust; weak: reached, below params.minWeight; blocked: on your block list; retracted / expired; superseded: its issuer said something newer about this digest and kind; equivocating: its issuer signed contradictory verdicts at the same time; ignored: left out by `without`; not-scored: a kind without a verdict');
export const StatusSchema = z
  .enum(['flagged', 'disputed', 'caution', 'ok', 'unknown'])
  .describe('flagged: counted fail weight decides; disputed: trusted issuers contradict each other; caution: a counted warn, or a fail outweighed, or a finding mapped to caution; ok: counted passes only; unknown: nothing counted');

export const TrustHopSchema = z.object({
  from: z.string(),
  fromNote: z.string().optional().describe('your name for `from` (trust list note)'),
  to: z.string(),
  endorsement: z.string().optional().describe('id of the endorsement attestation of this hop'),
  weight: z.number(),
});

export const IssuerTrustSchema = z.object({
  scope: z.string(),
  trust: z.number().describe('this node\'s trust in the issuer for this kind, 0-1, rounded to 4 decimals'),
  via: z.enum(['root', 'endorsed', 'blocked']),
  path: z.array(TrustHopSchema).describe('the strongest path from one of your roots (or subscriptions) to the issuer'),
});

export const InheritedSchema = z.object({
  from: z.string().describe('sha256:<hex> of the base model'),
  relation: z.string(),
  lineageBy: z.string().describe('issuer of the lineage attestation'),
  lineageId: z.string(),
  originalVerdict: ModelVerdictSchema,
});

export const EvidenceItemSchema = z.object({
  id: z.string(),
  issuer: z.string(),
  issuerNote: z.string().optional().describe('your name for the issuer (trust list note)'),
  predicateType: z.string(),
  issuedAt: z.string(),
  expiresAt: z.string().optional(),
  verdict: ModelVerdictSchema.optional(),
  counts: z.boolean().describe('whether this attestation counts toward the status'),
  reason: CountReasonSchema,
  weight: z.number().optional().describe('what it weighs when it counts: its issuer\'s trust in this kind'),
  trust: IssuerTrustSchema.optional(),
  retractedBy: z.string().optional().describe('id of the retraction that withdrew it'),
  supersededBy: z.string().optional(),
  inherited: InheritedSchema.optional().describe('a finding about a base model, carried to this one by a trusted lineage claim'),
  predicate: z.record(z.string(), z.unknown()),
});

export const WeightsSchema = z.object({ fail: z.number(), warn: z.number(), pass: z.number(), info: z.number() });

export const PredicateSummarySchema = z.object({
  status: StatusSchema,
  summary: z.union([ModelVerdictSchema, z.literal('none')]).describe('worst counted verdict; none when none count'),
  counted: z.int(),
  total: z.int(),
  weights: WeightsSchema.describe('sum of counted weights per verdict'),
  attestations: z.array(EvidenceItemSchema),
});

export const DisputeSchema = z.object({
  kind: z.string(),
  fail: z.array(z.object({ issuer: z.string(), weight: z.number(), id: z.string() })),
  pass: z.array(z.object({ issuer: z.string(), weight: z.number(), id: z.string() })),
});

/** How complete this node's copy of one issuer's log is (SPEC §16.4). */
export const LogCompletenessSchema = z.object({
  issuer: z.string(),
  state: z.enum(['complete', 'missing', 'stale', 'unsettled', 'no-log', 'equivocated', 'own']).describe('complete: every statement up to the newest checkpoint is held and the checkpoint is fresh (and settled, with transparency.requireSettled); missing: some are known and not held; stale: the newest checkpoint is older than transparency.staleHours; unsettled: not cosigned by the witness quorum while transparency.requireSettled is on; no-log: no checkpoint of this issuer reached this node; equivocated: the issuer signed two histories (proof held); own: this node\'s own log'),
  verified: z.int().describe('leaves of the newest checkpoint verified against the leaves this node holds'),
  known: z.int().describe('the largest size a valid checkpoint of the issuer claimed'),
  missing: z.int().describe('statements known and not held'),
  checkpointAt: z.string().nullable().describe('when the issuer signed its newest checkpoint'),
  witnesses: z.int().describe('witnesses named by the witness policy (the witness-policy file, else transparency.witnesses, else every issuer that counts) which cosigned the verified checkpoint'),
  settled: z.boolean().describe('their cosignatures satisfy the quorum (the policy file\'s, else any transparency.quorum of them)'),
});

/** The view's completeness: whether every issuer that counts has its log held completely here (SPEC §16.4). */
export const CompletenessSchema = z.object({
  complete: z.boolean().describe('every issuer that counts has a fresh log held completely here, and none equivocated: a silence in this view is a silence of theirs'),
  summary: z.string().describe('the completeness in one sentence'),
  counts: z.object({ complete: z.int(), missing: z.int(), stale: z.int(), unsettled: z.int(), noLog: z.int(), equivocated: z.int() }).describe('issuers that count, by the state of their log here'),
  missing: z.int().describe('statements of issuers that count known and not held, all together'),
  issuers: z.array(LogCompletenessSchema).describe('the issuers with counting evidence in this view, then issuers whose log is not complete (at most 50 in all)'),
});

export const ReputationViewSchema = z.object({
  digest: z.string().describe('sha256:<hex>'),
  asOf: z.string(),
  status: StatusSchema,
  reason: z.string().describe('the status in one sentence'),
  trustedIssuers: z.int().describe('issuers your trust reaches (any kind, at or above minWeight)'),
  byPredicate: z.record(z.string(), PredicateSummarySchema),
  disputes: z.array(DisputeSchema),
  equivocators: z.array(z.string()),
  untrusted: z
    .object({ listed: z.int(), fail: z.int(), warn: z.int(), pass: z.int(), other: z.int() })
    .describe('listed attestations from issuers you do not trust, by verdict: they do not count'),
  without: z.string().optional().describe('the issuer left out (what-if)'),
  deferredEndorsements: z
    .array(z.object({
      issuer: z.string(),
      changes: z.int().describe('its endorsement changes (endorsements, their retractions, their expiries) stored but not yet in your trust graph'),
      until: z.string().describe('when they apply at the latest'),
    }))
    .optional()
    .describe('issuers past their churn budget (SPEC §14.8): your trust graph, and so this view, does not yet reflect these changes of theirs; present only when some wait, at most 20, most changes first'),
  completeness: CompletenessSchema.optional().describe('how complete this node\'s copy of the counting issuers\' logs is (SPEC §16.4); the status does not depend on it'),
  evidence: z
    .object({
      total: z.int().describe('attestations stored about the digest, by any issuer'),
      listed: z.int().describe('attestations listed in byPredicate: those of counting issuers, and at most 20 others'),
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
export type Completeness = z.infer<typeof CompletenessSchema>;
export type LogCompleteness = z.infer<typeof LogCompletenessSchema>;
export type Dispute = z.infer<typeof DisputeSchema>;
export type Inherited = z.infer<typeof InheritedSchema>;
export type IssuerTrust = z.infer<typeof IssuerTrustSchema>;
