import { ChorusError } from '../errors.js';
import { PREDICATES, type PredicateKind } from './predicates.js';
import { STATEMENT_TYPE, Statement, type Subject } from './statement.js';

export interface BuildInput {
  readonly kind: PredicateKind;
  readonly subjects: readonly Subject[];
  /** Predicate fields other than the header. */
  readonly fields: Record<string, unknown>;
  readonly issuer: string;
  readonly issuedAt: Date;
  readonly expiresAt?: Date;
}

/** RFC 3339 UTC without milliseconds, the form Chorus writes. */
export function timestamp(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * Builds a statement of a known kind and checks it against the kind's schema, so a
 * mistake is reported by field name before anything is signed.
 */
export function buildStatement(input: BuildInput): Statement {
  const predicate = {
    ...input.fields,
    issuer: input.issuer,
    issuedAt: timestamp(input.issuedAt),
    ...(input.expiresAt === undefined ? {} : { expiresAt: timestamp(input.expiresAt) }),
  };
  const def = PREDICATES[input.kind];
  const pr = def.schema.safeParse(predicate);
  if (!pr.success) {
    const i = pr.error.issues[0];
    const field = i && i.path.length > 0 ? i.path.join('.') : '(predicate)';
    throw new ChorusError('bad_predicate', `${input.kind}: field "${field}": ${i?.message ?? 'invalid'}`, { field });
  }
  if (input.expiresAt !== undefined && input.expiresAt.getTime() <= input.issuedAt.getTime()) {
    throw new ChorusError('bad_expiry', 'expiry must be later than the issue time');
  }
  const st = Statement.safeParse({ _type: STATEMENT_TYPE, subject: input.subjects, predicateType: def.type, predicate: pr.data });
  if (!st.success) {
    const i = st.error.issues[0];
    throw new ChorusError('malformed_statement', `statement: ${i ? i.path.join('.') : ''}: ${i?.message ?? 'invalid'}`);
  }
  return st.data;
}
