import { stat } from 'node:fs/promises';
import type { Decision } from '../../src/ingest/decide.js';
import { TrustPolicyFile, type TrustPolicy } from '../../src/reputation/policy.js';
import { TrustGraph, type EndorsementInput } from '../../src/reputation/trust-graph.js';
import { loadPolicy } from '../home/trust-list.js';
import type { AttestationStore, Removed } from '../store/attestation-store.js';
import { ChurnBudget, type DeferredChanges } from './churn-budget.js';
import { EndorsementSource } from './endorsements.js';

/** What made the trust graph be recomputed. */
export type RecomputeCause = 'policy' | 'endorsements' | 'expiry' | 'removal';

/** What may force a recomputation (config `limits`, SPEC §14.8). */
export interface ChurnLimits {
  readonly changesPerIssuerPerMinute: number;
  readonly recomputesPerSecond: number;
}

/** A view lists at most this many issuers whose changes wait. */
const DEFERRED_LISTED = 20;

/**
 * This node's trust as it stands: the policy file (re-read when it changes, checked at
 * most once a second), its own key as a root when configured, and the trust graph
 * computed from the endorsements its roots reach — recomputed only when the policy, a
 * reached endorser's endorsements or an expiry changes it. Endorsement changes and expiries
 * force a recomputation within a budget (SPEC §14.8): per issuer `changesPerIssuerPerMinute`
 * a clock minute, per node `recomputesPerSecond`. Past it they are stored but wait, and
 * apply together at the next window (or the next recomputation for another reason).
 */
export class TrustState {
  private readonly endorsements: EndorsementSource;
  private graph: TrustGraph | undefined;
  private file: { policy: TrustPolicy; mtimeMs: number; checkedAt: number } | undefined;
  private computing: Promise<TrustGraph> | undefined;
  /** A computation waiting for the one running to finish. */
  private queued: Promise<TrustGraph> | undefined;
  private readonly listeners = new Set<(g: TrustGraph) => void>();
  private readonly recomputeListeners = new Set<(seconds: number, cause: RecomputeCause) => void>();
  private readonly budget: ChurnBudget;
  /** The graph's edges that expire after it was computed, soonest first: [epoch ms, endorser]. */
  private expiring: [number, string][] = [];
  /** Endorsers whose waiting changes the next computation applies (admitted, charged). */
  private readonly admitted = new Set<string>();
  private admittedCause: RecomputeCause | undefined;
  private wakeAt = Infinity;
  /** Why the policy file could not be read, while the last good one is in use. */
  problem: string | undefined;
  private edges: EndorsementInput[] = [];
  private effective: TrustPolicy | undefined;
  private refresh: NodeJS.Timeout | undefined;
  private wakeTimer: NodeJS.Timeout | undefined;
  /** Issuers held out of the graph whatever the policy says (caught equivocating, SPEC §16.5), with why. */
  private excluded = new Map<string, string>();
  private excludedChanged = false;

  constructor(
    private readonly path: string,
    store: AttestationStore,
    private readonly self: string | undefined,
    private readonly now: () => number = Date.now,
    limits: ChurnLimits = { changesPerIssuerPerMinute: 6, recomputesPerSecond: 4 },
  ) {
    this.endorsements = new EndorsementSource(store);
    this.budget = new ChurnBudget(limits.changesPerIssuerPerMinute, limits.recomputesPerSecond);
  }

  /** Hears every recomputation: how long it took and what forced it. */
  onRecompute(listener: (seconds: number, cause: RecomputeCause) => void): void {
    this.recomputeListeners.add(listener);
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
    if (this.excludedChanged) {
      this.excludedChanged = false;
      policyChanged = true;
    }
    const cause: RecomputeCause | undefined = this.graph === undefined || policyChanged ? 'policy' : this.endorsements.dirty ? 'removal' : undefined;
    const admitted = this.admit(this.now(), cause !== undefined);
    if (cause === undefined && admitted === undefined) return this.computing ?? (this.graph as TrustGraph);
    // One computation at a time, each after the last: what was decided meanwhile is applied
    // by the next one, which every question until it starts shares.
    this.admittedCause = cause ?? admitted;
    if (this.queued) return this.queued;
    const prev = this.computing;
    const run = async (): Promise<TrustGraph> => {
      if (prev) await prev.catch(() => undefined);
      this.queued = undefined;
      return this.compute();
    };
    const next = run().finally(() => {
      if (this.computing === next) this.computing = undefined;
    });
    if (prev) this.queued = next;
    this.computing = next;
    return next;
  }

  /**
   * Which waiting changes (stored endorsement changes of reached endorsers, expiries of the
   * graph's edges since it was computed) may force a recomputation now: those of issuers
   * within their budget, when the node has a recomputation free (or one is `forced` anyway).
   * Those admitted are charged and applied by the next computation; the rest wait, with a
   * wake-up at the next window or free recomputation. Returns what forces it, if anything.
   */
  private admit(now: number, forced: boolean): RecomputeCause | undefined {
    const waiting = this.waiting(now);
    if (waiting.size === 0) return undefined;
    const allowed = [...waiting.keys()].filter((i) => i === this.self || this.budget.allows(i, now));
    const go = allowed.length > 0 && (forced || this.budget.takeSlot(now));
    if (go) {
      this.budget.charge(allowed, now);
      for (const i of allowed) this.admitted.add(i);
    }
    if (!go || allowed.length < waiting.size) this.wake(allowed.length > 0 && !go ? this.budget.nextSlot(now) : this.budget.windowEnd(now));
    // Another issuer's edge may expire before then.
    const later = this.expiring.find(([at]) => at > now);
    if (later !== undefined) this.wake(later[0]);
    if (!go) return undefined;
    return allowed.some((i) => this.endorsements.pending.has(i)) ? 'endorsements' : 'expiry';
  }

