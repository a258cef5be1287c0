import { stat } from 'node:fs/promises';
import type { Decision } from '../../src/ingest/decide.js';
import { TrustPolicyFile, type TrustPolicy } from '../../src/reputation/policy.js';
import { TrustGraph } from '../../src/reputation/trust-graph.js';
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
        this.file = { policy: await loadPolicy(this.path), mtimeMs, checkedAt: wall };
        policyChanged = true;
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
    const policy = this.self && !file.roots.some((r) => r.issuer === this.self) && !file.blocks.some((b) => b.issuer === this.self)
      ? TrustPolicyFile.parse({ ...file, roots: [...file.roots, { issuer: this.self, scope: ['*'], weight: 1, note: 'this node' }] })
      : file;
    const now = this.now();
    const edges = await this.endorsements.gather(policy, undefined);
    const graph = TrustGraph.compute(policy, edges, now);
    this.validUntil = this.endorsements.nextExpiry(now) ?? Infinity;
    this.graph = graph;
    for (const l of this.listeners) l(graph);
    return graph;
  }

  /** After this process wrote the policy file: re-read it on the next use. */
  changed(): void {
    this.file = undefined;
  }

  committed(ds: readonly Decision[]): void {
    this.endorsements.committed(ds);
  }

  removed(rs: readonly Removed[]): void {
    this.endorsements.removed(rs);
  }
}
