import { join } from 'node:path';
import { createLibp2p, type Libp2p } from 'libp2p';
import { tcp } from '@libp2p/tcp';
import { noise } from '@libp2p/noise';
import { yamux } from '@libp2p/yamux';
import { identify } from '@libp2p/identify';
import { ping } from '@libp2p/ping';
import { gossipsub, TopicValidatorResult, type GossipSub } from '@libp2p/gossipsub';
import { createTopicScoreParams } from '@libp2p/gossipsub/score';
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht';
import { mdns } from '@libp2p/mdns';
import { bootstrap } from '@libp2p/bootstrap';
import { uPnPNAT } from '@libp2p/upnp-nat';
import { autoNATv2 } from '@libp2p/autonat-v2';
import { circuitRelayServer, circuitRelayTransport, RELAY_V2_HOP_CODEC } from '@libp2p/circuit-relay-v2';
import { dcutr } from '@libp2p/dcutr';
import { isPrivate } from '@libp2p/utils';
import { P2pDatastore } from './p2p-datastore.js';
import { KEEP_ALIVE, type PeerId } from '@libp2p/interface';
import type { AddressManager, TransportManager } from '@libp2p/interface-internal';
import type { KadDHT, SingleKadDHT } from '@libp2p/kad-dht';
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import type { Logger } from 'pino';
import { createHash } from 'node:crypto';
import { ChorusError } from '../../src/errors.js';
import { pae } from '../../src/dsse/pae.js';
import { decodeBase64 } from '../../src/encoding/bytes.js';
import type { Decision } from '../../src/ingest/decide.js';
import type { LocalNode } from '../local/local-node.js';
import { loadOrCreatePeerKey } from './peer-key.js';
import { SyncIndex } from './sync-index.js';
import { SyncService, type SyncStats } from './sync.js';
import { Announcer, findHolders, type AnnouncerStats } from './providers.js';

/** The one gossip topic of attestations, versioned with the protocol. */
export const ATTESTATION_TOPIC = '/chorus/attestations/1';
/** A sync that fetches at most this many attestations relays them by gossip. */
const RELAY_SYNCED_MAX = 1000;
/** Gossip messages larger than this are dropped (an envelope is at most 64 KiB). */
const MAX_GOSSIP_MESSAGE = 70 * 1024;

type Pubsub = GossipSub & { getScore(peer: string): number; getMeshPeers(topic: string): string[] };

/** How often (and how soon after start) a node in relay mode "auto" checks whether it needs a relay. */
const RELAY_CHECK_MS = 60_000;
/** A lookup asks at most this many holders, and remembers a fruitless digest this long. */
const LOOKUP_HOLDERS = 3;
const LOOKUP_NEGATIVE_MS = 10 * 60_000;
const LOOKUP_CONCURRENCY = 4;

/** Whether peers on the internet can reach this node, and through which addresses. */
export interface Reachability {
  /**
   * public: an address outside private ranges was confirmed by peers dialing back (AutoNAT);
   * relayed: reachable through a circuit relay reservation; private: only on this machine or LAN.
   */
  readonly state: 'public' | 'relayed' | 'private';
  readonly addresses: { addr: string; type: string; verified: boolean }[];
  readonly upnp: boolean;
  readonly autonat: boolean;
  readonly relay: 'off' | 'auto' | 'always';
  readonly relayServer: boolean;
  readonly dcutr: boolean;
}

/** What asking the network about an unknown digest did. */
export interface Lookup {
  /** skipped: not asked (asked recently with no result, or too many lookups at once). */
  readonly outcome: 'asked' | 'skipped';
  readonly holders: number;
  readonly fetched: number;
  readonly accepted: number;
  readonly ms: number;
}

/** libp2p internals a node needs (address metadata, listening on a relay), via a service. */
interface Internals {
  addressManager: AddressManager;
  transportManager: TransportManager;
}

/**
 * The circuit relay service a node runs with net.relayServer: reservations without the
 * default 2-minute / 128 KiB limit, because a node behind NAT keeps receiving gossip through
 * its relay (attestation traffic is small); at most 32 reserved peers.
 */
export function chorusRelayServer() {
  return circuitRelayServer({ reservations: { maxReservations: 32, applyDefaultLimit: false } });
}

/** Everything the API and CLI show about a peer. */
export interface PeerInfo {
  readonly peerId: string;
  readonly addresses: string[];
  readonly latencyMs: number | null;
  readonly gossipScore: number;
  readonly direction: string;
  /** Whether the connection runs through a circuit relay. */
  readonly relayed: boolean;
}

