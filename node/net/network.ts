import { KEEP_ALIVE, type PeerId } from '@libp2p/interface';
import type { SingleKadDHT } from '@libp2p/kad-dht';
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { ChorusError } from '../../src/errors.js';
import type { Decision } from '../../src/ingest/decide.js';
import { classifyIp, remoteIp } from '../ingest/address.js';
import type { Origin } from '../ingest/origin.js';
import type { LocalNode } from '../local/local-node.js';
import type { Budget } from '../service/contract.js';
import { BLOCK_MS } from './constants.js';
import { ConnectionGate, type GateBounds } from './connection-gate.js';
import { createHost, type Host } from './host.js';
import { NetMetrics } from './net-metrics.js';
import { DEFAULT_PROVIDER_BOUNDS, ProviderLimits, type ProviderBounds } from './provider-limits.js';
import { Gossip } from './gossip.js';
import { Lookups, type Lookup } from './lookup.js';
import { loadOrCreatePeerKey } from './peer-key.js';
import { PeerPenalties } from './peer-penalties.js';
import { P2pDatastore } from './p2p-datastore.js';
import { Announcer, type AnnouncerStats } from './providers.js';
import { ReachabilityService, type Reachability } from './reachability.js';
import { SyncIndex } from './sync-index.js';
import { SyncService, type SyncStats } from './sync.js';
import { LogSync } from './log-sync.js';
import type { Mirror } from '../tlog/mirror.js';
import type { OwnLog } from '../tlog/own-log.js';

export { ATTESTATION_TOPIC } from './constants.js';
export { chorusRelayServer } from './host.js';
export type { Lookup, Reachability };

/** Everything the API and CLI show about a peer. */
export interface PeerInfo {
  readonly peerId: string;
  readonly addresses: string[];
  readonly latencyMs: number | null;
  readonly gossipScore: number;
  /** inbound, outbound, or both. */
  readonly direction: string;
  /** Whether every connection to it runs through a circuit relay. */
  readonly relayed: boolean;
  /** When the last catch-up sync with it finished, and how many attestations it fetched. */
  readonly lastSync: { readonly at: string; readonly fetched: number } | null;
}

/**
 * The node's libp2p side, a front over its parts: the host (host.ts), gossip validated by
 * the one ingest path (gossip.ts), catch-up sync (sync.ts) on connect and periodically,
 * lookups of unknown digests through DHT provider records (lookup.ts, providers.ts),
 * reachability and relays (reachability.ts), and penalties for peers that abuse them.
 */
export class Network {
  private timer: NodeJS.Timeout | undefined;
  private readonly syncing = new Set<string>();
  /** The last finished catch-up sync per peer (most recent 1,024 peers). */
  private readonly lastSync = new Map<string, { at: number; fetched: number }>();
  private stopped = false;
  /** Issuer logs between nodes (log-sync.ts), when the daemon keeps them. */
  logSync: LogSync | undefined;

  private constructor(
    readonly host: Host,
    private readonly node: LocalNode,
    readonly sync: SyncService,
    private readonly gossip: Gossip,
    private readonly lookups: Lookups,
    private readonly reach: ReachabilityService,
    readonly penalties: PeerPenalties,
    private readonly log: Logger,
    private readonly datastore: P2pDatastore,
    readonly announcer: Announcer | undefined,
    readonly gate: ConnectionGate,
    readonly metrics: NetMetrics,
  ) {}

