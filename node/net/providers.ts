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
  const hash = createHash('sha256').update(`chorus/subject/1:${digestHex}`).digest();
  return CID.createV1(RAW, createDigest(SHA2_256, hash));
}

/** Provides one digest at a time. */
const CONCURRENCY = 1;
/** Digests that arrived from the network are announced at most one per this many ms. */
const NETWORK_PACE_MS = 2_000;
/** A provide that reached no peer is retried after 2 s, then less often up to 60 s (and when a peer connects). */
const RETRY_FIRST_MS = 2_000;
const RETRY_MAX_MS = 60_000;
const PROVIDE_TIMEOUT_MS = 30_000;
/**
 * Announcements wait until no attestation has landed here for this long (net.announceQuietSeconds),
 * plus a random part of up to half of it, so that the nodes of a network, which all see the
 * same attestations and so the same quiet moments, do not all start providing at once: gossip first…
 */
export const QUIET_MS = 10_000;
/** …but none waits longer than this. */
export const MAX_DEFER_MS = 5 * 60_000;

/** When announcements may start; the defaults are the constants above. */
export interface AnnouncerTiming {
  readonly quietMs?: number;
  readonly maxDeferMs?: number;
  /** The random part added to each quiet wait, in [0, quietMs / 2); a test may fix it. */
  readonly jitter?: (quietMs: number) => number;
}
/**
 * How many nodes, besides the one where it entered the network, are expected to announce
 * a digest that reached them by gossip or sync. Every node receives every attestation; if
 * every node announced every digest, a network of n nodes would run n DHT provides (each
 * some 2k streams) per attestation: in a 20-process devnet on two cores that was most of
 * the CPU. A few extra providers keep the digest findable when its first holder is gone.
 */
export const EXTRA_PROVIDERS = 3;

/**
 * Whether this node is one of the extra providers of `digest`: a hash of (peer id, digest)
 * read as a number in [0, 1) below EXTRA_PROVIDERS / network size. Deterministic, so a
 * restart decides the same; independent across nodes, so about EXTRA_PROVIDERS volunteer.
 */
