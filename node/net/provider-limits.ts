import { ChorusError } from '../../src/errors.js';

/** Where kad-dht keeps provider records in the libp2p datastore: /dht/provider/<cid>/<peer id>. */
export const PROVIDER_PREFIX = '/dht/provider/';

/** Bounds on the DHT provider records a node keeps for others (SPEC §14.9). */
export interface ProviderBounds {
  /** Records one provider peer may hold here. */
  readonly perPeer: number;
  /** Providers kept for one key (one digest). */
  readonly perKey: number;
  /** Records in all. */
  readonly total: number;
  /** New records one peer may add: a bucket of `burst`, refilled at `perSecond`. */
  readonly burst: number;
  readonly perSecond: number;
}

export const DEFAULT_PROVIDER_BOUNDS: ProviderBounds = { perPeer: 5_000, perKey: 32, total: 100_000, burst: 500, perSecond: 50 };

/** Why a provider record was not stored. */
export type ProviderRefusal = 'rate' | 'per-peer' | 'per-key';

/** What the limits tell the datastore and the metrics. */
export interface ProviderEvents {
  refused(cap: ProviderRefusal, peer: string): void;
  evicted(count: number): void;
}

/** (cid, peer) of a provider record key, or undefined for any other key. */
export function parseProviderKey(key: string): { cid: string; peer: string } | undefined {
  if (!key.startsWith(PROVIDER_PREFIX)) return undefined;
  const rest = key.slice(PROVIDER_PREFIX.length);
  const slash = rest.indexOf('/');
  if (slash <= 0 || slash === rest.length - 1 || rest.indexOf('/', slash + 1) !== -1) return undefined;
  return { cid: rest.slice(0, slash), peer: rest.slice(slash + 1) };
}

/**
 * The DHT provider records this node stores for other peers, bounded per provider, per key
 * and in total. kad-dht's ADD_PROVIDER handler already drops records whose provider is not
 * the sender, so the peer in a record's key is the peer that sent it.
 *
 * - A new record beyond its peer's rate (a bucket of `burst`, `perSecond`) or its peer's
 *   share is refused with an error: kad-dht then aborts that stream, and the peer is told
 *   of as an abuser (network.ts penalizes it). Refreshing a record it already has is free.
 * - A key that already has `perKey` providers keeps them: the first holders of a digest
 *   announce first, and a crowd of fresh ids cannot push them out (lookups ask 3).
 * - When the total is reached, room is made by evicting the oldest record of the peer
 *   holding the most (max-min fairness, as in the strangers' pool): a thousand fresh ids
 *   together hold no more than their share, and a peer with a few records keeps them.
 * - This node's own records are never counted or refused.
 *
 * In memory: one entry per record (its key), so at most `total` keys.
 */
export class ProviderLimits {
  private readonly byPeer = new Map<string, Set<string>>();
  private readonly byKey = new Map<string, number>();
  /** Peers by how many records they hold, for finding the largest in O(1). */
  private readonly bySize = new Map<number, Set<string>>();
  private maxSize = 0;
  private count = 0;
  private readonly rates = new Map<string, { tokens: number; at: number }>();
  private self: string | undefined;

  constructor(
    readonly bounds: ProviderBounds = DEFAULT_PROVIDER_BOUNDS,
    private readonly events: ProviderEvents = { refused: () => {}, evicted: () => {} },
    private readonly now: () => number = Date.now,
  ) {}

  /** This node's peer id: its own records are not counted. */
  setSelf(peer: string): void {
    this.self = peer;
  }

  /** Records held for others. */
  get size(): number {
    return this.count;
  }

  /** Peers holding records here. */
  get peers(): number {
    return this.byPeer.size;
  }

  has(key: string): boolean {
    const p = parseProviderKey(key);
    return p !== undefined && (this.byPeer.get(p.peer)?.has(key) ?? false);
  }

