import { LevelDatastore } from 'datastore-level';
import { Key, type Pair, type Query } from 'interface-datastore';
import { NotFoundError } from 'interface-store';
import type { PeerId } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { freeBytes, isNoSpace, REOPEN_FREE_BYTES } from '../store/disk-full.js';
import { DROP, PROVIDER_PREFIX, ProviderLimits } from './provider-limits.js';

/** The libp2p peer store keeps one record per peer under this prefix. */
const PEERS = '/peers/';
/** Peer records changed in memory reach LevelDB at most this long after. */
export const PEER_FLUSH_MS = 5_000;
/**
 * Records of peers not (yet) kept — strangers that connected and did nothing useful — live
 * in memory only, at most this many (the least recently written forgotten first).
 */
export const MAX_TRANSIENT_PEERS = 2_048;
/** Kept peers at most; past it the least recently useful goes back to transient (off the disk). */
export const MAX_KEPT_PEERS = 4_096;

/**
 * Lets I/O and timers run. Code written against a datastore that always does I/O may loop
 * on it (walks, retries); answered from memory, such a loop would never yield.
 */
const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

type AbortOptions = { signal?: AbortSignal };

/**
 * libp2p's datastore (p2p/ in the data dir): LevelDB, with the peer store's records held in
 * memory and written behind.
 *
 * Why: libp2p's persistent peer store reads the peer's record from the datastore and writes
 * it back (with a fresh "updated" time) on every stream a peer opens — every ping, every
 * DHT request, every sync. Measured in a 20-process devnet on two cores, those LevelDB
 * reads and writes were about half of an idle node's CPU. Here a read is a Map lookup and
 * the writes of a peer are coalesced into one LevelDB batch every few seconds (and at
 * close). A crash loses at most the last seconds of peer bookkeeping (addresses, tags,
 * latency), which identify and the next connection restore; nothing of the attestation
 * store is involved. Everything else (the announcer's markers, the DHT's provider records,
 * the latter within the bounds of provider-limits.ts) is written through to LevelDB.
 *
 * Only the records of peers the network has kept (network.ts: a peer this node dialled, one
 * that completed a sync or delivered an accepted attestation, and every peer already on disk)
 * are written to LevelDB. A flood of fresh peer ids that connect and do nothing leaves no
 * trace on disk, and at most MAX_TRANSIENT_PEERS records in memory.
 */
export class P2pDatastore extends LevelDatastore {
  private readonly peers = new Map<string, Uint8Array>();
  /** Peer keys written to LevelDB (or to be): the others are transient. */
  private readonly kept = new Set<string>();
  /** Transient peer keys, least recently written first. */
  private readonly transient = new Set<string>();
  /** Peer keys changed since the last flush: the new value, or null when deleted. */
  private readonly dirty = new Map<string, Uint8Array | null>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  /**
   * A write ran out of disk space: LevelDB keeps that error for every later write until the
   * database is reopened (as the attestation store found), so the flush timer reopens it
   * once the file system has room again.
   */
  private full = false;
  /** Reopens done after a full disk (tests, status). */
  reopens = 0;

  constructor(
    private readonly location: string,
    readonly providers: ProviderLimits = new ProviderLimits(),
  ) {
    super(location);
  }

  /** Whether writes are failing for lack of disk space (until the next reopen). */
  get isFull(): boolean {
    return this.full;
  }

  /** Notes a write's failure (a full disk is remembered) and passes it on. */
  private failed(e: unknown): never {
    if (isNoSpace(e)) this.full = true;
    throw e;
  }

  /** After a full disk: reopens the database once there is room (from the flush timer). */
  private async recover(): Promise<void> {
    if (!this.full || (await freeBytes(this.location)) < REOPEN_FREE_BYTES) return;
    await this.db.close();
    await this.db.open();
    this.full = false;
    this.reopens++;
  }

  private static isPeer(key: Key): boolean {
    return key.toString().startsWith(PEERS);
  }

  override async open(): Promise<void> {
    await super.open();
    for await (const { key, value } of super.query({ prefix: PEERS })) {
      this.peers.set(key.toString(), value);
      this.kept.add(key.toString());
    }
    // Provider records stored before the bounds (or under looser ones) are brought within them.
    for await (const key of super.queryKeys({ prefix: PROVIDER_PREFIX })) this.providers.added(key.toString());
    const excess = this.providers.excess();
    for (const key of excess) {
      await super.delete(new Key(key));
      this.providers.removed(key);
    }
    this.timer = setInterval(() => void this.flush().catch(() => undefined), PEER_FLUSH_MS);
    this.timer.unref();
  }

  /** Number of peer records held (for tests and status). */
  get peerRecords(): number {
    return this.peers.size;
  }

  /** Number of peer records written (or to be written) to LevelDB. */
  get keptPeerRecords(): number {
    return this.kept.size;
  }

  /** keep() for a peer id (a string is parsed; one that is not a peer id is ignored). */
  keepPeer(peer: PeerId | string): void {
    let id: PeerId;
    try {
      id = typeof peer === 'string' ? peerIdFromString(peer) : peer;
    } catch {
      return;
    }
    this.keep(`${PEERS}${id.toCID().toString()}`);
  }

