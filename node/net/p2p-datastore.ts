import { LevelDatastore } from 'datastore-level';
import { Key, type Pair, type Query } from 'interface-datastore';
import { NotFoundError } from 'interface-store';

/** The libp2p peer store keeps one record per peer under this prefix. */
const PEERS = '/peers/';
/** Peer records changed in memory reach LevelDB at most this long after. */
export const PEER_FLUSH_MS = 5_000;

/**
 * Lets I/O and timers run. Code written against a datastore that always does I/O may loop
 * on it (walks, retries); answered from memory, such a loop would never yield.
 */
const yieldToLoop = (): Promise<void> => new Promise((r) => setImmediate(r));

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
 * store is involved. Everything else (the DHT's provider records, the announcer's markers)
 * is written through to LevelDB as before.
 */
export class P2pDatastore extends LevelDatastore {
  private readonly peers = new Map<string, Uint8Array>();
  /** Peer keys changed since the last flush: the new value, or null when deleted. */
  private readonly dirty = new Map<string, Uint8Array | null>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(path: string) {
    super(path);
  }

  private static isPeer(key: Key): boolean {
    return key.toString().startsWith(PEERS);
  }

  override async open(): Promise<void> {
    await super.open();
    for await (const { key, value } of super.query({ prefix: PEERS })) this.peers.set(key.toString(), value);
    this.timer = setInterval(() => void this.flush().catch(() => undefined), PEER_FLUSH_MS);
    this.timer.unref();
  }

  /** Number of peer records held (for tests and status). */
  get peerRecords(): number {
    return this.peers.size;
  }

  override async put(key: Key, value: Uint8Array, options?: AbortOptions): Promise<Key> {
    if (!P2pDatastore.isPeer(key)) return super.put(key, value, options);
    const k = key.toString();
    // A copy: the encoder's output may be a view of a buffer it reuses (LevelDB copies on
    // write; a Map keeps the reference).
    const copy = Uint8Array.prototype.slice.call(value);
    this.peers.set(k, copy);
    this.dirty.set(k, copy);
    return key;
  }

  override async get(key: Key, options?: AbortOptions): Promise<Uint8Array> {
    if (!P2pDatastore.isPeer(key)) return super.get(key, options);
    await yieldToLoop();
    const v = this.peers.get(key.toString());
    if (v === undefined) throw new NotFoundError(`no peer record ${key.toString()}`);
    return v;
  }

  override async has(key: Key, options?: AbortOptions): Promise<boolean> {
    if (!P2pDatastore.isPeer(key)) return super.has(key, options);
    await yieldToLoop();
    return this.peers.has(key.toString());
  }

  override async delete(key: Key, options?: AbortOptions): Promise<void> {
    if (!P2pDatastore.isPeer(key)) return super.delete(key, options);
    const k = key.toString();
    this.peers.delete(k);
    this.dirty.set(k, null);
  }

  /** Queries see every write: pending peer records are flushed first. */
  override async *query(q: Query, options?: AbortOptions): AsyncGenerator<Pair> {
    await this.flush();
    yield* super.query(q, options);
  }

  /** Writes the changed peer records to LevelDB in one batch. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      if (this.dirty.size === 0 || this.db.status !== 'open') return;
      const changes = [...this.dirty];
      this.dirty.clear();
      const b = super.batch();
      for (const [k, v] of changes) {
        if (v === null) b.delete(new Key(k));
        else b.put(new Key(k), v);
      }
      await b.commit();
    });
    return this.flushing;
  }

  override async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.flush().catch(() => undefined);
    await super.close();
  }
}
