import type { CryptoSuite } from '../../src/crypto/suite.js';
import type { Limits } from '../../src/ingest/limits.js';
import { inheritFrom, lineageBases, lineageWalk, MAX_LINEAGE_DEPTH, type LineageBase, type LineageWalk } from '../../src/reputation/lineage.js';
import type { TrustGraph } from '../../src/reputation/trust-graph.js';
import { reputationView, withDeferred, type InheritedInput, type ReputationView } from '../../src/reputation/view.js';
import type { Completeness, LogCompleteness } from '../../src/reputation/view-schema.js';
import { nativeSuite } from '../crypto/native-suite.js';
import { resolveConfig, limitsOf, type Config } from '../home/config.js';
import type { HomePaths } from '../home/home.js';
import { loadIdentity, type Identity } from '../home/identity.js';
import { NewIssuerAdmission } from '../ingest/admission.js';
import { Ingestor } from '../ingest/ingestor.js';
import { AttestationStore } from '../store/attestation-store.js';
import { StrangerPool } from '../store/stranger-pool.js';
import { TrustState } from './trust-state.js';
import { ViewCache } from './view-cache.js';
import { ServedView } from './served-view.js';
import { ViewReader } from './view-reader.js';

/** A view lists, besides every counting attestation, at most this many that do not count. */
const OTHERS_LISTED = 20;
/** Expired attestations are collected in batches of this many. */
const GC_BATCH = 500;

/** A lineage walk that also keeps every view it computed (their expiries bound how long the result is kept). */
type NodeWalk = LineageWalk & { readonly read: ReputationView[] };

/** A view as the node serves it: the pure view plus what was read. */
export type NodeView = ReputationView & { evidence: { total: number; listed: number; omitted: number } };

/** What a view needs of the mirrored issuer logs (node/tlog/mirror.ts). */
export interface CompletenessSource {
  summary(): { complete: boolean; mirror: boolean; counts: Readonly<Record<LogCompleteness['state'], number>>; missing: number; notComplete: readonly LogCompleteness[] };
  completeness(did: string): LogCompleteness;
  equivocation(did: string): { type: 'chorus-equivocation/v1'; a: string; b: string; nodes: readonly string[] } | undefined;
}

/** The completeness a view carries: the summary of every counting issuer's log, and the state of those with evidence in it. */
export function viewCompleteness(source: CompletenessSource, view: ReputationView): Completeness {
  const s = source.summary();
  const inView = new Set(Object.values(view.byPredicate).flatMap((g) => g.attestations.filter((a) => a.counts).map((a) => a.issuer)));
  const issuers = [...inView].slice(0, 50).map((did) => source.completeness(did));
  for (const c of s.notComplete) if (issuers.length < 50 && !inView.has(c.issuer)) issuers.push(c);
  const counts = { complete: s.counts.complete + s.counts.own, missing: s.counts.missing, stale: s.counts.stale, unsettled: s.counts.unsettled, noLog: s.counts['no-log'], equivocated: s.counts.equivocated };
  const bad = [
    counts.missing > 0 ? `${counts.missing} missing ${s.missing} statement${s.missing === 1 ? '' : 's'}` : '',
    counts.stale > 0 ? `${counts.stale} stale` : '',
    counts.unsettled > 0 ? `${counts.unsettled} not settled by the witness quorum` : '',
    counts.noLog > 0 ? `${counts.noLog} without a log here` : '',
    counts.equivocated > 0 ? `${counts.equivocated} caught equivocating` : '',
  ].filter(Boolean);
  const total = counts.complete + counts.missing + counts.stale + counts.unsettled + counts.noLog + counts.equivocated;
  const summary = !s.mirror ? 'issuer logs are not mirrored on this node (transparency.mirror is off): completeness unknown'
    : s.complete ? `this node holds every statement of the ${total} issuer${total === 1 ? '' : 's'} that count${total === 1 ? 's' : ''}, up to their newest checkpoints`
      : `of ${total} issuer${total === 1 ? '' : 's'} that count${total === 1 ? 's' : ''}, ${bad.join(', ')}`;
  return { complete: s.complete, summary, counts, missing: s.missing, issuers };
}

/**
 * Everything a node holds, opened from its data dir: one object passed to the commands
 * (and later the daemon) instead of each opening things on its own.
 */
export class LocalNode {
  private readonly reader: ViewReader;
  private mirror: CompletenessSource | undefined;

  private constructor(
    readonly home: HomePaths,
    readonly config: Config,
    readonly identity: Identity,
    readonly store: AttestationStore,
    readonly suite: CryptoSuite,
    readonly limits: Limits,
    readonly ingestor: Ingestor,
    readonly pool: StrangerPool,
    readonly trustState: TrustState,
    private readonly now: () => number,
  ) {
    this.reader = new ViewReader(store);
    this.views = new ViewCache(config.limits.viewCacheEntries, config.limits.viewCacheBytes);
  }

  /** Views kept computed until a commit, a removal, a trust change or an expiry changes them (issue 24). */
  readonly views: ViewCache<NodeView>;