  /** Persists the record of a peer from now on (the key the peer store uses: /peers/<cid>). */
  keep(peerKey: string): void {
    if (this.kept.delete(peerKey)) {
      this.kept.add(peerKey); // most recently useful last
      return;
    }
    this.kept.add(peerKey);
    this.transient.delete(peerKey);
    const entry = this.peers.get(peerKey);
    if (entry !== undefined) this.dirty.set(peerKey, entry);
    if (this.kept.size > MAX_KEPT_PEERS) {
      const oldest = this.kept.values().next().value as string;
      this.kept.delete(oldest);
      this.dirty.set(oldest, null);
      if (this.peers.has(oldest)) this.transient.add(oldest);
    }
  }

  override async put(key: Key, value: Uint8Array, options?: AbortOptions): Promise<Key> {
    if (!P2pDatastore.isPeer(key)) return this.putThrough(key, value, options);
    const keyText = key.toString();
    // A copy: the encoder's output may be a view of a buffer it reuses (LevelDB copies on
    // write; a Map keeps the reference).
    const copy = Uint8Array.prototype.slice.call(value);
    this.peers.set(keyText, copy);
    if (this.kept.has(keyText)) this.dirty.set(keyText, copy);
    else {
      this.transient.delete(keyText);
      this.transient.add(keyText);
      if (this.transient.size > MAX_TRANSIENT_PEERS) {
        const oldest = this.transient.values().next().value as string;
        this.transient.delete(oldest);
        this.peers.delete(oldest);
      }
    }
    return key;
  }

  /** Writes other than peer records, provider records within their bounds (provider-limits.ts). */
  private async putThrough(key: Key, value: Uint8Array, options?: AbortOptions): Promise<Key> {
    const keyText = key.toString();
    if (!keyText.startsWith(PROVIDER_PREFIX)) return super.put(key, value, options).catch((e: unknown) => this.failed(e));
    const evict = this.providers.admit(keyText);
    if (evict[0] === DROP) return key;
    try {
      for (const evicted of evict) {
        await super.delete(new Key(evicted), options);
        this.providers.removed(evicted);
      }
      await super.put(key, value, options);
    } catch (e) {
      this.failed(e);
    }
    this.providers.added(keyText);
    return key;
  }

  override async get(key: Key, options?: AbortOptions): Promise<Uint8Array> {
    if (!P2pDatastore.isPeer(key)) return super.get(key, options);
    await yieldToLoop();
    const entry = this.peers.get(key.toString());
    if (entry === undefined) throw new NotFoundError(`no peer record ${key.toString()}`);
    return entry;
  }

  override async has(key: Key, options?: AbortOptions): Promise<boolean> {
    if (!P2pDatastore.isPeer(key)) return super.has(key, options);
    await yieldToLoop();
    return this.peers.has(key.toString());
  }

  override async delete(key: Key, options?: AbortOptions): Promise<void> {
    const keyText = key.toString();
    if (!P2pDatastore.isPeer(key)) {
      await super.delete(key, options).catch((e: unknown) => this.failed(e));
      this.providers.removed(keyText);
      return;
    }
    this.peers.delete(keyText);
    this.transient.delete(keyText);
    if (this.kept.delete(keyText)) this.dirty.set(keyText, null);
  }

  /**
   * Queries see every write: pending peer records are flushed first, and a query of peer
   * records also yields the transient ones (from memory).
   */
  override async *query(query: Query, options?: AbortOptions): AsyncGenerator<Pair> {
    // Unflushed records (a full disk) are still answered from memory below when transient;
    // kept ones wait for the next flush.
    await this.flush().catch(() => undefined);
    let n = 0;
    for await (const pair of super.query(query, options)) {
      n++;
      yield pair;
    }
    if (this.transient.size === 0 || (query.limit !== undefined && n >= query.limit) || (query.prefix !== undefined && !query.prefix.startsWith(PEERS) && !PEERS.startsWith(query.prefix))) return;
    for (const key of [...this.transient]) {
      const value = this.peers.get(key);
      if (value === undefined || (query.prefix !== undefined && !key.startsWith(query.prefix))) continue;
      const pair = { key: new Key(key), value };
      if (!(query.filters ?? []).every((filter) => filter(pair))) continue;
      yield pair;
      if (query.limit !== undefined && ++n >= query.limit) return;
    }
  }

  /** Writes the changed peer records to LevelDB in one batch. */
  flush(): Promise<void> {
    // A failed flush (a full disk) fails only itself: the next one starts afresh and writes
    // what the failed one could not.
    this.flushing = this.flushing.catch(() => undefined).then(async () => {
      await this.recover();
      if (this.dirty.size === 0 || this.db.status !== 'open') return;
      const changes = [...this.dirty];
      this.dirty.clear();
      const batch = super.batch();
      for (const [key, value] of changes) {
        if (value === null) batch.delete(new Key(key));
        else batch.put(new Key(key), value);
      }
      try {
        await batch.commit();
      } catch (e) {
        for (const [key, value] of changes) if (!this.dirty.has(key)) this.dirty.set(key, value);
        this.failed(e);
      }
    });
    return this.flushing;
  }

  override async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.flush().catch(() => undefined);
    await super.close();
  }
}