  /** Per issuer, its changes not yet in the graph: stored ones and expiries passed. */
  private waiting(now: number): Map<string, number> {
    const out = new Map<string, number>();
    for (const [i, n] of this.endorsements.pending) if (!this.admitted.has(i)) out.set(i, n);
    for (const [at, i] of this.expiring) {
      if (at > now) break;
      if (!this.admitted.has(i)) out.set(i, (out.get(i) ?? 0) + 1);
    }
    return out;
  }

  /**
   * Issuers whose endorsement changes are stored but held out of the graph by the budget
   * (most changes first, at most 20). Changes that landed a moment ago, which the next
   * question applies, are not listed.
   */
  deferred(now = this.now()): DeferredChanges[] {
    const out: DeferredChanges[] = [];
    const slot = this.budget.nextSlot(now);
    for (const [issuer, changes] of this.waiting(now)) {
      const until = Math.max(issuer === this.self || this.budget.allows(issuer, now) ? now : this.budget.windowEnd(now), slot);
      if (until > now) out.push({ issuer, changes, until });
    }
    return out.sort((a, b) => b.changes - a.changes || (a.issuer < b.issuer ? -1 : 1)).slice(0, DEFERRED_LISTED);
  }

  /** How many endorsement changes the budget holds out of the graph, in all. */
  deferredChanges(now = this.now()): number {
    const slot = this.budget.nextSlot(now);
    let n = 0;
    for (const [issuer, c] of this.waiting(now)) if (slot > now || (issuer !== this.self && !this.budget.allows(issuer, now))) n += c;
    return n;
  }

  /** Looks again at `at` (this node's clock), so what waits is applied without a question. */
  private wake(at: number): void {
    const now = this.now();
    if (this.wakeTimer !== undefined && this.wakeAt <= at && this.wakeAt > now) return;
    clearTimeout(this.wakeTimer);
    this.wakeAt = at;
    this.wakeTimer = setTimeout(() => {
      this.wakeTimer = undefined;
      this.wakeAt = Infinity;
      void this.current().catch(() => undefined);
    }, Math.min(Math.max(at - now, 0) + 10, 2 ** 31 - 1));
    this.wakeTimer.unref();
  }

  private async compute(): Promise<TrustGraph> {
    const started = performance.now();
    const cause = this.admittedCause ?? 'policy';
    this.admittedCause = undefined;
    // Only stored changes need a fresh read; an expiry is applied by computing at `now`.
    const released = [...this.admitted].filter((i) => this.endorsements.pending.has(i));
    this.admitted.clear();
    this.endorsements.release(released);
    const file = (this.file as { policy: TrustPolicy }).policy;
    const withSelf = this.self && ![...file.roots, ...file.blocks, ...file.subscriptions].some((e) => e.issuer === this.self)
      ? TrustPolicyFile.parse({ ...file, roots: [...file.roots, { issuer: this.self, scope: ['*'], weight: 1, note: 'this node' }] })
      : file;
    const ex = this.excluded;
    const policy = ex.size === 0 ? withSelf : TrustPolicyFile.parse({
      ...withSelf,
      roots: withSelf.roots.filter((r) => !ex.has(r.issuer)),
      subscriptions: withSelf.subscriptions.filter((r) => !ex.has(r.issuer)),
      blocks: [...withSelf.blocks.filter((b) => !ex.has(b.issuer)), ...[...ex].map(([issuer, note]) => ({ issuer, note }))],
    });
    const now = this.now();
    const edges = await this.endorsements.gather(policy, now);
    const graph = TrustGraph.compute(policy, edges, now);
    this.edges = edges;
    this.effective = policy;
    this.expiring = edges.flatMap((e): [number, string][] => (e.expiresAt !== undefined && e.expiresAt > now ? [[e.expiresAt, e.endorser]] : [])).sort((a, b) => a[0] - b[0]);
    // An endorsement expires: look again then, not at the next question.
    const first = this.expiring[0];
    if (first !== undefined) this.wake(first[0]);
    this.graph = graph;
    const seconds = (performance.now() - started) / 1000;
    for (const l of this.recomputeListeners) l(seconds, cause);
    for (const l of this.listeners) l(graph);
    return graph;
  }

  /**
   * Holds issuers out of the graph as if blocked (an issuer caught equivocating, SPEC §16.5:
   * its attestations and the trust it passes on stop counting); the graph is recomputed now.
   */
  exclude(issuers: ReadonlyMap<string, string>): void {
    if (issuers.size === this.excluded.size && [...issuers.keys()].every((i) => this.excluded.has(i))) return;
    this.excluded = new Map(issuers);
    this.excludedChanged = true;
    void this.current().catch(() => undefined);
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
    clearTimeout(this.wakeTimer);
    this.refresh = undefined;
    this.wakeTimer = undefined;
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
    if ((!this.endorsements.dirty && this.endorsements.pending.size === 0) || this.refresh !== undefined) return;
    this.refresh = setTimeout(() => {
      this.refresh = undefined;
      void this.current().catch(() => undefined);
    }, 200);
    this.refresh.unref();
  }
}
