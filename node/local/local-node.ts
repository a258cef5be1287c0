import { stat } from 'node:fs/promises';
import type { CryptoSuite } from '../../src/crypto/suite.js';
import type { Limits } from '../../src/ingest/limits.js';
import { baselineView, type ReputationView, type TrustPolicy } from '../../src/reputation/baseline-view.js';
import { nativeSuite } from '../crypto/native-suite.js';
import { resolveConfig, limitsOf, type Config } from '../home/config.js';
import type { HomePaths } from '../home/home.js';
import { loadIdentity, type Identity } from '../home/identity.js';
import { loadTrust } from '../home/trust-list.js';
import { Ingestor } from '../ingest/ingestor.js';
import { AttestationStore, type StoredAttestation } from '../store/attestation-store.js';
import type { Decision } from '../../src/ingest/decide.js';

/** How many decoded attestations the view cache keeps in all (~2-3 KB each). */
const ABOUT_CACHE_ITEMS = 20_000;

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
  ) {}

  static async open(home: HomePaths, opts: { now?: () => number; env?: NodeJS.ProcessEnv; overrides?: Record<string, unknown> } = {}): Promise<LocalNode> {
    const identity = await loadIdentity(home.key);
    const config = await resolveConfig(home.config, opts.env ?? process.env, opts.overrides);
    const store = await AttestationStore.open(home.store);
    const suite = nativeSuite();
    const limits = limitsOf(config);
    const ingestor = new Ingestor({ store, suite, limits, ...(opts.now ? { now: opts.now } : {}) });
    const node = new LocalNode(home, config, identity, store, suite, limits, ingestor);
    ingestor.onCommitted((ds) => node.forget(ds));
    return node;
  }

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
    return this.trustCache.policy;
  }

  /** Drops the cached trust policy after this process changed the trust file. */
  trustChanged(): void {
    this.trustCache = undefined;
  }

  /** This node's reputation view of a digest: the store read, then the pure view. */
  async view(digest: string, now = Date.now(), policy?: TrustPolicy): Promise<ReputationView> {
    return baselineView(digest, await this.attestationsAbout(digest), policy ?? (await this.trustPolicy()), now);
  }

  private readonly about = new Map<string, readonly StoredAttestation[]>();
  private aboutItems = 0;
  private commits = 0;

  /**
   * Every attestation about a digest, decoded. Recently asked digests are kept in memory
   * (a model loader asks about the same files again and again) and dropped as soon as a
   * commit touches them.
   */
  async attestationsAbout(digest: string): Promise<readonly StoredAttestation[]> {
    const hit = this.about.get(digest);
    if (hit) {
      this.about.delete(digest); // most recently used goes last
      this.about.set(digest, hit);
      return hit;
    }
    const generation = this.commits;
    const { items } = await this.store.bySubject(digest);
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