/**
 * The message id gossip dedupes by: the attestation id (sha256 of PAE) when the data is an
 * envelope, so the same attestation published by two nodes is one message.
 */
function attestationMessageId(data: Uint8Array): Uint8Array {
  try {
    const env = JSON.parse(new TextDecoder().decode(data)) as { payloadType?: unknown; payload?: unknown };
    const payload = typeof env.payload === 'string' ? decodeBase64(env.payload) : undefined;
    if (typeof env.payloadType === 'string' && payload !== undefined) {
      // The same bytes the attestation id is the hash of (SPEC §7).
      return createHash('sha256').update(pae(env.payloadType, payload)).digest();
    }
  } catch {
    // not an envelope: fall through to a content hash
  }
  return createHash('sha256').update(data).digest();
}

/** Kademlia's k for the Chorus DHT (SPEC §13.3). */
export const DHT_K = 10;

/**
 * The node's libp2p side: gossip of attestations (validated by the one ingest path),
 * catch-up sync with every peer on connect and periodically, discovery (bootstrap, mDNS,
 * DHT with provider records for digests), NAT traversal (UPnP, AutoNAT v2, circuit relay,
 * DCUtR), and what the API reports about peers and reachability.
 */
export class Network {
  private timer: NodeJS.Timeout | undefined;
  private relayTimer: NodeJS.Timeout | undefined;
  private readonly syncing = new Set<string>();
  private stopped = false;
  private readonly lookedUp = new Map<string, number>();
  private lookups = 0;
  private relayListening = false;

  private constructor(
    readonly host: Libp2p<{ pubsub: Pubsub; ping: ReturnType<ReturnType<typeof ping>>; internals: Internals; dht?: KadDHT } & Record<string, unknown>>,
    private readonly node: LocalNode,
    readonly sync: SyncService,
    private readonly index: SyncIndex,
    private readonly log: Logger,
    private readonly fromNetwork: Set<string>,
    /** Ids a sync or a lookup is bringing in (announced in the DHT's slow lane). */
    private readonly synced: Set<string>,
    private readonly datastore: P2pDatastore,
    readonly announcer: Announcer | undefined,
  ) {}

