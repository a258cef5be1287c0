import { z } from 'zod';
import {
  AttestationId, DidKeyString, DigestSet, LongText, PredicateHeader, ShortText, Uri,
} from './common.js';

/** Base of every Chorus predicate type URI. */
export const PREDICATE_BASE = 'https://chorus.dev/attestation/';

export const Verdict = z.enum(['pass', 'warn', 'fail']);

export const AuditPredicate = z.strictObject({
  ...PredicateHeader,
  harness: z.strictObject({
    name: ShortText,
    version: ShortText,
    digest: DigestSet.optional(),
  }),
  metrics: z.record(z.string().min(1).max(128), z.number()).refine((m) => Object.keys(m).length <= 256, 'at most 256 metrics').default({}),
  verdict: Verdict,
  summary: LongText.optional(),
  reproduce: z
    .strictObject({
      command: LongText.optional(),
      config: LongText.optional(),
      dataset: ShortText.optional(),
      uri: Uri.optional(),
    })
    .optional(),
});

export const DealignmentPredicate = z.strictObject({
  ...PredicateHeader,
  baseModel: DigestSet,
  method: z.enum(['lora', 'full-finetune', 'abliteration', 'steering', 'merge', 'prompt-injection', 'other']),
  evidence: z.strictObject({
    description: LongText.min(1),
    uri: Uri.optional(),
    metrics: z.record(z.string().min(1).max(128), z.number()).optional(),
  }),
});

export const LicensePredicate = z.strictObject({
  ...PredicateHeader,
  declared: z.string().min(1).max(512).nullable().describe('SPDX expression declared by the publisher, or null if none'),
  detected: z.array(z.string().min(1).max(512)).max(64).describe('SPDX expressions found in the artifact'),
  verdict: z.enum(['compliant', 'noncompliant', 'unknown']),
  notes: LongText.optional(),
});

/** How much a finding matters: one scale for payload attestations and for local inspection. */
export const Severity = z.enum(['info', 'low', 'medium', 'high', 'critical']);
export type Severity = z.infer<typeof Severity>;

export const PayloadPredicate = z.strictObject({
  ...PredicateHeader,
  scanner: z.strictObject({ name: ShortText, version: ShortText }),
  finding: z.strictObject({
    kind: z.enum(['malicious-code', 'pickle-exec', 'backdoor', 'suspicious', 'clean']),
    path: z.string().max(1024).optional(),
    description: LongText,
  }),
  severity: Severity,
});

export const LineagePredicate = z.strictObject({
  ...PredicateHeader,
  derivedFrom: z
    .array(
      z.strictObject({
        digest: DigestSet,
        relation: z.enum(['quantized', 'fine-tuned', 'merged', 'converted', 'distilled', 'pruned']),
        name: ShortText.optional(),
      }),
    )
    .min(1)
    .max(64),
  notes: LongText.optional(),
});

export const RetractionPredicate = z.strictObject({
  ...PredicateHeader,
  target: AttestationId,
  reason: LongText.optional(),
});

export const EndorsementPredicate = z.strictObject({
  ...PredicateHeader,
  endorsed: DidKeyString,
  scope: z.array(z.string().min(1).max(64)).min(1).max(16).describe('predicate kinds the endorsement covers, or ["*"]'),
  weight: z.number().min(0).max(1),
  note: LongText.optional(),
});

/**
 * An organisation's approval of a model digest for use (its internal model hub's allowlist):
 * the name and version it is pinned as and the license it was approved under. Not scored;
 * `chorus check` in allowlist mode allows only digests approved by configured approvers.
 */
export const ApprovalPredicate = z.strictObject({
  ...PredicateHeader,
  name: ShortText.describe('the name the model is pinned as, e.g. llama3:8b or acme/model'),
  version: ShortText.optional(),
  license: z.string().min(1).max(512).optional().describe('SPDX expression it was approved under'),
  note: LongText.optional(),
});

/** The in-toto predicate type OpenSSF model signing (OMS) v1.0 signs a model's files under. */
export const OMS_SIGNATURE_TYPE = 'https://model_signing/signature/v1.0';

/**
 * provenance: the subject is signed by this signer under a model-signing scheme, as the issuer
 * verified (the signature, and every file's digest against it). Information, never a pass.
 */
export const ProvenancePredicate = z.strictObject({
  ...PredicateHeader,
  signatureType: z.enum([OMS_SIGNATURE_TYPE]).describe('the signature format the issuer verified'),
  method: z.enum(['key', 'certificate']).describe('a pinned public key, or a Sigstore certificate checked against a pinned trusted root'),
  signer: z.strictObject({
    identity: ShortText.optional().describe("the certificate's identity (SAN)"),
    oidcIssuer: ShortText.optional().describe("the certificate's OIDC issuer"),
    keyFingerprint: ShortText.optional().describe('sha256 of the public key, hex'),
  }).refine((s) => s.identity !== undefined || s.keyFingerprint !== undefined, 'a signer names an identity or a key'),
  files: z.int().min(1).max(1_000_000).describe('files the signature covers, each re-hashed and matched'),
  notes: LongText.optional(),
});

/** The v1 vocabulary: kind name -> type URI and schema. */
export const PREDICATES = {
  audit: { type: `${PREDICATE_BASE}audit/v1`, schema: AuditPredicate },
  dealignment: { type: `${PREDICATE_BASE}dealignment/v1`, schema: DealignmentPredicate },
  license: { type: `${PREDICATE_BASE}license/v1`, schema: LicensePredicate },
  payload: { type: `${PREDICATE_BASE}payload/v1`, schema: PayloadPredicate },
  lineage: { type: `${PREDICATE_BASE}lineage/v1`, schema: LineagePredicate },
  retraction: { type: `${PREDICATE_BASE}retraction/v1`, schema: RetractionPredicate },
  endorsement: { type: `${PREDICATE_BASE}endorsement/v1`, schema: EndorsementPredicate },
  approval: { type: `${PREDICATE_BASE}approval/v1`, schema: ApprovalPredicate },
  provenance: { type: `${PREDICATE_BASE}provenance/v1`, schema: ProvenancePredicate },
} as const;

export type PredicateKind = keyof typeof PREDICATES;
export const PREDICATE_KINDS = Object.keys(PREDICATES) as PredicateKind[];

const BY_TYPE = new Map<string, PredicateKind>(
  PREDICATE_KINDS.map((k) => [PREDICATES[k].type, k]),
);

/** The kind for a predicate type URI, or undefined when this node does not know it. */
export function kindOfType(predicateType: string): PredicateKind | undefined {
  return BY_TYPE.get(predicateType);
}

export type AuditPredicate = z.infer<typeof AuditPredicate>;
export type DealignmentPredicate = z.infer<typeof DealignmentPredicate>;
export type LicensePredicate = z.infer<typeof LicensePredicate>;
export type PayloadPredicate = z.infer<typeof PayloadPredicate>;
export type LineagePredicate = z.infer<typeof LineagePredicate>;
export type RetractionPredicate = z.infer<typeof RetractionPredicate>;
export type EndorsementPredicate = z.infer<typeof EndorsementPredicate>;
export type ApprovalPredicate = z.infer<typeof ApprovalPredicate>;
export type ProvenancePredicate = z.infer<typeof ProvenancePredicate>;