  /**
   * Whether a record may be written; throws a ChorusError when it may not. Returns the keys
   * to delete first to make room (the caller deletes them, then writes, then calls added()).
   */
  admit(key: string): string[] {
    const p = parseProviderKey(key);
    if (p === undefined || p.peer === this.self) return [];
    const held = this.byPeer.get(p.peer);
    if (held?.has(key)) return []; // a refresh
    if (!this.take(p.peer)) return this.refuse('rate', p.peer, `provider records from ${p.peer} arrive faster than ${this.bounds.perSecond}/s`);
    if ((held?.size ?? 0) >= this.bounds.perPeer) return this.refuse('per-peer', p.peer, `${p.peer} already provides ${this.bounds.perPeer} keys here`);
    if ((this.byKey.get(p.cid) ?? 0) >= this.bounds.perKey) {
      // Not the sender's fault: others got there first. Dropped, not blamed.
      this.events.refused('per-key', p.peer);
      return [DROP];
    }
    const evict: string[] = [];
    let size = this.count;
    // The largest holder gives way, unless that is the newcomer itself (then it is refused:
    // it already holds at least as much as anyone).
    while (size >= this.bounds.total) {
      const victim = this.largest(p.peer, evict);
      if (victim === undefined) return this.refuse('per-peer', p.peer, `the provider table is full (${this.bounds.total}) and ${p.peer} holds as much as anyone`);
      evict.push(victim);
      size--;
    }
    return evict;
  }

  /** Keys to delete to bring records found at open within the per-peer and total bounds. */
  excess(): string[] {
    const out: string[] = [];
    for (const held of this.byPeer.values()) {
      let over = held.size - this.bounds.perPeer;
      for (const key of held) if (over-- > 0) out.push(key);
    }
    for (const k of out) this.removed(k);
    while (this.count > this.bounds.total) {
      const victim = this.largest('', []);
      if (victim === undefined) break;
      this.removed(victim);
      out.push(victim);
    }
    // removed() was applied here already; the caller's removed() calls are no-ops.
    return out;
  }

  /** Records a write admit() allowed (or one found at open). */
  added(key: string): void {
    const p = parseProviderKey(key);
    if (p === undefined || p.peer === this.self) return;
    let held = this.byPeer.get(p.peer);
    if (held === undefined) this.byPeer.set(p.peer, (held = new Set()));
    if (held.has(key)) return;
    this.resize(p.peer, held.size, held.size + 1);
    held.add(key);
    this.byKey.set(p.cid, (this.byKey.get(p.cid) ?? 0) + 1);
    this.count++;
  }

  /** Records a deletion (expiry, eviction, or kad-dht's own removal). */
  removed(key: string): void {
    const p = parseProviderKey(key);
    if (p === undefined) return;
    const held = this.byPeer.get(p.peer);
    if (held === undefined || !held.delete(key)) return;
    this.resize(p.peer, held.size + 1, held.size);
    if (held.size === 0) this.byPeer.delete(p.peer);
    const k = (this.byKey.get(p.cid) ?? 1) - 1;
    if (k === 0) this.byKey.delete(p.cid);
    else this.byKey.set(p.cid, k);
    this.count--;
  }

  private refuse(cap: ProviderRefusal, peer: string, message: string): never {
    this.events.refused(cap, peer);
    throw new ChorusError('rate_limited', message);
  }

  private take(peer: string): boolean {
    const now = this.now();
    let b = this.rates.get(peer);
    if (b === undefined) {
      if (this.rates.size >= 10_000) this.rates.delete(this.rates.keys().next().value as string);
      b = { tokens: this.bounds.burst, at: now };
    } else this.rates.delete(peer);
    this.rates.set(peer, b);
    b.tokens = Math.min(this.bounds.burst, b.tokens + ((now - b.at) / 1000) * this.bounds.perSecond);
    b.at = now;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  private resize(peer: string, from: number, to: number): void {
    if (from > 0) {
      const s = this.bySize.get(from);
      s?.delete(peer);
      if (s?.size === 0) this.bySize.delete(from);
    }
    if (to > 0) {
      let s = this.bySize.get(to);
      if (s === undefined) this.bySize.set(to, (s = new Set()));
      s.add(peer);
    }
    if (to > this.maxSize) this.maxSize = to;
    while (this.maxSize > 0 && !this.bySize.has(this.maxSize)) this.maxSize--;
  }

  /** The oldest record of the peer holding the most (other than `newcomer`), not already in `taken`. */
  private largest(newcomer: string, taken: readonly string[]): string | undefined {
    const newcomerSize = this.byPeer.get(newcomer)?.size ?? 0;
    for (let size = this.maxSize; size > newcomerSize; size--) {
      for (const peer of this.bySize.get(size) ?? []) {
        if (peer === newcomer) continue;
        for (const key of this.byPeer.get(peer) ?? []) if (!taken.includes(key)) return key;
      }
    }
    return undefined;
  }
}

/** admit()'s answer for a record dropped without blame: do not write it. */
export const DROP = '\0drop';