  /** `registry`: the node's Prometheus registry, for the network's metrics (net-metrics.ts). */
  static async start(node: LocalNode, log: Logger, registry?: Registry, logs?: { mirror: Mirror; ownLog: OwnLog | undefined }): Promise<Network> {
    const cfg = node.config.net;
    const privateKey = await loadOrCreatePeerKey(node.home.peerKey);
    let host: Host | undefined;
    const gateBounds: GateBounds = { perIpPerMinute: cfg.inboundPerIpPerMinute, perIpBurst: Math.max(1, Math.ceil(cfg.inboundPerIpPerMinute / 15)), totalPerMinute: cfg.inboundPerMinute, totalBurst: Math.max(1, Math.ceil(cfg.inboundPerMinute / 20)), perIpOpen: cfg.maxInboundPerIp, suspectPerMinute: 60, suspectBurst: 3, gateLoopback: cfg.gateLoopback };
    const providerBounds: ProviderBounds = { ...DEFAULT_PROVIDER_BOUNDS, perPeer: cfg.providerRecordsPerPeer, total: cfg.providerRecords };
    const metrics = new NetMetrics(registry, {
      connections: () => {
        const counts = { inbound: 0, outbound: 0 };
        for (const conn of host?.getConnections() ?? []) counts[conn.direction]++;
        return counts;
      },
      providerRecords: () => ({ records: providers.size, peers: providers.peers }),
      peerRecords: () => ({ memory: datastore.peerRecords, kept: datastore.keptPeerRecords }),
      blocked: () => penalties.blockedCount,
    });
    const gate = new ConnectionGate(gateBounds, (why) => metrics.connectionsRefused.inc({ reason: why }));
    // A peer blocked for abuse: its connections are closed, and the addresses they came
    // from are paced before the handshake while the block lasts (connection-gate.ts).
    const penalties = new PeerPenalties(log, (peer) => {
      metrics.blocks.inc();
      const conns = host?.getConnections(peerIdFromString(peer)) ?? [];
      for (const conn of conns) gate.blockedFrom(conn.remoteAddr, Date.now() + BLOCK_MS);
      if (conns.length > 0) metrics.disconnects.inc();
      void Promise.resolve(host?.hangUp(peerIdFromString(peer))).catch(() => undefined);
    });
    const abuse = penalties.abuse.bind(penalties);
    penalties.abuse = (peer: string, why: string): void => {
      metrics.penalties.inc({ why });
      abuse(peer, why);
    };
    // A peer whose provider records are refused for its rate is told of as an abuser every
    // 50th time: an honest node announcing in bulk is paced, a flood is blocked. Records
    // dropped for what others hold (a full table, a crowded digest) are no one's fault.
    const providerRefusals = new Map<string, number>();
    const providers = new ProviderLimits(providerBounds, {
      refused: (cap, peer) => {
        metrics.providerRefused.inc({ cap });
        if (cap !== 'rate') return;
        const n = (providerRefusals.get(peer) ?? 0) + 1;
        providerRefusals.delete(peer);
        if (providerRefusals.size >= 10_000) providerRefusals.delete(providerRefusals.keys().next().value as string);
        providerRefusals.set(peer, n);
        if (n % 50 === 0) penalties.abuse(peer, 'dht: provider records over rate');
      },
      evicted: (n) => metrics.providerEvictions.inc(n),
    }, Date.now, (peer) => {
      // The network the sender is connected from (address.ts); loopback and unknown: one group.
      try {
        const ipClass = classifyIp(remoteIp(host?.getConnections(peerIdFromString(peer)).map((conn) => conn.remoteAddr.toString()) ?? []) ?? '');
        return ipClass === undefined || ipClass.kind === 'loopback' ? 'unknown' : ipClass.network;
      } catch {
        return 'unknown';
      }
    });
    // The peer store (known peers and their addresses) and the DHT's provider records
    // live in their own LevelDB beside the attestation store, so a restart keeps them.
    const datastore = new P2pDatastore(node.home.p2p, providers);
    await datastore.open();
    const ds = datastore;
    try {
      host = await createHost({
        net: cfg, privateKey, datastore, gate, appScore: (peer) => penalties.score(peer),
        denied: (peer) => {
          const no = penalties.isBlocked(peer.toString());
          if (no) metrics.connectionsRefused.inc({ reason: 'blocked-peer' });
          return no;
        },
      });
      providers.setSelf(host.peerId.toString());
      // Kept on disk (p2p-datastore.ts): peers named in the config or by `chorus connect`,
      // and peers that delivered something accepted (below). Not every peer this node
      // dials: a stranger's DHT answer names peers too.
      host.addEventListener('connection:open', (event) => {
        if (event.detail.direction === 'inbound') gate.opened(event.detail.remoteAddr);
      });
      host.addEventListener('connection:close', (event) => {
        if (event.detail.direction === 'inbound') gate.closed(event.detail.remoteAddr);
      });

      // The live (time, id) set: expired attestations are left out, evicted and collected ones leave.
      const index = new SyncIndex();
      const expiries = new Map<string, number>();
      for await (const expiry of node.store.expiryKeys()) expiries.set(expiry.id, expiry.expiresAt);
      for await (const key of node.store.timeKeys()) index.add(key.t, key.id, expiries.get(key.id));
      expiries.clear();
      node.store.onRemoved((removed) => {
        for (const entry of removed) index.remove(entry.t, entry.id);
      });

      const sync = new SyncService(host, node.store, index, node.ingestor, log, (peer, why) => penalties.abuse(peer.toString(), `sync: ${why}`), (outcome, units) => {
        metrics.syncRequests.inc({ outcome });
        if (units > 0) metrics.syncUnits.inc(units);
      });
      const gossip = new Gossip(host.services.pubsub, node.ingestor, log, (result, code, bytes, peer) => {
        metrics.gossip.inc({ result, code });
        metrics.gossipBytes.inc(bytes);
        // A peer that delivered an attestation this node accepted is worth remembering.
        if (result === 'accept') ds.keepPeer(peer);
      });
      const dht = host.services.dht;
      const announcer = dht && cfg.providers ? new Announcer(dht, datastore, log, host.peerId.toString(), () => ((host?.services.dht as SingleKadDHT | undefined)?.routingTable.size ?? 0) + 1, { quietMs: cfg.announceQuietSeconds * 1000 }) : undefined;
      const net = new Network(host, node, sync, gossip, new Lookups(dht, host.peerId, sync, cfg, log), new ReachabilityService(host, cfg, log), penalties, log, datastore, announcer, gate, metrics);
      net.logSync = logs ? new LogSync(host, host.services.pubsub, logs.mirror, logs.ownLog, sync, node.store, log, (peer, why) => penalties.abuse(peer, why)) : undefined;

      // Handlers before the first dial: a peer redialled at start can sync at once.
      await sync.start();
      gossip.register();
      await net.logSync?.register();
      net.wire(index);
      await host.start();
      gossip.subscribe();
      net.logSync?.start();
      net.reach.start();
      for (const addr of cfg.bootstrap) {
        const id = multiaddr(addr).getComponents().find((component) => component.name === 'p2p')?.value;
        if (id) {
          await host.peerStore.merge(peerIdFromString(id), { tags: { [`${KEEP_ALIVE}-chorus`]: { value: 50 } } }).catch(() => undefined);
          ds.keepPeer(id);
        }
      }
      void net.redialKnown();
      if (announcer) void announcer.announceMissing(node.store.subjects()).catch((e: unknown) => log.warn({ err: e }, 'provider scan failed'));
      log.info({ peerId: host.peerId.toString(), listen: host.getMultiaddrs().map(String), syncKeys: index.size }, 'network started');
      return net;
    } catch (e) {
      await Promise.resolve(host?.stop()).catch(() => undefined);
      await ds.close();
      throw e;
    }
  }

