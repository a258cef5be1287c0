import { join } from 'node:path';
import { createLibp2p, type Libp2p } from 'libp2p';
import { tcp } from '@libp2p/tcp';
import { noise } from '@libp2p/noise';
import { yamux } from '@libp2p/yamux';
import { identify } from '@libp2p/identify';
import { ping } from '@libp2p/ping';
import { gossipsub, TopicValidatorResult, type GossipSub } from '@libp2p/gossipsub';
import { createTopicScoreParams } from '@libp2p/gossipsub/score';
import { kadDHT, removePublicAddressesMapper } from '@libp2p/kad-dht';
import { mdns } from '@libp2p/mdns';
import { bootstrap } from '@libp2p/bootstrap';
import { KEEP_ALIVE, type PeerId } from '@libp2p/interface';
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

/** The one gossip topic of attestations, versioned with the protocol. */
export const ATTESTATION_TOPIC = '/chorus/attestations/1';
/** A sync that fetches at most this many attestations relays them by gossip. */
const RELAY_SYNCED_MAX = 1000;
/** Gossip messages larger than this are dropped (an envelope is at most 64 KiB). */
const MAX_GOSSIP_MESSAGE = 70 * 1024;

type Pubsub = GossipSub & { getScore(peer: string): number; getMeshPeers(topic: string): string[] };

/** Everything the API and CLI show about a peer. */
export interface PeerInfo {
  readonly peerId: string;
  readonly addresses: string[];
  readonly latencyMs: number | null;
  readonly gossipScore: number;
  readonly direction: string;
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

/**
 * The node's libp2p side: gossip of attestations (validated by the one ingest path),
 * catch-up sync with every peer on connect and periodically, discovery (bootstrap, mDNS,
 * DHT), and what the API reports about peers.
 */
export class Network {
  private timer: NodeJS.Timeout | undefined;
  private readonly syncing = new Set<string>();
  private stopped = false;

  private constructor(
    readonly host: Libp2p<{ pubsub: Pubsub; ping: ReturnType<ReturnType<typeof ping>> } & Record<string, unknown>>,
    private readonly node: LocalNode,
    readonly sync: SyncService,
    private readonly index: SyncIndex,
    private readonly log: Logger,
    private readonly fromNetwork: Set<string>,
  ) {}

  static async start(node: LocalNode, log: Logger): Promise<Network> {
    const cfg = node.config.net;
    const privateKey = await loadOrCreatePeerKey(join(node.home.root, 'peer.key'));
    const peerDiscovery = [];
    if (cfg.bootstrap.length > 0) peerDiscovery.push(bootstrap({ list: cfg.bootstrap, timeout: 1000, tagName: `${KEEP_ALIVE}-bootstrap`, tagValue: 50 }));
    if (cfg.mdns) peerDiscovery.push(mdns({ interval: 10_000, serviceTag: '_chorus._udp.local' }));
    const host = await createLibp2p({
      privateKey,
      addresses: { listen: cfg.listen },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionManager: { maxConnections: cfg.maxConnections, dialTimeout: 10_000, inboundConnectionThreshold: 50 },
      peerDiscovery,
      services: {
        identify: identify(),
        ping: ping(),
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
        ...(cfg.dht ? { dht: kadDHT({ protocol: '/chorus/kad/1.0.0', clientMode: false, peerInfoMapper: removePublicAddressesMapper, allowQueryWithZeroPeers: true }) } : {}),
      },
    }) as unknown as Network['host'];

    const index = new SyncIndex();
    for await (const k of node.store.timeKeys()) index.add(k.t, k.id);
    const fromNetwork = new Set<string>();
    // What a sync brings in is relayed by gossip when it is a small difference (a healed
    // partition: the rest of each side learns it in seconds, not at the next periodic sync);
    // a large catch-up is not re-broadcast, the peers that lack it sync for themselves.
    const sync = new SyncService(host as unknown as Libp2p, node.store, index, node.ingestor, log, (ids) => {
      if (ids.length > RELAY_SYNCED_MAX) for (const id of ids) fromNetwork.add(id);
    });
    await sync.start();
    const net = new Network(host, node, sync, index, log, fromNetwork);
    net.wire();
    for (const addr of cfg.bootstrap) {
      const id = multiaddr(addr).getComponents().find((c) => c.name === 'p2p')?.value;
      if (id) await host.peerStore.merge(peerIdFromString(id), { tags: { [`${KEEP_ALIVE}-chorus`]: { value: 50 } } }).catch(() => undefined);
    }
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
    // Every accepted attestation joins the sync set; those accepted here (API, CLI, import)
    // are also published. What came from the network is already on its way.
    this.node.ingestor.onCommitted((ds: readonly Decision[]) => {
      for (const d of ds) {
        if (d.outcome !== 'accept') continue;
        this.index.add(Math.floor(d.attestation.issuedAt / 1000), d.id);
        if (this.fromNetwork.delete(d.id)) continue;
        this.publish(new TextDecoder().decode(d.attestation.envelopeBytes)).catch((e: unknown) => this.log.warn({ err: e, id: d.id }, 'gossip publish failed'));
      }
    });
    if (this.node.config.net.syncOnConnect) this.host.addEventListener('peer:connect', (e) => void this.syncWith(e.detail));
    this.host.addEventListener('peer:discovery', (e) => {
      if (this.host.getConnections(e.detail.id).length === 0) void this.host.dial(e.detail.id).catch(() => undefined);
    });
    this.timer = setInterval(() => {
      if (this.fromNetwork.size > 100_000) this.fromNetwork.clear(); // ids that never landed
      for (const p of this.host.getPeers()) void this.syncWith(p);
    }, this.node.config.net.syncIntervalSeconds * 1000);
    this.timer.unref();
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
    }));
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
    await this.host.stop();
  }
}