  static async start(node: LocalNode, log: Logger): Promise<Network> {
    const cfg = node.config.net;
    const privateKey = await loadOrCreatePeerKey(join(node.home.root, 'peer.key'));
    // The peer store (known peers and their addresses) and the DHT's provider records
    // live in their own LevelDB beside the attestation store, so a restart keeps them.
    const datastore = new P2pDatastore(join(node.home.root, 'p2p'));
    await datastore.open();
    const peerDiscovery = [];
    if (cfg.bootstrap.length > 0) peerDiscovery.push(bootstrap({ list: cfg.bootstrap, timeout: 1000, tagName: `${KEEP_ALIVE}-bootstrap`, tagValue: 50 }));
    if (cfg.mdns) peerDiscovery.push(mdns({ interval: 10_000, serviceTag: '_chorus._udp.local' }));
    const listen = [...cfg.listen, ...(cfg.relay === 'always' ? ['/p2p-circuit'] : [])];
    let host: Network['host'];
    try {
      host = await createLibp2p({
        privateKey,
        datastore,
        addresses: { listen, announce: cfg.announce },
        transports: [tcp(), ...(cfg.relay === 'off' ? [] : [circuitRelayTransport({ reservationCompletionTimeout: 10_000 })])],
        connectionEncrypters: [noise()],
        streamMuxers: [yamux()],
        connectionManager: { maxConnections: cfg.maxConnections, dialTimeout: 10_000, inboundConnectionThreshold: 50 },
        peerDiscovery,
        services: {
          identify: identify(),
          ping: ping(),
          internals: (c: Internals) => ({ addressManager: c.addressManager, transportManager: c.transportManager }),
          pubsub: gossipsub({
            globalSignaturePolicy: 'StrictNoSign',
            msgIdFn: (msg) => attestationMessageId(msg.data),
            allowPublishToZeroTopicPeers: true,
            floodPublish: true,
            emitSelf: false,
            // Peer exchange: a peer pruned from a full mesh learns other peers to connect to,
            // so a network bootstrapped through one node does not stay a star.
            doPX: true,
            maxInboundDataLength: MAX_GOSSIP_MESSAGE,
            scoreParams: {
              IPColocationFactorWeight: 0,
              topics: {
                [ATTESTATION_TOPIC]: createTopicScoreParams({
                  topicWeight: 1,
                  // A Reject (invalid attestation) costs -10 × count²: two and a peer is graylisted.
                  invalidMessageDeliveriesWeight: -10,
                  invalidMessageDeliveriesDecay: 0.99,
                  timeInMeshWeight: 0.01,
                  timeInMeshQuantum: 1000,
                  timeInMeshCap: 10,
                  firstMessageDeliveriesWeight: 1,
                  firstMessageDeliveriesDecay: 0.9,
                  firstMessageDeliveriesCap: 10,
                  // Attestations are rare: do not punish quiet peers.
                  meshMessageDeliveriesWeight: 0,
                  meshFailurePenaltyWeight: 0,
                }),
              },
            },
            scoreThresholds: { gossipThreshold: -10, publishThreshold: -20, graylistThreshold: -30, acceptPXThreshold: 0, opportunisticGraftThreshold: 5 },
          }),
          // Server mode always, and every address kept (kad-dht's default drops private ones):
          // a LAN or loopback network has only private addresses, and its nodes must still
          // find each other; on the internet the dialer tries public and private in turn.
          // A query with an empty routing table waits for a peer: with zero peers allowed it
          // completes at once, and the relay's random walk then spins without yielding.
          // k = 10, not kad-dht's 20: every DHT answer carries k peers, each of which the
          // asking node files in its routing table and peer store, and a provider record goes
          // to the k closest nodes. k = 20 (sized for IPFS's hundreds of thousands of nodes)
          // made a provide cost most of a 20-node devnet's CPU; 10 replicas of a record that
          // is re-announced daily is plenty for networks of Chorus's size. alpha / disjoint
          // paths 3 (kad-dht's default is 10 / 10).
          ...(cfg.dht ? { dht: kadDHT({ protocol: '/chorus/kad/1.0.0', kBucketSize: DHT_K, alpha: 3, disjointPaths: 3, clientMode: false, peerInfoMapper: passthroughMapper, allowQueryWithZeroPeers: false }) } : {}),
          ...(cfg.upnp ? { upnp: uPnPNAT({ portMappingDescription: 'chorus' }) } : {}),
          ...(cfg.autonat ? { autonat: autoNATv2({ protocolPrefix: 'chorus' }) } : {}),
          ...(cfg.relayServer ? { relay: chorusRelayServer() } : {}),
          ...(cfg.dcutr && cfg.relay !== 'off' ? { dcutr: dcutr() } : {}),
        },
      }) as unknown as Network['host'];
    } catch (e) {
      await datastore.close();
      throw e;
    }

    const index = new SyncIndex();
    for await (const k of node.store.timeKeys()) index.add(k.t, k.id);
    const fromNetwork = new Set<string>();
    // What a sync brings in is relayed by gossip when it is a small difference (a healed
    // partition: the rest of each side learns it in seconds, not at the next periodic sync);
    // a large catch-up is not re-broadcast, the peers that lack it sync for themselves.
    const synced = new Set<string>();
    const sync = new SyncService(host as unknown as Libp2p, node.store, index, node.ingestor, log, (ids) => {
      for (const id of ids) synced.add(id);
      if (ids.length > RELAY_SYNCED_MAX) for (const id of ids) fromNetwork.add(id);
    });
    await sync.start();
    const dht = host.services.dht;
    const announcer = dht && cfg.providers ? new Announcer(dht, datastore, log, host.peerId.toString(), () => ((host.services.dht as SingleKadDHT | undefined)?.routingTable.size ?? 0) + 1, { quietMs: cfg.announceQuietSeconds * 1000 }) : undefined;
    const net = new Network(host, node, sync, index, log, fromNetwork, synced, datastore, announcer);
    net.wire();
    for (const addr of cfg.bootstrap) {
      const id = multiaddr(addr).getComponents().find((c) => c.name === 'p2p')?.value;
      if (id) await host.peerStore.merge(peerIdFromString(id), { tags: { [`${KEEP_ALIVE}-chorus`]: { value: 50 } } }).catch(() => undefined);
    }
    void net.redialKnown();
    if (announcer) void announcer.announceMissing(node.store.subjects()).catch((e: unknown) => log.warn({ err: e }, 'provider scan failed'));
    log.info({ peerId: host.peerId.toString(), listen: host.getMultiaddrs().map(String), syncKeys: index.size }, 'network started');
    return net;
  }

