import { Counter, Gauge, Registry } from 'prom-client';

/**
 * The network's metrics, typed per subsystem (gossip, sync, penalties, connections, DHT,
 * peer store), on the node's registry (or a registry of their own when the network runs
 * without one, as in tests). Every budget of SPEC §14 that the network enforces shows what
 * it let through and what it refused.
 */
export class NetMetrics {
  readonly gossip: Counter<'result' | 'code'>;
  readonly gossipBytes: Counter;
  readonly syncRequests: Counter<'outcome'>;
  readonly syncUnits: Counter;
  readonly penalties: Counter<'why'>;
  readonly blocks: Counter;
  readonly disconnects: Counter;
  readonly connectionsRefused: Counter<'reason'>;
  readonly providerRefused: Counter<'cap'>;
  readonly providerEvictions: Counter;

  constructor(
    readonly registry: Registry = new Registry(),
    sample: {
      connections(): { inbound: number; outbound: number };
      providerRecords(): { records: number; peers: number };
      peerRecords(): { memory: number; kept: number };
      blocked(): number;
    },
  ) {
    const registers = [registry];
    /** A gauge read from the network when scraped. */
    const sampled = (name: string, help: string, read: () => number): void => void new Gauge({
      name, help, registers,
      collect() {
        this.set(read());
      },
    });
    this.gossip = new Counter({ name: 'chorus_gossip_messages_total', help: 'Gossip messages validated, by gossipsub result (accept, ignore, reject) and ingest code (rate_limited: over the peer\'s message or byte rate)', labelNames: ['result', 'code'], registers });
    this.gossipBytes = new Counter({ name: 'chorus_gossip_bytes_total', help: 'Bytes of gossip messages validated', registers });
    this.syncRequests = new Counter({ name: 'chorus_sync_requests_total', help: 'Sync requests served, by outcome: served, busy (over the work budget), refused (malformed or abusive)', labelNames: ['outcome'], registers });
    this.syncUnits = new Counter({ name: 'chorus_sync_units_total', help: 'Sync work units charged to peers (SPEC §14.1)', registers });
    this.penalties = new Counter({ name: 'chorus_peer_penalties_total', help: 'Abuses held against peers, by protocol and reason', labelNames: ['why'], registers });
    this.blocks = new Counter({ name: 'chorus_peer_blocks_total', help: 'Peers disconnected and refused for a while for abuse', registers });
    this.disconnects = new Counter({ name: 'chorus_peer_disconnects_total', help: 'Connections closed by this node for abuse', registers });
    this.connectionsRefused = new Counter({ name: 'chorus_connections_refused_total', help: 'Inbound connections refused before the handshake, by reason (ip-rate, network-rate, rate, ip-open, blocked-address) or after it (blocked-peer)', labelNames: ['reason'], registers });
    this.providerRefused = new Counter({ name: 'chorus_dht_provider_records_refused_total', help: 'DHT provider records not stored, by bound (rate: refused, with blame; per-peer, per-key, full: dropped)', labelNames: ['cap'], registers });
    this.providerEvictions = new Counter({ name: 'chorus_dht_provider_records_evicted_total', help: 'DHT provider records evicted to make room (max-min by network, then peer)', registers });
    new Gauge({
      name: 'chorus_connections', help: 'Open libp2p connections by direction', labelNames: ['direction'], registers,
      collect() {
        const c = sample.connections();
        this.set({ direction: 'inbound' }, c.inbound);
        this.set({ direction: 'outbound' }, c.outbound);
      },
    });
    sampled('chorus_dht_provider_records', 'DHT provider records held for other peers', () => sample.providerRecords().records);
    sampled('chorus_dht_provider_peers', 'Peers with provider records held here', () => sample.providerRecords().peers);
    new Gauge({
      name: 'chorus_peer_records', help: 'Peer store records: kept (on disk) and in memory (kept plus transient strangers)', labelNames: ['where'], registers,
      collect() {
        const p = sample.peerRecords();
        this.set({ where: 'memory' }, p.memory);
        this.set({ where: 'kept' }, p.kept);
      },
    });
    sampled('chorus_peers_blocked', 'Peers refused now for abuse', () => sample.blocked());
  }
}
