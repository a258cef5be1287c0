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
export type ProviderRefusal = 'rate' | 'per-peer' | 'per-key' | 'full';

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

/** The group of records found on disk at start (their senders' addresses are unknown). */
export const LEGACY_GROUP = 'legacy';

/**
 * The DHT provider records this node stores for other peers, bounded per provider, per key
 * and in total. kad-dht's ADD_PROVIDER handler already drops records whose provider is not
 * the sender, so the peer in a record's key is the peer that sent it.
 *
 * Peer ids cost nothing; addresses do. So every provider belongs to a group — the network
 * it sent from (/24, /48; a private address is its own; loopback and unknown addresses one
 * shared group), as the strangers' pool groups issuers — and room is shared max-min by
 * group first, then by peer within a group:
 * - a new record beyond its peer's rate (a bucket of `burst`, `perSecond`) is refused with
 *   an error: kad-dht aborts that stream, and the peer is told of as an abuser (network.ts).
 *   That is the only refusal with blame: the others depend on what others hold;
 * - past its peer's share (`perPeer`) a record is dropped;
 * - a key that has `perKey` providers takes a newcomer only by evicting a provider of the
 *   group most represented among them, when that group has more there than the newcomer's
 *   (a crowd of fresh ids from one network cannot squat a digest);
 * - when the table is full, the oldest record of the largest peer of the largest group
 *   gives way, when that group holds more than the newcomer's would; else of the largest
 *   other peer of the newcomer's own group, when it holds more than the newcomer would;
 *   otherwise the record is dropped;
 * - refreshing a record one holds is free, and this node's own records are not counted.
 *
 * In memory: one entry per record (its key), so at most `total` keys, and a group per peer.
 */
export class ProviderLimits {
  private readonly byPeer = new Map<string, Set<string>>();
  private readonly byKey = new Map<string, Set<string>>();
  private readonly peerGroup = new Map<string, string>();
  private readonly groupPeers = new Map<string, Set<string>>();
  private readonly groupCount = new Map<string, number>();
  private count = 0;
  private readonly rates = new Map<string, { tokens: number; at: number }>();
  private self: string | undefined;