export function volunteers(peerId: string, digest: string, networkSize: number): boolean {
  const share = Math.min(1, EXTRA_PROVIDERS / Math.max(1, networkSize));
  if (share >= 1) return true;
  const hash = createHash('sha256').update(`chorus/volunteer/1:${peerId}:${digest}`).digest();
  return hash.readUInt32BE(0) / 2 ** 32 < share;
}

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
 * go first, one at a time: this node is their first holder. Of the digests that
 * arrived by gossip or sync, this node announces only those it volunteers for (about
 * EXTRA_PROVIDERS nodes per digest, whatever the network's size; see `volunteers`), and
 * slowly (one per 2 s). A digest that reached no peer waits for one.
 *
 * Provider records are a background index; gossip is what users wait for. A DHT provide
 * is a query of k peers plus k ADD_PROVIDER requests, far more work than relaying one
 * attestation, so announcements wait for a quiet moment: none starts while attestations
 * are landing here (within the quiet period, 10 s by default, plus a random part of up
 * to half of it, of the last), unless one has waited MAX_DEFER_MS. Every node sees the same
 * attestations, so without the random part a whole network would start its provides in
 * the same instant: on one machine that burst was the tail of gossip's propagation.
 */
export class Announcer {
  /** Entered the network here: digest → when queued. */
  private readonly pending = new Map<string, number>();
  /** Arrived from the network, announced at the slow pace: digest → when queued. */
  private readonly later = new Map<string, number>();
  /** Reached no peer: retried later. */
  private readonly waiting = new Set<string>();
  private running = 0;
  private announced = 0;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private paceTimer: NodeJS.Timeout | undefined;
  private quietTimer: NodeJS.Timeout | undefined;
  private lastLaterStart = 0;
  private lastActivity = 0;
  private retryMs = RETRY_FIRST_MS;
  private readonly quietMs: number;
  private readonly maxDeferMs: number;
  private readonly jitter: (quietMs: number) => number;
  /** The random part of the current quiet wait, drawn at each landing. */
  private extra = 0;

  /**
   * `networkSize`: this node's estimate of how many nodes run the DHT (its routing table's
   * size plus itself); read when a digest arrives from the network.
   */
  constructor(
    private readonly dht: KadDHT,
    private readonly datastore: Datastore,
    private readonly log: Logger,
    private readonly selfId: string,
    private readonly networkSize: () => number,
    timing: AnnouncerTiming = {},
  ) {
    this.quietMs = timing.quietMs ?? QUIET_MS;
    this.maxDeferMs = timing.maxDeferMs ?? MAX_DEFER_MS;
    this.jitter = timing.jitter ?? ((interval) => Math.random() * (interval / 2));
  }

  private marker(digest: string): Key {
    return new Key(`/chorus/provided/${digest}`);
  }

  /** Queues (slow lane) the digests this node volunteers for and has not announced yet: a background scan at start. */
  async announceMissing(digests: AsyncIterable<string>): Promise<void> {
    for await (const digest of digests) {
      if (this.stopped) return;
      if (volunteers(this.selfId, digest, this.networkSize()) && !(await this.datastore.has(this.marker(digest)))) this.enqueue(digest, 'network');
    }
  }

  /** `origin`: local — the attestation entered the network here; network — it came from a peer. */
  enqueue(digest: string, origin: 'local' | 'network'): void {
    if (this.stopped || this.pending.has(digest) || this.waiting.has(digest)) return;
    if (origin === 'local') {
      this.pending.set(digest, this.later.get(digest) ?? Date.now());
      this.later.delete(digest);
    } else if (!this.later.has(digest)) {
      if (!volunteers(this.selfId, digest, this.networkSize())) return;
      this.later.set(digest, Date.now());
    }
    this.pump();
  }

  /** An attestation landed here (from anywhere): announcements wait for a quiet moment. */
  activity(): void {
    this.lastActivity = Date.now();
    this.extra = this.jitter(this.quietMs);
  }

  /** Milliseconds until announcements may start: 0 when quiet, or when one has waited too long. */
  private untilQuiet(): number {
    const now = Date.now();
    const quietIn = this.lastActivity + this.quietMs + this.extra - now;
    if (quietIn <= 0) return 0;
    // Maps iterate in insertion order: the first entry of each has waited longest.
    const oldest = Math.min(this.pending.values().next().value ?? now, this.later.values().next().value ?? now);
    return now - oldest >= this.maxDeferMs ? 0 : Math.min(quietIn, oldest + this.maxDeferMs - now);
  }

  /** A peer connected: digests that reached nobody get another go. */
  peerConnected(): void {
    if (this.waiting.size > 0) this.retryIn(1000);
  }

  private retryIn(ms: number): void {
    if (this.retryTimer || this.stopped) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      for (const digest of this.waiting) this.pending.set(digest, Date.now());
      this.waiting.clear();
      this.pump();
    }, ms);
    this.retryTimer.unref();
  }

  get stats(): AnnouncerStats {
    return { pending: this.pending.size + this.later.size + this.running, announced: this.announced, waiting: this.waiting.size };
  }

  /** Runs `pump` again in `ms` (after `done`, which forgets the timer); never keeps the process alive. */
  private pumpIn(ms: number, done: () => void): NodeJS.Timeout {
    const timer = setTimeout(() => {
      done();
      this.pump();
    }, ms);
    timer.unref();
    return timer;
  }

  private pump(): void {
    if (this.stopped || this.quietTimer || this.running >= CONCURRENCY || (this.pending.size === 0 && this.later.size === 0)) return;
    const quiet = this.untilQuiet();
    if (quiet > 0) {
      this.quietTimer = this.pumpIn(quiet, () => (this.quietTimer = undefined));
      return;
    }
    while (!this.stopped && this.running < CONCURRENCY && this.pending.size > 0) {
      const digest = this.pending.keys().next().value as string;
      this.pending.delete(digest);
      this.start(digest);
    }
    if (this.stopped || this.running > 0 || this.pending.size > 0 || this.later.size === 0 || this.paceTimer) return;
    const wait = this.lastLaterStart + NETWORK_PACE_MS - Date.now();
    if (wait > 0) {
      this.paceTimer = this.pumpIn(wait, () => (this.paceTimer = undefined));
      return;
    }
    // Decided again when its turn comes: at start the routing table is still filling, and
    // a node that then thought itself alone would volunteer for everything.
    for (const digest of this.later.keys()) {
      this.later.delete(digest);
      if (!volunteers(this.selfId, digest, this.networkSize())) continue;
      this.lastLaterStart = Date.now();
      this.start(digest);
      return;
    }
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
    if (this.quietTimer) clearTimeout(this.quietTimer);
  }
}

/** Peers the DHT says hold attestations about `digest`, self excluded; stops at `max`. */
export async function findHolders(dht: KadDHT, self: PeerId, digest: string, max: number, signal: AbortSignal): Promise<PeerId[]> {
  const found = new Map<string, PeerId>();
  try {
    for await (const ev of dht.findProviders(subjectKey(digest), { signal })) {
      if (ev.name !== 'PROVIDER') continue;
      for (const provider of ev.providers) if (!provider.id.equals(self)) found.set(provider.id.toString(), provider.id);
      if (found.size >= max) break;
    }
  } catch (e) {
    if (!signal.aborted) throw e;
  }
  return [...found.values()];
}
