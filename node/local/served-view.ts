import type { ReputationView } from '../../src/reputation/view.js';

/** A summary lists at most this many issuers whose logs are not complete. */
const SUMMARY_LOGS_LISTED = 10;

/**
 * A view's summary for batch answers: each predicate's verdict and counts, not its
 * attestations; its completeness with the summary and counts, listing only issuers whose
 * logs are not complete (at most 10), not every counting issuer's state.
 */
export function viewSummary<V extends ReputationView>(view: V): V {
  const byPredicate = Object.fromEntries(Object.entries(view.byPredicate).map(([kind, group]) => [kind, { ...group, attestations: [] }]));
  const c = view.completeness;
  if (c === undefined) return { ...view, byPredicate };
  const issuers = c.issuers.filter((log) => log.state !== 'complete' && log.state !== 'own').slice(0, SUMMARY_LOGS_LISTED);
  return { ...view, byPredicate, completeness: { ...c, issuers } };
}

/**
 * A view as the node serves it, and its JSON made at most once (issue 24): the whole view as
 * bytes for `GET …/reputation`, the summary as bytes for `POST /v1/query`. Kept beside a kept
 * view, it makes a read of an unchanged digest a lookup and a write of bytes.
 */
export class ServedView<V extends ReputationView = ReputationView> {
  private full: Buffer | undefined;
  private brief: Buffer | undefined;

  constructor(
    readonly view: V,
    /** What the served form was finished with (the completeness summary); another key means finish afresh. */
    readonly key?: unknown,
  ) {}

  /** The whole view, serialized (UTF-8). */
  json(): Buffer {
    return (this.full ??= Buffer.from(JSON.stringify(this.view)));
  }

  /** The summary (no attestations listed), serialized (UTF-8). */
  summaryJson(): Buffer {
    return (this.brief ??= Buffer.from(JSON.stringify(viewSummary(this.view))));
  }
}
