import { stat } from 'node:fs/promises';
import type { Decision } from '../../src/ingest/decide.js';
import { TrustPolicyFile, type TrustPolicy } from '../../src/reputation/policy.js';
import { TrustGraph, type EndorsementInput } from '../../src/reputation/trust-graph.js';
import { loadPolicy } from '../home/trust-list.js';
import type { AttestationStore, Removed } from '../store/attestation-store.js';
import { EndorsementSource } from './endorsements.js';

/**
 * This node's trust as it stands: the policy file (re-read when it changes, checked at
 * most once a second), its own key as a root when configured, and the trust graph
 * computed from the endorsements its roots reach — recomputed only when the policy, a
 * reached endorser's endorsements or an expiry changes it.
 */
export class TrustState {
  private readonly endorsements: EndorsementSource;
  private graph: TrustGraph | undefined;
  private file: { policy: TrustPolicy; mtimeMs: number; checkedAt: number } | undefined;
  private computing: Promise<TrustGraph> | undefined;
  private validUntil = Infinity;
  private readonly listeners = new Set<(g: TrustGraph) => void>();
  /** Why the policy file could not be read, while the last good one is in use. */
  problem: string | undefined;
  private edges: EndorsementInput[] = [];
  private effective: TrustPolicy | undefined;
  private refresh: NodeJS.Timeout | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly path: string,
    store: AttestationStore,
    private readonly self: string | undefined,
    private readonly now: () => number = Date.now,
  ) {
    this.endorsements = new EndorsementSource(store);
  }

  /** The graph as last computed (for synchronous checks such as the strangers' pool). */
  get last(): TrustGraph | undefined {
    return this.graph;
  }

  /** Hears every recomputed graph. */
  onChange(listener: (g: TrustGraph) => void): void {
    this.listeners.add(listener);
  }

  /** The current trust graph (recomputed if anything it depends on changed). */
  async current(): Promise<TrustGraph> {
    const wall = Date.now();
    const f = this.file;
    let policyChanged = false;
    if (f === undefined || wall - f.checkedAt >= 1000) {
      const mtimeMs = await stat(this.path).then((s) => s.mtimeMs, () => 0);
      if (f === undefined || f.mtimeMs !== mtimeMs) {
        try {
          this.file = { policy: await loadPolicy(this.path), mtimeMs, checkedAt: wall };
          this.problem = undefined;
          policyChanged = true;
        } catch (e) {
          // A damaged file after a good one: keep the last good policy, and say so.
          if (f === undefined || this.graph === undefined) throw e;
          this.problem = (e as Error).message;
          f.checkedAt = wall;
          f.mtimeMs = mtimeMs;
        }
      } else f.checkedAt = wall;
    }
    if (this.graph && !policyChanged && !this.endorsements.dirty && this.now() < this.validUntil) return this.graph;
    this.computing ??= this.compute().finally(() => {
      this.computing = undefined;
    });
    return this.computing;
  }

  private async compute(): Promise<TrustGraph> {
    const file = (this.file as { policy: TrustPolicy }).policy;
    const policy = this.self && ![...file.roots, ...file.blocks, ...file.subscriptions].some((e) => e.issuer === this.self)
      ? TrustPolicyFile.parse({ ...file, roots: [...file.roots, { issuer: this.self, scope: ['*'], weight: 1, note: 'this node' }] })
      : file;
    const now = this.now();
    const edges = await this.endorsements.gather(policy, now);
    const graph = TrustGraph.compute(policy, edges, now);
    this.edges = edges;
    this.effective = policy;
    this.validUntil = this.endorsements.nextExpiry(now) ?? Infinity;
    if (Number.isFinite(this.validUntil)) {
      // An endorsement expires: recompute then, not at the next question.
      clearTimeout(this.expiryTimer);
      this.expiryTimer = setTimeout(() => void this.current().catch(() => undefined), Math.min(this.validUntil - now + 10, 2 ** 31 - 1));
      this.expiryTimer.unref();
    }
    this.graph = graph;
    for (const l of this.listeners) l(graph);
    return graph;
  }

  /** After this process wrote the policy file: re-read it on the next use. */
  changed(): void {
    this.file = undefined;
  }

  /**
   * What-if: the graph as if `issuer` were blocked — its attestations and the trust it
   * passes on left out (computed from the current graph's endorsements).
   */
  async without(issuer: string): Promise<TrustGraph> {
    await this.current();
    const policy = this.effective as TrustPolicy;
    return TrustGraph.compute(TrustPolicyFile.parse({ ...policy, roots: policy.roots.filter((r) => r.issuer !== issuer), subscriptions: policy.subscriptions.filter((x) => x.issuer !== issuer), blocks: [...policy.blocks, { issuer }] }), this.edges, this.now());
  }

  /** Stops the background recomputations. */
  stop(): void {
    clearTimeout(this.refresh);
    clearTimeout(this.expiryTimer);
    this.refresh = undefined;
  }

  committed(ds: readonly Decision[]): void {
    this.endorsements.committed(ds);
    this.soon();
  }

  removed(rs: readonly Removed[]): void {
    this.endorsements.removed(rs);
    this.soon();
  }

  /**
   * A graph gone stale is recomputed in the background shortly after, so synchronous
   * users of `last` (the strangers' pool, event filters) do not keep a stale answer.
   */
  private soon(): void {
    if (!this.endorsements.dirty || this.refresh !== undefined) return;
    this.refresh = setTimeout(() => {
      this.refresh = undefined;
      void this.current().catch(() => undefined);
    }, 200);
    this.refresh.unref();
  }
}