  private wire(): void {
    const ps = this.host.services.pubsub;
    ps.topicValidators.set(ATTESTATION_TOPIC, async (_from, msg) => {
      if (msg.data.byteLength > MAX_GOSSIP_MESSAGE) return TopicValidatorResult.Reject;
      const id = Buffer.from(attestationMessageId(msg.data)).toString('hex');
      this.fromNetwork.add(id);
      const d = await this.node.ingestor.ingest(msg.data);
      if (d.outcome !== 'accept') this.fromNetwork.delete(id);
      if (d.outcome === 'accept') return TopicValidatorResult.Accept;
      return d.outcome === 'ignore' ? TopicValidatorResult.Ignore : TopicValidatorResult.Reject;
    });
    ps.subscribe(ATTESTATION_TOPIC);
    // Every accepted attestation joins the sync set and its subjects are announced in the
    // DHT; those accepted here (API, CLI, import) are also published. What came from the
    // network is already on its way.
    this.node.ingestor.onCommitted((ds: readonly Decision[]) => {
      for (const d of ds) {
        if (d.outcome !== 'accept') continue;
        this.index.add(Math.floor(d.attestation.issuedAt / 1000), d.id);
        const gossiped = this.fromNetwork.delete(d.id);
        const synced = this.synced.delete(d.id);
        this.announcer?.activity();
        if (this.announcer) for (const s of d.attestation.subjects) this.announcer.enqueue(s, gossiped || synced ? 'network' : 'local');
        if (gossiped) continue;
        this.publish(new TextDecoder().decode(d.attestation.envelopeBytes)).catch((e: unknown) => this.log.warn({ err: e, id: d.id }, 'gossip publish failed'));
      }
    });
    if (this.node.config.net.syncOnConnect) this.host.addEventListener('peer:connect', (e) => void this.syncWith(e.detail));
    this.host.addEventListener('peer:connect', () => this.announcer?.peerConnected());
    this.host.addEventListener('peer:discovery', (e) => {
      if (this.host.getConnections(e.detail.id).length === 0) void this.host.dial(e.detail.id).catch(() => undefined);
    });
    this.timer = setInterval(() => {
      if (this.fromNetwork.size > 100_000) this.fromNetwork.clear(); // ids that never landed
      if (this.synced.size > 100_000) this.synced.clear();
      for (const p of this.host.getPeers()) void this.syncWith(p);
    }, this.node.config.net.syncIntervalSeconds * 1000);
    this.timer.unref();
    if (this.node.config.net.relay === 'auto') {
      this.relayTimer = setInterval(() => void this.relayIfNeeded(), RELAY_CHECK_MS);
      this.relayTimer.unref();
    }
  }

  /**
   * Relay "auto": when no public address is confirmed and some known peer is a relay, take
   * a reservation so peers on the internet can still reach this node (and DCUtR can then
   * try a direct connection). A node with a public address never does.
   */
  async relayIfNeeded(): Promise<boolean> {
    if (this.relayListening || this.stopped || this.reachability().state === 'public') return false;
    const relays = await this.host.peerStore.all({ filters: [(p) => p.protocols.includes(RELAY_V2_HOP_CODEC)], limit: 1 });
    if (relays.length === 0) return false;
    this.relayListening = true;
    try {
      await this.host.services.internals.transportManager.listen([multiaddr('/p2p-circuit')]);
      this.log.info('no public address confirmed: listening through a circuit relay');
      return true;
    } catch (e) {
      this.relayListening = false;
      this.log.debug({ err: e }, 'relay listen failed');
      return false;
    }
  }

  /** Dials peers this node knew before a restart (most recently successful first). */
  private async redialKnown(): Promise<void> {
    const known = (await this.host.peerStore.all()).filter((p) => p.addresses.length > 0 && !p.id.equals(this.host.peerId));
    const lastOk = (p: (typeof known)[number]): number => {
      const v = p.metadata.get('last-dial-success');
      return v ? Number(new TextDecoder().decode(v)) || 0 : 0;
    };
    known.sort((a, b) => lastOk(b) - lastOk(a));
    await Promise.all(known.slice(0, 16).map((p) => this.host.dial(p.id, { signal: AbortSignal.timeout(10_000) }).catch(() => undefined)));
  }

  /** Publishes an attestation accepted here to the network. */
  async publish(envelopeJson: string): Promise<number> {
    const r = await this.host.services.pubsub.publish(ATTESTATION_TOPIC, new TextEncoder().encode(envelopeJson));
    return r.recipients.length;
  }

