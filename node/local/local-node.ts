import { stat } from 'node:fs/promises';
import type { CryptoSuite } from '../../src/crypto/suite.js';
import type { Limits } from '../../src/ingest/limits.js';
import { baselineView, type ReputationView, type TrustPolicy } from '../../src/reputation/baseline-view.js';
import { nativeSuite } from '../crypto/native-suite.js';
import { resolveConfig, limitsOf, type Config } from '../home/config.js';
import type { HomePaths } from '../home/home.js';
import { loadIdentity, type Identity } from '../home/identity.js';
import { loadTrust } from '../home/trust-list.js';
import { PeerAdmission } from '../ingest/admission.js';
import { Ingestor } from '../ingest/ingestor.js';
import { AttestationStore, type StoredAttestation } from '../store/attestation-store.js';
import { StrangerPool } from '../store/stranger-pool.js';
import type { Decision } from '../../src/ingest/decide.js';
import { publicKeyFromDidKey } from '../../src/identity/did-key.js';

/** How many decoded attestations the view cache keeps in all (~2-3 KB each). */
const ABOUT_CACHE_ITEMS = 20_000;
/** A view lists, besides every counting attestation, at most this many that do not count. */
export const OTHERS_LISTED = 20;
/** A view counts at most this many attestations of one issuer about one digest, its newest. */
export const PER_ISSUER = 1000;
/** Expired attestations are collected in batches of this many. */
const GC_BATCH = 500;

const keysOfPolicy = new WeakMap<TrustPolicy, ReadonlySet<string>>();

/** The trusted issuers' public keys, hex (what the store's index keys hold). */
function issuerKeysOf(policy: TrustPolicy): ReadonlySet<string> {
  let keys = keysOfPolicy.get(policy);
  if (keys === undefined) {
    keys = new Set([...policy.trusted].flatMap((did) => {
      const pub = publicKeyFromDidKey(did);
      return pub === undefined ? [] : [Buffer.from(pub).toString('hex')];
    }));
    keysOfPolicy.set(policy, keys);
  }
  return keys;
}

/**
 * Everything a node holds, opened from its data dir: one object passed to the commands
 * (and later the daemon) instead of each opening things on its own.
 */
export class LocalNode {
  private constructor(
    readonly home: HomePaths,
    readonly config: Config,
    readonly identity: Identity,
    readonly store: AttestationStore,
    readonly suite: CryptoSuite,
    readonly limits: Limits,
    readonly ingestor: Ingestor,
    readonly pool: StrangerPool,
    private readonly now: () => number,
  ) {}

  static async open(home: HomePaths, opts: { now?: () => number; env?: NodeJS.ProcessEnv; overrides?: Record<string, unknown> } = {}): Promise<LocalNode> {
    const identity = await loadIdentity(home.key);
    const config = await resolveConfig(home.config, opts.env ?? process.env, opts.overrides);
    const store = await AttestationStore.open(home.store);
    const suite = nativeSuite();
    const limits = limitsOf(config);
    const now = opts.now ?? Date.now;
    // The trust policy is read before the pool is sized, so who counts as a stranger is known.
    const trusted = { set: new Set<string>() as ReadonlySet<string> };
    const isTrusted = (issuer: string): boolean => trusted.set.has(issuer);
    const pool = new StrangerPool(store, config.limits.strangerPoolBytes, isTrusted);
    const admission = new PeerAdmission(config.limits.newIssuersPerPeerPerHour, now);
    const ingestor = new Ingestor({ store, suite, limits, now, pool, admission, trusted: isTrusted });
    const node = new LocalNode(home, config, identity, store, suite, limits, ingestor, pool, now);
    node.onTrust = (set) => {
      trusted.set = set;
      pool.retally();
    };
    ingestor.onCommitted((ds) => node.forget(ds));
    store.onRemoved((removed, reason) => {
      for (const r of removed) for (const d of r.subjects) node.forgetSubject(d);
      // An eviction's effect on the pool is the plan's own; a collection is recounted.
      if (reason === 'gc') pool.retally();
    });
    await node.trustPolicy();
    return node;
  }

  private onTrust: (trusted: ReadonlySet<string>) => void = () => {};
  private trustCache: { policy: TrustPolicy; mtimeMs: number; checkedAt: number } | undefined;