  private wire(index: SyncIndex): void {
    // The new-issuer caps per address and network (admission.ts) need the address a peer's
    // input came from: its connection's remote IP, looked up when the input arrives.
    this.node.ingestor.setPeerAddress((peer) => remoteIp(this.host.getConnections(peerIdFromString(peer)).map((conn) => conn.remoteAddr.toString())));
    // Every accepted attestation joins the sync set and its subjects are announced in the
    // DHT; those accepted here (API, CLI, import) are also published. What came from the
    // network is already on its way.
    this.node.ingestor.onCommitted((ds: readonly Decision[], origins: readonly Origin[]) => {
      ds.forEach((decision, i) => {
        if (decision.outcome !== 'accept') return;
        const attestation = decision.attestation;
        index.add(Math.floor(attestation.issuedAt / 1000), decision.id, attestation.kind === 'retraction' ? undefined : attestation.expiresAt);
        if (this.announcer) {
          this.announcer.activity();
          const lane = (origins[i]?.via ?? 'local') === 'local' ? 'local' : 'network';
          for (const subject of attestation.subjects) this.announcer.enqueue(subject, lane);
        }
      });
      this.gossip.onCommitted(ds, origins);
    });
    if (this.node.config.net.syncOnConnect) this.host.addEventListener('peer:connect', (event) => void this.syncWith(event.detail));
    this.host.addEventListener('peer:connect', () => this.announcer?.peerConnected());
    // Peers discovered (mDNS, the DHT: a stranger's answer names peers too) are dialled at
    // most one a second (bursts of 10), and not once the connection limit is near.
    const dials = { tokens: 10, at: Date.now() };
    this.host.addEventListener('peer:discovery', (event) => {
      if (this.host.getConnections(event.detail.id).length > 0 || this.host.getConnections().length >= this.node.config.net.maxConnections * 0.9) return;
      const now = Date.now();
      dials.tokens = Math.min(10, dials.tokens + (now - dials.at) / 1000);
      dials.at = now;
      if (dials.tokens < 1) return;
      dials.tokens -= 1;
      void this.host.dial(event.detail.id).catch(() => undefined);
    });
    this.timer = setInterval(() => {
      for (const peer of this.host.getPeers()) void this.syncWith(peer);
    }, this.node.config.net.syncIntervalSeconds * 1000);
    this.timer.unref();
  }

