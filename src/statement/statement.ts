import { z } from 'zod';
import { DigestSet, PredicateHeader } from './common.js';

export const STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';

/** Most subjects one statement may name. */
export const MAX_SUBJECTS = 64;

export const Subject = z.strictObject({
  name: z.string().max(1024).default(''),
  digest: DigestSet,
});

/**
 * An in-toto Statement v1 as Chorus reads it. The predicate is checked here only for the
 * common header; the predicate type's own schema is applied by `parseStatement`.
 */
export const Statement = z.strictObject({
  _type: z.literal(STATEMENT_TYPE),
  subject: z.array(Subject).min(1).max(MAX_SUBJECTS),
  predicateType: z.string().min(1).max(512).regex(/^[a-zA-Z][a-zA-Z0-9+.-]*:\S+$/, 'predicateType must be a URI'),
  predicate: z.looseObject({ ...PredicateHeader }),
});

export type Statement = z.infer<typeof Statement>;
export type Subject = z.infer<typeof Subject>;

/** The DSSE envelope as it travels (JSON). Exactly one signature in Chorus v1. */
export const Envelope = z.strictObject({
  payloadType: z.string().max(256),
  payload: z.string(),
  signatures: z
    .array(z.strictObject({ keyid: z.string().max(256), sig: z.string().max(256) }))
    .length(1, 'Chorus v1 envelopes carry exactly one signature'),
});

export type Envelope = z.infer<typeof Envelope>;