  /**
   * The issuers whose attestations count in this node's view. Cached: re-read when the
   * trust file changes (checked at most once a second) or after `trustChanged()`.
   */
  async trustPolicy(): Promise<TrustPolicy> {
    const now = Date.now();
    const c = this.trustCache;
    if (c && now - c.checkedAt < 1000) return c.policy;
    const mtimeMs = await stat(this.home.trust).then((s) => s.mtimeMs, () => 0);
    if (c && c.mtimeMs === mtimeMs) {
      c.checkedAt = now;
      return c.policy;
    }
    const t = await loadTrust(this.home.trust);
    const trusted = new Set(t.issuers.map((e) => e.issuer));
    if (this.config.trust.includeSelf) trusted.add(this.identity.did);
    this.trustCache = { policy: { trusted }, mtimeMs, checkedAt: now };
    // Whose attestations count changed: cached views and the strangers' tally are stale.
    this.about.clear();
    this.aboutItems = 0;
    this.onTrust(trusted);
    return this.trustCache.policy;
  }

  /** Drops the cached trust policy after this process changed the trust file. */
  trustChanged(): void {
    this.trustCache = undefined;
  }

  /**
   * This node's reputation view of a digest: the store read, then the pure view. What it
   * costs is bounded by what counts: every attestation of the counting issuers is read,
   * of the rest only the first OTHERS_LISTED, and the total is a stored counter. At most
   * `limits.maxConcurrentViews` views are computed at once; the rest wait their turn.
   */
  async view(digest: string, now = this.now(), policy?: TrustPolicy): Promise<ReputationView & { evidence: { total: number; listed: number; omitted: number } }> {
    const p = policy ?? (await this.trustPolicy());
    const [counting, others, total] = await this.viewSlot(async () => {
      const count = await this.store.subjectCount(digest);
      return Promise.all([this.attestationsAbout(digest, p, count), this.store.bySubject(digest, { limit: OTHERS_LISTED }), count]);
    });
    const inputs = [...counting, ...others.items.filter((a) => !p.trusted.has(a.issuer))];
    const view = baselineView(digest, inputs, p, now);
    return { ...view, evidence: { total, listed: inputs.length, omitted: Math.max(0, total - inputs.length) } };
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

  private readonly about = new Map<string, readonly StoredAttestation[]>();
  private aboutItems = 0;
  private commits = 0;

  /**
   * The counting issuers' attestations about a digest, decoded. Recently asked digests are
   * kept in memory (a model loader asks about the same files again and again) and dropped
   * as soon as a commit touches them or the trust policy changes.
   */
  async attestationsAbout(digest: string, policy: TrustPolicy, subjectCount?: number): Promise<readonly StoredAttestation[]> {
    const hit = this.about.get(digest);
    if (hit) {
      this.about.delete(digest); // most recently used goes last
      this.about.set(digest, hit);
      return hit;
    }
    const generation = this.commits;
    // Whichever is smaller decides how: a seek per counting issuer, or one pass over the
    // subject's index keys. Each issuer counts with at most its newest PER_ISSUER.
    const count = subjectCount ?? (await this.store.subjectCount(digest));
    const items = policy.trusted.size * 8 <= count
      ? (await Promise.all([...policy.trusted].map((issuer) => this.store.newestBySubjectIssuer(digest, issuer, PER_ISSUER)))).flat()
      : count === 0 ? [] : await this.store.bySubjectAmong(digest, issuerKeysOf(policy), PER_ISSUER);
    // A commit that landed while we read may not be in `items`: do not cache those.
    if (generation === this.commits && items.length <= ABOUT_CACHE_ITEMS / 10) {
      // Concurrent misses for one digest each get here: count the entry once.
      this.aboutItems += items.length - (this.about.get(digest)?.length ?? 0);
      this.about.set(digest, items);
      for (const [k, v] of this.about) {
        if (this.aboutItems <= ABOUT_CACHE_ITEMS) break;
        this.about.delete(k);
        this.aboutItems -= v.length;
      }
    }
    return items;
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

  private forgetSubject(digest: string): void {
    this.aboutItems -= this.about.get(digest)?.length ?? 0;
    this.about.delete(digest);
  }

  private forget(ds: readonly Decision[]): void {
    let touched = false;
    for (const d of ds) {
      if (d.outcome !== 'accept') continue;
      touched = true;
      for (const s of d.attestation.subjects) {
        this.aboutItems -= this.about.get(s)?.length ?? 0;
        this.about.delete(s);
      }
    }
    if (touched) this.commits++;
  }

  async close(): Promise<void> {
    await this.store.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