  static async open(home: HomePaths, opts: { now?: () => number; env?: NodeJS.ProcessEnv; overrides?: Record<string, unknown> } = {}): Promise<LocalNode> {
    const identity = await loadIdentity(home.key);
    const config = await resolveConfig(home.config, opts.env ?? process.env, opts.overrides);
    const store = await AttestationStore.open(home.store);
    const suite = nativeSuite();
    const limits = limitsOf(config);
    const now = opts.now ?? Date.now;
    const trustState = new TrustState(home.trust, store, config.trust.includeSelf ? identity.did : undefined, now, {
      changesPerIssuerPerMinute: config.limits.trustChangesPerIssuerPerMinute,
      recomputesPerSecond: config.limits.trustRecomputesPerSecond,
    });
    // Strangers are the issuers the trust graph does not reach (SPEC §14.3).
    const isTrusted = (issuer: string): boolean => trustState.last?.counts(issuer) ?? false;
    const pool = new StrangerPool(store, config.limits.strangerPoolBytes, isTrusted);
    const { newIssuersPerPeerPerHour: perPeer, newIssuersPerIpPerHour: perIp, newIssuersPerNetworkPerHour: perNetwork, newIssuersPerHour: global } = config.limits;
    const admission = new NewIssuerAdmission({ perPeer, perIp, perNetwork, global }, now);
    const ingestor = new Ingestor({ store, suite, limits, now, pool, admission, trusted: isTrusted });
    const node = new LocalNode(home, config, identity, store, suite, limits, ingestor, pool, trustState, now);
    trustState.onChange((graph) => {
      node.views.trustChanged(graph);
      pool.retally();
    });
    ingestor.onCommitted((ds) => {
      node.views.invalidate(ds.flatMap((d) => (d.outcome === 'accept' ? d.attestation.subjects : [])));
      node.reader.committed(ds);
      trustState.committed(ds);
    });
    // A store reopened after a full disk may have undone writes without telling who read them: nothing kept stays.
    store.onFull((full) => {
      if (!full) node.views.clear();
    });
    store.onRemoved((removed, reason) => {
      node.views.invalidate(removed.flatMap((r) => r.subjects));
      for (const r of removed) for (const d of r.subjects) node.reader.forgetSubject(d);
      trustState.removed(removed);
      // An eviction's effect on the pool is the plan's own; a collection is recounted.
      if (reason === 'gc') pool.retally();
    });
    try {
      await trustState.current();
    } catch (e) {
      await store.close();
      throw e;
    }
    return node;
  }

  /** Views carry the completeness of the mirrored issuer logs from now on (SPEC §16.4). */
  attachMirror(mirror: CompletenessSource): void {
    this.mirror = mirror;
  }

  /** The mirrored issuer logs, when attached (the daemon's). */
  get logs(): CompletenessSource | undefined {
    return this.mirror;
  }

  /** The view cache's counters and size (metrics). */
  get viewCache(): { readonly stats: { hits: number; shared: number; misses: number }; readonly cached: { digests: number; items: number } } {
    return this.reader;
  }

  /** This node's trust graph as it stands (SPEC §10.2). */
  trust(): Promise<TrustGraph> {
    return this.trustState.current();
  }

  /** After this process changed the trust policy file. */
  trustChanged(): void {
    this.trustState.changed();
  }

  /**
   * This node's reputation view of a digest: the store read, then the pure view. What it
   * costs is bounded by what counts: the counting issuers' attestations (each its newest
   * 1,000), of the rest only the first OTHERS_LISTED, a stored total, and the bases a
   * trusted lineage claim names (at most 4, 2 hops). At most `limits.maxConcurrentViews`
   * views are computed at once; the rest wait their turn.
   */
  async view(digest: string, opts: { now?: number; graph?: TrustGraph; without?: string | undefined } = {}): Promise<NodeView> {
    // What-if: as if the issuer were blocked (its attestations and the trust it passes on go).
    const current = opts.without === undefined ? await this.trust() : undefined;
    const graph = opts.graph ?? (opts.without !== undefined ? await this.trustState.without(opts.without) : current as TrustGraph);
    const now = opts.now ?? this.now();
    // The plain view (no what-if, the node's current graph and its own clock) is kept until something changes it.
    const keep = opts.without === undefined && graph === current && opts.now === undefined;
    const view = await this.keptOrComputed(digest, graph, now, keep, opts.without);
    return keep ? this.served(view, graph, now).view : this.finish(view, graph, now);
  }

  /**
   * The node's plain view of `digest` as served, with its serialized forms made once per kept
   * view (issue 24): a read of an unchanged digest costs a map lookup and a write of bytes, no
   * computation and no serialization. `graph` is the node's current one (`query` passes the
   * one it holds for all its digests).
   */
  async servedView(digest: string, graph?: TrustGraph): Promise<ServedView<NodeView>> {
    const current = graph ?? await this.trust();
    const now = this.now();
    return this.served(await this.keptOrComputed(digest, current, now, true, undefined), current, now);
  }

