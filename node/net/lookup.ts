import type { PeerId } from '@libp2p/interface';
import type { KadDHT } from '@libp2p/kad-dht';
import type { Logger } from 'pino';
import type { Config } from '../home/config.js';
import { LOOKUP_CONCURRENCY, LOOKUP_HOLDERS, LOOKUP_NEGATIVE_MS } from './constants.js';
import { findHolders } from './providers.js';
import type { SyncService } from './sync.js';

/** What asking the network about an unknown digest did. */
export interface Lookup {
  /** skipped: not asked (asked recently with no result, or too many lookups at once). */
  readonly outcome: 'asked' | 'skipped';
  readonly holders: number;
  readonly fetched: number;
  readonly accepted: number;
  readonly ms: number;
}

/**
 * Asks the network about a digest this node holds nothing about: the DHT's provider
 * records name the nodes that do, and a few of them are asked for what they hold, which
 * lands through the ingest path. Bounded: a time limit, a few lookups at once, and a
 * digest that found nothing is not asked about again for ten minutes.
 */
export class Lookups {
  private readonly lookedUp = new Map<string, number>();
  private running = 0;
  private stopped = false;

  constructor(
    private readonly dht: KadDHT | undefined,
    private readonly self: PeerId,
    private readonly sync: SyncService,
    private readonly net: Config['net'],
    private readonly log: Logger,
  ) {}

  async lookup(digest: string, timeoutMs = this.net.lookupTimeoutSeconds * 1000): Promise<Lookup> {
    const started = performance.now();
    const skipped: Lookup = { outcome: 'skipped', holders: 0, fetched: 0, accepted: 0, ms: 0 };
    const last = this.lookedUp.get(digest);
    if (!this.dht || !this.net.providers || this.stopped || this.running >= LOOKUP_CONCURRENCY || (last !== undefined && Date.now() - last < LOOKUP_NEGATIVE_MS)) return skipped;
    this.running++;
    try {
      const signal = AbortSignal.timeout(timeoutMs);
      const holders = await findHolders(this.dht, this.self, digest, LOOKUP_HOLDERS, signal);
      let fetched = 0;
      let accepted = 0;
      await Promise.all(holders.map(async (peer) => {
        try {
          const s = await this.sync.fetchSubject(peer, digest, signal);
          fetched += s.fetched;
          accepted += s.accepted;
        } catch (e) {
          this.log.debug({ err: e, peer: peer.toString(), digest }, 'lookup fetch failed');
        }
      }));
      if (accepted === 0) {
        if (this.lookedUp.size > 10_000) this.lookedUp.clear();
        this.lookedUp.set(digest, Date.now());
      }
      this.log.info({ digest, holders: holders.length, fetched, accepted }, 'asked the network about an unknown digest');
      return { outcome: 'asked', holders: holders.length, fetched, accepted, ms: Math.round(performance.now() - started) };
    } finally {
      this.running--;
    }
  }

  stop(): void {
    this.stopped = true;
  }
}
