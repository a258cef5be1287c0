import type { CryptoSuite } from '../../src/crypto/suite.js';
import type { Limits } from '../../src/ingest/limits.js';
import { baselineView, type ReputationView, type TrustPolicy } from '../../src/reputation/baseline-view.js';
import { nativeSuite } from '../crypto/native-suite.js';
import { resolveConfig, limitsOf, type Config } from '../home/config.js';
import type { HomePaths } from '../home/home.js';
import { loadIdentity, type Identity } from '../home/identity.js';
import { loadTrust } from '../home/trust-list.js';
import { Ingestor } from '../ingest/ingestor.js';
import { AttestationStore } from '../store/attestation-store.js';

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
    return new LocalNode(home, config, identity, store, suite, limits, ingestor);
  }

  /** The issuers whose attestations count in this node's view. */
  async trustPolicy(): Promise<TrustPolicy> {
    const t = await loadTrust(this.home.trust);
    const trusted = new Set(t.issuers.map((e) => e.issuer));
    if (this.config.trust.includeSelf) trusted.add(this.identity.did);
    return { trusted };
  }

  /** This node's reputation view of a digest: the store read, then the pure view. */
  async view(digest: string, now = Date.now()): Promise<ReputationView> {
    const page = await this.store.bySubject(digest);
    return baselineView(digest, page.items, await this.trustPolicy(), now);
  }

  async close(): Promise<void> {
    await this.store.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