  /** The kept view, or a computed one (kept when `keep` and it has evidence). */
  private async keptOrComputed(digest: string, graph: TrustGraph, now: number, keep: boolean, without: string | undefined): Promise<NodeView> {
    return (keep ? this.views.get(digest, graph, now) : undefined) ?? await this.viewSlot(async () => {
      const token = this.views.begin();
      const walk: NodeWalk = { ...lineageWalk(digest), read: [] };
      const computed = await this.viewAt(digest, graph, now, without, 0, walk);
      // A digest nothing is stored about is not kept: a flood of random digests would only push
      // out the views worth keeping (its view is one empty read to compute again).
      if (keep && computed.evidence.total > 0) this.views.put(token, digest, graph, now, computed, [...walk.visited], walk.read);
      return computed;
    });
  }

  /**
   * What a view carries beyond the pure one, which can change without the view changing:
   * endorsement changes over their issuers' budget, not yet in the graph (SPEC §14.8), and
   * the completeness of the mirrored issuer logs (SPEC §16.4).
   */
  private finish(view: NodeView, graph: TrustGraph, now: number): NodeView {
    const out = withDeferred(view, this.trustState.deferred(now), graph);
    return this.mirror === undefined ? out : { ...out, completeness: viewCompleteness(this.mirror, out) };
  }

  /**
   * `view` finished, its serialized forms kept with it while nothing it carries beyond the
   * view changes: no deferred endorsement changes, and the same completeness summary (the
   * mirror recomputes it at most once a second, so a view's completeness is as fresh as the
   * summary's). Otherwise finished afresh.
   */
  private served(view: NodeView, graph: TrustGraph, now: number): ServedView<NodeView> {
    if (this.trustState.deferred(now).length > 0) return new ServedView(this.finish(view, graph, now));
    const key = this.mirror?.summary();
    const kept = this.servedOf.get(view);
    if (kept !== undefined && kept.key === key) return kept;
    const fresh = new ServedView(this.finish(view, graph, now), key);
    this.servedOf.set(view, fresh);
    return fresh;
  }

  /** The served form of each kept view (gone with the view). */
  private readonly servedOf = new WeakMap<NodeView, ServedView<NodeView>>();

  private async viewAt(digest: string, graph: TrustGraph, now: number, without: string | undefined, depth: number, walk: NodeWalk): Promise<NodeView> {
    // Most digests have a few attestations: one read returns them all. Only a digest with
    // more than a page costs the counted total and the counting issuers' reads.
    const others = await this.store.bySubject(digest, { limit: OTHERS_LISTED });
    let total = others.items.length;
    let inputs = others.items;
    if (others.next !== undefined) {
      total = await this.store.subjectCount(digest);
      const counting = await this.reader.counting(digest, graph, total);
      const seen = new Set(counting.map((a) => a.id));
      inputs = [...counting, ...others.items.filter((a) => !seen.has(a.id))];
    }
    // Lineage: findings about the bases that trusted lineage claims name carry over (SPEC §10.5).
    const own = reputationView(digest, inputs, graph, now, { without });
    const claims = (own.byPredicate['lineage']?.counted ?? 0) > 0;
    const inherited: InheritedInput[] = claims && depth < MAX_LINEAGE_DEPTH ? await this.inherit(own, graph, now, without, depth, walk) : [];
    const view = inherited.length === 0 ? own : reputationView(digest, inputs, graph, now, { without, inherited });
    walk.read.push(own);
    return { ...view, evidence: { total, listed: inputs.length, omitted: Math.max(0, total - inputs.length) } };
  }

  /** The findings the bases named by counted lineage claims carry over (SPEC §10.5): each base viewed here, the rule in `inheritFrom`. */
  private async inherit(own: ReputationView, graph: TrustGraph, now: number, without: string | undefined, depth: number, walk: NodeWalk): Promise<InheritedInput[]> {
    const views: { base: LineageBase; view: ReputationView }[] = [];
    for (const base of lineageBases(own, walk)) views.push({ base, view: await this.viewAt(base.digest, graph, now, without, depth + 1, walk) });
    return inheritFrom(own, views);
  }

  private viewsRunning = 0;
  private readonly viewQueue: (() => void)[] = [];

  private async viewSlot<T>(fn: () => Promise<T>): Promise<T> {
    if (this.viewsRunning >= this.config.limits.maxConcurrentViews) await new Promise<void>((resolve) => this.viewQueue.push(resolve));
    else this.viewsRunning++;
    try {
      return await fn();
    } finally {
      const next = this.viewQueue.shift();
      if (next) next();
      else this.viewsRunning--;
    }
  }

  /**
   * Deletes attestations that expired more than `limits.expiredGraceSeconds` ago (never
   * retractions), in batches; returns how many went.
   */
  async collectExpired(now = this.now()): Promise<number> {
    let removed = 0;
    for (;;) {
      const ids = await this.store.expiringBefore(now - this.config.limits.expiredGraceSeconds * 1000, GC_BATCH);
      if (ids.length === 0) return removed;
      removed += await this.store.remove(ids);
      if (ids.length < GC_BATCH) return removed;
    }
  }

  async close(): Promise<void> {
    this.trustState.stop();
    await this.store.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