  constructor(
    readonly bounds: ProviderBounds = DEFAULT_PROVIDER_BOUNDS,
    private readonly events: ProviderEvents = { refused: () => {}, evicted: () => {} },
    private readonly now: () => number = Date.now,
    /** The group of a peer sending a record now (its network); called once per new provider. */
    private readonly groupOf: (peer: string) => string = () => 'unknown',
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

  /** Groups (networks) holding records here. */
  get groups(): number {
    return this.groupCount.size;
  }

  has(key: string): boolean {
    const parsed = parseProviderKey(key);
    return parsed !== undefined && (this.byPeer.get(parsed.peer)?.has(key) ?? false);
  }

  /**
   * Whether a record may be written: throws a ChorusError when its sender is over its rate;
   * returns [DROP] when it is dropped without blame; else the keys to delete first to make
   * room (the caller deletes them, then writes, then calls added()).
   */
  admit(key: string): string[] {
    const parsed = parseProviderKey(key);
    if (parsed === undefined || parsed.peer === this.self) return [];
    const held = this.byPeer.get(parsed.peer);
    if (held?.has(key)) return []; // a refresh
    if (!this.take(parsed.peer)) {
      this.events.refused('rate', parsed.peer);
      throw new ChorusError('rate_limited', `provider records from ${parsed.peer} arrive faster than ${this.bounds.perSecond}/s`);
    }
    if ((held?.size ?? 0) >= this.bounds.perPeer) return this.drop('per-peer', parsed.peer);
    const group = this.peerGroup.get(parsed.peer) ?? this.groupOf(parsed.peer);
    const evict: string[] = [];
    const providers = this.byKey.get(parsed.cid);
    if (providers !== undefined && providers.size >= this.bounds.perKey) {
      const victim = this.crowdedProvider(parsed.cid, providers, group);
      if (victim === undefined) return this.drop('per-key', parsed.peer);
      evict.push(victim);
    }
    if (this.count - evict.length >= this.bounds.total) {
      const victim = this.largestRecord(parsed.peer, group, evict);
      if (victim === undefined) return this.drop('full', parsed.peer);
      evict.push(victim);
    }
    if (evict.length > 0) this.events.evicted(evict.length);
    this.pendingGroup = { peer: parsed.peer, group };
    return evict;
  }

  /** The group admit() resolved for the record about to be added. */
  private pendingGroup: { peer: string; group: string } | undefined;

  /** Keys to delete to bring records found at open within the per-peer and total bounds. */
  excess(): string[] {
    const out: string[] = [];
    for (const held of this.byPeer.values()) {
      let over = held.size - this.bounds.perPeer;
      for (const key of held) if (over-- > 0) out.push(key);
    }
    for (const key of out) this.removed(key);
    while (this.count > this.bounds.total) {
      const victim = this.largestRecord('', '', []);
      if (victim === undefined) break;
      this.removed(victim);
      out.push(victim);
    }
    // removed() was applied here already; the caller's removed() calls are no-ops.
    return out;
  }

  /** Records a write admit() allowed (or one found at open: its group is LEGACY_GROUP). */
  added(key: string): void {
    const parsed = parseProviderKey(key);
    if (parsed === undefined || parsed.peer === this.self) return;
    let held = this.byPeer.get(parsed.peer);
    if (held === undefined) this.byPeer.set(parsed.peer, (held = new Set()));
    if (held.has(key)) return;
    held.add(key);
    let group = this.peerGroup.get(parsed.peer);
    if (group === undefined) {
      group = this.pendingGroup?.peer === parsed.peer ? this.pendingGroup.group : LEGACY_GROUP;
      this.peerGroup.set(parsed.peer, group);
      let members = this.groupPeers.get(group);
      if (members === undefined) this.groupPeers.set(group, (members = new Set()));
      members.add(parsed.peer);
    }
    this.pendingGroup = undefined;
    this.groupCount.set(group, (this.groupCount.get(group) ?? 0) + 1);
    let providers = this.byKey.get(parsed.cid);
    if (providers === undefined) this.byKey.set(parsed.cid, (providers = new Set()));
    providers.add(parsed.peer);
    this.count++;
  }

  /** Records a deletion (expiry, eviction, or kad-dht's own removal). */
  removed(key: string): void {
    const parsed = parseProviderKey(key);
    if (parsed === undefined) return;
    const held = this.byPeer.get(parsed.peer);
    if (held === undefined || !held.delete(key)) return;
    const group = this.peerGroup.get(parsed.peer) ?? LEGACY_GROUP;
    const n = (this.groupCount.get(group) ?? 1) - 1;
    if (n <= 0) this.groupCount.delete(group);
    else this.groupCount.set(group, n);
    if (held.size === 0) {
      this.byPeer.delete(parsed.peer);
      this.peerGroup.delete(parsed.peer);
      const members = this.groupPeers.get(group);
      members?.delete(parsed.peer);
      if (members?.size === 0) this.groupPeers.delete(group);
    }
    const providers = this.byKey.get(parsed.cid);
    providers?.delete(parsed.peer);
    if (providers?.size === 0) this.byKey.delete(parsed.cid);
    this.count--;
  }

  private drop(cap: ProviderRefusal, peer: string): string[] {
    this.events.refused(cap, peer);
    return [DROP];
  }

  /** A provider of `cid` from the group most represented among its providers, if that group has more there than `group` would. */
  private crowdedProvider(cid: string, providers: ReadonlySet<string>, group: string): string | undefined {
    const perGroup = new Map<string, string[]>();
    for (const peer of providers) {
      const peerGroup = this.peerGroup.get(peer) ?? LEGACY_GROUP;
      const list = perGroup.get(peerGroup);
      if (list === undefined) perGroup.set(peerGroup, [peer]);
      else list.push(peer);
    }
    let best: string[] | undefined;
    for (const [other, list] of perGroup) if (other !== group && (best === undefined || list.length > best.length)) best = list;
    const mine = perGroup.get(group)?.length ?? 0;
    if (best === undefined || best.length <= mine + 1) return undefined;
    // The first of them to have provided it (insertion order): the oldest claim gives way.
    return `${PROVIDER_PREFIX}${cid}/${best[0]!}`;
  }

  /** The oldest record of the largest peer of the largest group that holds more than the newcomer's would. */
  private largestRecord(newcomer: string, group: string, taken: readonly string[]): string | undefined {
    const mineGroup = (this.groupCount.get(group) ?? 0) + 1;
    let bestGroup: string | undefined;
    let bestCount = 0;
    for (const [other, count] of this.groupCount) if (other !== group && count > bestCount) [bestGroup, bestCount] = [other, count];
    if (bestGroup !== undefined && bestCount > mineGroup) return this.oldestOfLargestPeer(bestGroup, '', 0, taken);
    // Within the newcomer's own group: the largest other peer, if it holds more than the newcomer would.
    return this.oldestOfLargestPeer(group, newcomer, (this.byPeer.get(newcomer)?.size ?? 0) + 1, taken);
  }

  private oldestOfLargestPeer(group: string, exclude: string, moreThan: number, taken: readonly string[]): string | undefined {
    let best: Set<string> | undefined;
    for (const peer of this.groupPeers.get(group) ?? []) {
      if (peer === exclude) continue;
      const held = this.byPeer.get(peer);
      if (held !== undefined && held.size > moreThan && (best === undefined || held.size > best.size)) best = held;
    }
    for (const key of best ?? []) if (!taken.includes(key)) return key;
    return undefined;
  }

  private take(peer: string): boolean {
    const now = this.now();
    let bucket = this.rates.get(peer);
    if (bucket === undefined) {
      if (this.rates.size >= 10_000) this.rates.delete(this.rates.keys().next().value as string);
      bucket = { tokens: this.bounds.burst, at: now };
    } else this.rates.delete(peer);
    this.rates.set(peer, bucket);
    bucket.tokens = Math.min(this.bounds.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.bounds.perSecond);
    bucket.at = now;
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }
}

/** admit()'s answer for a record dropped without blame: do not write it. */
export const DROP = '\0drop';
