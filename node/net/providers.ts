import { createHash } from 'node:crypto';
import { CID } from 'multiformats/cid';
import { create as createDigest } from 'multiformats/hashes/digest';
import { Key, type Datastore } from 'interface-datastore';
import type { PeerId } from '@libp2p/interface';
import type { KadDHT } from '@libp2p/kad-dht';
import type { Logger } from 'pino';

const RAW = 0x55;
const SHA2_256 = 0x12;

/**
 * The DHT key under which nodes announce that they hold attestations about a digest
 * (SPEC.md, "Provider records"): a CIDv1 (raw) of sha256("chorus/subject/1:" + hex digest).
 * Namespaced, so a Chorus provider record never reads as "holds the model's bytes".
 */
export function subjectKey(digestHex: string): CID {
  const h = createHash('sha256').update(`chorus/subject/1:${digestHex}`).digest();
  return CID.createV1(RAW, createDigest(SHA2_256, h));
}

/** Provides at most this many digests at once. */
const CONCURRENCY = 2;
/** Digests that arrived from the network are announced at most one per this many ms. */
const NETWORK_PACE_MS = 2_000;
/** A provide that reached no peer is retried after 2 s, then less often up to 60 s (and when a peer connects). */
const RETRY_FIRST_MS = 2_000;
const RETRY_MAX_MS = 60_000;
const PROVIDE_TIMEOUT_MS = 30_000;

export interface AnnouncerStats {
  readonly pending: number;
  readonly announced: number;
  readonly waiting: number;
}

/**
 * Announces, once per digest, that this node holds attestations about it: a provider
 * record in the DHT. Remembered in the libp2p datastore, so a restart does not announce
 * everything again (the DHT re-provides its own records before they expire).
 *
 * Two queues. Digests of attestations that entered the network here (API, CLI, import)
 * go first, a couple at a time: this node is their first holder. Digests that arrived by
 * gossip or sync are announced slowly (one per 2 s), because every node receives them: if
 * each announced everything at once, a busy network would spend its CPU on the DHT. A
 * digest that reached no peer waits for one.
 */
export class Announcer {
  private readonly pending = new Set<string>();
  /** Arrived from the network: announced at the slow pace. */
  private readonly later = new Set<string>();
  /** Reached no peer: retried later. */
  private readonly waiting = new Set<string>();
  private running = 0;
  private announced = 0;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private paceTimer: NodeJS.Timeout | undefined;
  private lastLaterStart = 0;
  private retryMs = RETRY_FIRST_MS;

  constructor(
    private readonly dht: KadDHT,
    private readonly datastore: Datastore,
    private readonly log: Logger,
  ) {}

  private marker(digest: string): Key {
    return new Key(`/chorus/provided/${digest}`);
  }

  /** Queues (slow lane) the digests this node has not announced yet: a background scan at start. */
  async announceMissing(digests: AsyncIterable<string>): Promise<void> {
    for await (const d of digests) {
      if (this.stopped) return;
      if (!(await this.datastore.has(this.marker(d)))) this.enqueue(d, 'network');
    }
  }

  /** `origin`: local — the attestation entered the network here; network — it came from a peer. */
  enqueue(digest: string, origin: 'local' | 'network'): void {
    if (this.stopped || this.pending.has(digest) || this.waiting.has(digest)) return;
    if (origin === 'local') {
      this.later.delete(digest);
      this.pending.add(digest);
    } else if (!this.later.has(digest)) {
      this.later.add(digest);
    }
    this.pump();
  }

  /** A peer connected: digests that reached nobody get another go. */
  peerConnected(): void {
    if (this.waiting.size > 0) this.retryIn(1000);
  }

  private retryIn(ms: number): void {
    if (this.retryTimer || this.stopped) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      for (const d of this.waiting) this.pending.add(d);
      this.waiting.clear();
      this.pump();
    }, ms);
    this.retryTimer.unref();
  }

  get stats(): AnnouncerStats {
    return { pending: this.pending.size + this.later.size + this.running, announced: this.announced, waiting: this.waiting.size };
  }

  private pump(): void {
    while (!this.stopped && this.running < CONCURRENCY && this.pending.size > 0) {
      const d = this.pending.values().next().value as string;
      this.pending.delete(d);
      this.start(d);
    }
    if (this.stopped || this.running > 0 || this.pending.size > 0 || this.later.size === 0 || this.paceTimer) return;
    const wait = this.lastLaterStart + NETWORK_PACE_MS - Date.now();
    if (wait > 0) {
      this.paceTimer = setTimeout(() => {
        this.paceTimer = undefined;
        this.pump();
      }, wait);
      this.paceTimer.unref();
      return;
    }
    const d = this.later.values().next().value as string;
    this.later.delete(d);
    this.lastLaterStart = Date.now();
    this.start(d);
  }

  private start(digest: string): void {
    this.running++;
    void this.provide(digest).finally(() => {
      this.running--;
      this.pump();
    });
  }

  private async provide(digest: string): Promise<void> {
    if (await Promise.resolve(this.datastore.has(this.marker(digest))).catch(() => false)) return;
    let reached = 0;
    try {
      for await (const ev of this.dht.provide(subjectKey(digest), { signal: AbortSignal.timeout(PROVIDE_TIMEOUT_MS) })) {
        if (ev.name === 'PEER_RESPONSE' && ev.messageName === 'ADD_PROVIDER') reached++;
      }
    } catch (e) {
      this.log.debug({ err: e, digest }, 'provide failed');
    }
    if (this.stopped) return;
    if (reached > 0) {
      this.announced++;
      this.retryMs = RETRY_FIRST_MS;
      try {
        await this.datastore.put(this.marker(digest), new TextEncoder().encode(String(Date.now())));
      } catch (e) {
        this.log.debug({ err: e, digest }, 'cannot record a provided digest');
      }
      return;
    }
    this.waiting.add(digest);
    this.retryIn(this.retryMs);
    this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
  }

  stop(): void {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.paceTimer) clearTimeout(this.paceTimer);
  }
}

/** Peers the DHT says hold attestations about `digest`, self excluded; stops at `max`. */
export async function findHolders(dht: KadDHT, self: PeerId, digest: string, max: number, signal: AbortSignal): Promise<PeerId[]> {
  const found = new Map<string, PeerId>();
  try {
    for await (const ev of dht.findProviders(subjectKey(digest), { signal })) {
      if (ev.name !== 'PROVIDER') continue;
      for (const p of ev.providers) if (!p.id.equals(self)) found.set(p.id.toString(), p.id);
      if (found.size >= max) break;
    }
  } catch (e) {
    if (!signal.aborted) throw e;
  }
  return [...found.values()];
}