  /** Catch-up sync with one peer; one at a time per peer; failures are logged, not thrown. */
  async syncWith(peer: PeerId): Promise<SyncStats | undefined> {
    const key = peer.toString();
    if (this.syncing.has(key) || this.stopped) return undefined;
    this.syncing.add(key);
    try {
      const stats = await this.sync.syncWith(peer);
      if (stats.fetched > 0) this.log.info({ peer: key, ...stats }, 'caught up from peer');
      return stats;
    } catch (e) {
      this.log.debug({ peer: key, err: e }, 'sync with peer failed');
      return undefined;
    } finally {
      this.syncing.delete(key);
    }
  }

  /**
   * Asks the network about a digest this node holds nothing about: the DHT's provider
   * records name the nodes that do, and a few of them are asked for what they hold, which
   * lands through the ingest path. Bounded: a time limit, a few lookups at once, and a
   * digest that found nothing is not asked about again for ten minutes.
   */
  async lookup(digest: string, timeoutMs = this.node.config.net.lookupTimeoutSeconds * 1000): Promise<Lookup> {
    const started = performance.now();
    const skipped: Lookup = { outcome: 'skipped', holders: 0, fetched: 0, accepted: 0, ms: 0 };
    const dht = this.host.services.dht;
    const last = this.lookedUp.get(digest);
    if (!dht || !this.node.config.net.providers || this.stopped || this.lookups >= LOOKUP_CONCURRENCY || (last !== undefined && Date.now() - last < LOOKUP_NEGATIVE_MS)) return skipped;
    this.lookups++;
    try {
      const signal = AbortSignal.timeout(timeoutMs);
      const holders = await findHolders(dht, this.host.peerId, digest, LOOKUP_HOLDERS, signal);
      let fetched = 0;
      let accepted = 0;
      await Promise.all(holders.map(async (peer) => {
        try {
          const s = await this.sync.fetchSubject(peer, digest, signal, (envelopes) => {
            for (const e of envelopes) {
              const id = Buffer.from(attestationMessageId(new TextEncoder().encode(e))).toString('hex');
              this.fromNetwork.add(id);
              this.synced.add(id);
            }
          });
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
      this.lookups--;
    }
  }

  async connect(addr: string): Promise<string> {
    let ma;
    try {
      ma = multiaddr(addr);
    } catch (e) {
      throw new ChorusError('bad_input', `not a multiaddr: "${addr.slice(0, 200)}" (${(e as Error).message})`);
    }
    try {
      const conn = await this.host.dial(ma, { signal: AbortSignal.timeout(10_000) });
      await this.host.peerStore.merge(conn.remotePeer, { tags: { [`${KEEP_ALIVE}-chorus`]: { value: 50 } } });
      return conn.remotePeer.toString();
    } catch (e) {
      throw new ChorusError('unavailable', `cannot connect to ${addr}: ${(e as Error).message}`);
    }
  }

  async peers(): Promise<PeerInfo[]> {
    const ps = this.host.services.pubsub;
    return this.host.getConnections().map((c) => ({
      peerId: c.remotePeer.toString(),
      addresses: [c.remoteAddr.toString()],
      latencyMs: c.rtt ?? null,
      gossipScore: ps.getScore(c.remotePeer.toString()),
      direction: c.direction,
      relayed: c.limits !== undefined || c.remoteAddr.toString().includes('/p2p-circuit'),
    }));
  }

  reachability(): Reachability {
    const cfg = this.node.config.net;
    const addrs = this.host.services.internals.addressManager.getAddressesWithMetadata();
    const circuit = (a: (typeof addrs)[number]) => a.multiaddr.toString().includes('/p2p-circuit');
    const state = addrs.some((a) => a.verified && !circuit(a) && isPrivate(a.multiaddr) === false)
      ? 'public'
      : addrs.some(circuit) ? 'relayed' : 'private';
    return {
      state,
      addresses: addrs.map((a) => ({ addr: a.multiaddr.toString(), type: a.type, verified: a.verified })),
      upnp: cfg.upnp,
      autonat: cfg.autonat,
      relay: cfg.relay,
      relayServer: cfg.relayServer,
      dcutr: cfg.dcutr && cfg.relay !== 'off',
    };
  }

  get providerStats(): AnnouncerStats | undefined {
    return this.announcer?.stats;
  }

  get peerId(): string {
    return this.host.peerId.toString();
  }

  get listenAddrs(): string[] {
    return this.host.getMultiaddrs().map(String);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.relayTimer) clearInterval(this.relayTimer);
    this.announcer?.stop();
    await this.host.stop();
    await this.datastore.close();
  }
}