  /** Dials peers this node knew before a restart (most recently successful first). */
  private async redialKnown(): Promise<void> {
    const known = (await this.host.peerStore.all()).filter((peer) => peer.addresses.length > 0 && !peer.id.equals(this.host.peerId));
    const lastOk = (peer: (typeof known)[number]): number => {
      const value = peer.metadata.get('last-dial-success');
      return value ? Number(new TextDecoder().decode(value)) || 0 : 0;
    };
    known.sort((a, b) => lastOk(b) - lastOk(a));
    await Promise.all(known.slice(0, 16).map((peer) => this.host.dial(peer.id, { signal: AbortSignal.timeout(10_000) }).catch(() => undefined)));
  }

  /** Publishes an attestation accepted here to the network. */
  publish(envelopeJson: string): Promise<number> {
    return this.gossip.publish(envelopeJson);
  }

  /** Catch-up sync with one peer; one at a time per peer; failures are logged, not thrown. */
  async syncWith(peer: PeerId): Promise<SyncStats | undefined> {
    const key = peer.toString();
    if (this.syncing.has(key) || this.stopped) return undefined;
    this.syncing.add(key);
    try {
      const stats = await this.sync.syncWith(peer);
      // A peer that gave this node attestations it accepted is worth remembering.
      if (stats.accepted > 0) this.datastore.keepPeer(peer);
      this.lastSync.delete(key);
      this.lastSync.set(key, { at: Date.now(), fetched: stats.fetched });
      if (this.lastSync.size > 1024) this.lastSync.delete(this.lastSync.keys().next().value!);
      if (stats.fetched > 0) this.log.info({ peer: key, ...stats }, 'caught up from peer');
      return stats;
    } catch (e) {
      this.log.debug({ peer: key, err: e }, 'sync with peer failed');
      return undefined;
    } finally {
      this.syncing.delete(key);
    }
  }

  /** Asks the network about a digest this node holds nothing about (lookup.ts). */
  lookup(digest: string, timeoutMs?: number): Promise<Lookup> {
    return this.lookups.lookup(digest, timeoutMs);
  }

  relayIfNeeded(): Promise<boolean> {
    return this.reach.relayIfNeeded();
  }

  reachability(): Reachability {
    return this.reach.report();
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
      this.datastore.keepPeer(conn.remotePeer);
      return conn.remotePeer.toString();
    } catch (e) {
      throw new ChorusError('unavailable', `cannot connect to ${addr}: ${(e as Error).message}`);
    }
  }

  /** One entry per peer, however many connections it has (an inbound and an outbound one, say). */
  async peers(): Promise<PeerInfo[]> {
    const ps = this.host.services.pubsub;
    const byPeer = new Map<string, { -readonly [K in keyof PeerInfo]: PeerInfo[K] }>();
    for (const conn of this.host.getConnections()) {
      const id = conn.remotePeer.toString();
      const addr = conn.remoteAddr.toString();
      const relayed = conn.limits !== undefined || addr.includes('/p2p-circuit');
      const rtt = conn.rtt ?? null;
      const seen = byPeer.get(id);
      if (seen === undefined) {
        const last = this.lastSync.get(id);
        byPeer.set(id, { peerId: id, addresses: [addr], latencyMs: rtt, gossipScore: ps.getScore(id), direction: conn.direction, relayed, lastSync: last ? { at: new Date(last.at).toISOString(), fetched: last.fetched } : null });
        continue;
      }
      if (!seen.addresses.includes(addr)) seen.addresses.push(addr);
      if (seen.direction !== conn.direction) seen.direction = 'both';
      if (rtt !== null && (seen.latencyMs === null || rtt < seen.latencyMs)) seen.latencyMs = rtt;
      // Relayed only when every connection to it is.
      seen.relayed = seen.relayed && relayed;
    }
    return [...byPeer.values()];
  }

  /** The network's budgets and their use now (SPEC §14; `chorus status`). */
  budgets(): Budget[] {
    const cfg = this.node.config.net;
    const conns = this.host.getConnections();
    const sync = this.sync.budgetUse();
    return [
      { name: 'connections', used: conns.length, limit: cfg.maxConnections, unit: 'connections', config: 'net.maxConnections' },
      { name: 'inbound connections from one address (most)', used: this.gate.maxOpenPerAddress, limit: cfg.maxInboundPerIp, unit: 'connections', config: 'net.maxInboundPerIp' },
      { name: 'DHT provider records', used: this.datastore.providers.size, limit: cfg.providerRecords, unit: 'records', config: 'net.providerRecords' },
      { name: 'sync serving (all peers)', used: sync.used, limit: sync.limit, unit: 'units/min' },
    ];
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
    this.logSync?.stop();
    this.reach.stop();
    this.lookups.stop();
    this.announcer?.stop();
    await this.host.stop();
    await this.datastore.close();
  }
}
