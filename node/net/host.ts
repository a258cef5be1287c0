import { createLibp2p, type Libp2p } from 'libp2p';
import { tcp } from '@libp2p/tcp';
import { noise } from '@libp2p/noise';
import { yamux } from '@libp2p/yamux';
import { identify } from '@libp2p/identify';
import { ping } from '@libp2p/ping';
import { gossipsub, type GossipSub, type GossipsubOpts } from '@libp2p/gossipsub';
import { createTopicScoreParams } from '@libp2p/gossipsub/score';
import { kadDHT, passthroughMapper, type KadDHT } from '@libp2p/kad-dht';
import { mdns } from '@libp2p/mdns';
import { bootstrap } from '@libp2p/bootstrap';
import { uPnPNAT } from '@libp2p/upnp-nat';
import { autoNATv2 } from '@libp2p/autonat-v2';
import { circuitRelayServer, circuitRelayTransport } from '@libp2p/circuit-relay-v2';
import { dcutr } from '@libp2p/dcutr';
import { KEEP_ALIVE, type PeerId, type PrivateKey } from '@libp2p/interface';
import type { AddressManager, TransportManager } from '@libp2p/interface-internal';
import type { Datastore } from 'interface-datastore';
import type { Config } from '../home/config.js';
import { ATTESTATION_TOPIC, CHECKPOINT_TOPIC, DHT_K, EQUIVOCATION_TOPIC, MAX_GOSSIP_FRAME } from './constants.js';
import type { ConnectionGate } from './connection-gate.js';
import { attestationMessageId } from './message-id.js';

export type Pubsub = GossipSub & { getScore(peer: string): number; getMeshPeers(topic: string): string[] };

/** libp2p internals a node needs (address metadata, listening on a relay), via a service. */
export interface Internals {
  addressManager: AddressManager;
  transportManager: TransportManager;
}

export type Host = Libp2p<{ pubsub: Pubsub; ping: ReturnType<ReturnType<typeof ping>>; internals: Internals; dht?: KadDHT } & Record<string, unknown>>;

/**
 * The circuit relay service a node runs with net.relayServer: reservations without the
 * default 2-minute / 128 KiB limit, because a node behind NAT keeps receiving gossip through
 * its relay (attestation traffic is small); at most 32 reserved peers.
 */
export function chorusRelayServer() {
  return circuitRelayServer({ reservations: { maxReservations: 32, applyDefaultLimit: false } });
}

/**
 * The gossipsub options of a node's host; `appScore` is the application-specific score of a
 * peer (penalties for abuse). Exported so that tools speaking gossip as a node does (the attack
 * benchmark's attacker) take these, not a copy.
 */
export function gossipsubOptions(appScore: (peer: string) => number): Partial<GossipsubOpts> {
  return {
    globalSignaturePolicy: 'StrictNoSign',
    msgIdFn: (msg) => attestationMessageId(msg.data),
    allowPublishToZeroTopicPeers: true,
    floodPublish: true,
    emitSelf: false,
    // Peer exchange: a peer pruned from a full mesh learns other peers to connect to,
    // so a network bootstrapped through one node does not stay a star.
    doPX: true,
    // One RPC frame may batch several messages and control: a frame limit of one message
    // killed the inbound stream of a peer relaying a burst of large envelopes. Each
    // message's own size is checked by the validator.
    maxInboundDataLength: MAX_GOSSIP_FRAME,
    scoreParams: {
      IPColocationFactorWeight: 0,
      // Abuse of the sync protocol (and other application-level faults) lowers the score too.
      appSpecificScore: appScore,
      appSpecificWeight: 1,
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
        // Checkpoints and equivocation proofs: a forged one costs the sender as an invalid attestation does.
        ...Object.fromEntries([CHECKPOINT_TOPIC, EQUIVOCATION_TOPIC].map((t) => [t, createTopicScoreParams({
          topicWeight: 1,
          invalidMessageDeliveriesWeight: -10,
          invalidMessageDeliveriesDecay: 0.99,
          meshMessageDeliveriesWeight: 0,
          meshFailurePenaltyWeight: 0,
        })])),
      },
    },
    scoreThresholds: { gossipThreshold: -10, publishThreshold: -20, graylistThreshold: -30, acceptPXThreshold: 0, opportunisticGraftThreshold: 5 },
  };
}

export interface HostOptions {
  readonly net: Config['net'];
  readonly privateKey: PrivateKey;
  readonly datastore: Datastore;
  /** gossipsub's application-specific score of a peer (penalties for abuse). */
  readonly appScore: (peer: string) => number;
  /** Peers refused at connection time (blocked for abuse). */
  readonly denied: (peer: PeerId) => boolean;
  /** Inbound connections refused before the handshake (rates and limits per address). */
  readonly gate: ConnectionGate;
}

/**
 * Assembles the libp2p host (not started: protocol handlers are registered before the
 * first dial, so a peer redialled at start can sync at once).
 */
export async function createHost(o: HostOptions): Promise<Host> {
  const cfg = o.net;
  const peerDiscovery = [];
  if (cfg.bootstrap.length > 0) peerDiscovery.push(bootstrap({ list: cfg.bootstrap, timeout: 1000, tagName: `${KEEP_ALIVE}-bootstrap`, tagValue: 50 }));
  if (cfg.mdns) peerDiscovery.push(mdns({ interval: 10_000, serviceTag: '_chorus._udp.local' }));
  const listen = [...cfg.listen, ...(cfg.relay === 'always' ? ['/p2p-circuit'] : [])];
  return (await createLibp2p({
    start: false,
    privateKey: o.privateKey,
    datastore: o.datastore,
    addresses: { listen, announce: cfg.announce },
    transports: [tcp(), ...(cfg.relay === 'off' ? [] : [circuitRelayTransport({ reservationCompletionTimeout: 10_000 })])],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: { maxConnections: cfg.maxConnections, dialTimeout: 10_000, inboundConnectionThreshold: 50 },
    // The gate first (before Noise: only the remote address is known), then blocked peer ids
    // (after it: that is when the id is known).
    connectionGater: {
      denyInboundConnection: (maConn) => o.gate.deny(maConn.remoteAddr),
      denyDialPeer: (peer) => o.denied(peer),
      denyInboundEncryptedConnection: (peer) => o.denied(peer),
      denyOutboundEncryptedConnection: (peer) => o.denied(peer),
    },
    peerDiscovery,
    services: {
      identify: identify(),
      ping: ping(),
      internals: (c: Internals) => ({ addressManager: c.addressManager, transportManager: c.transportManager }),
      pubsub: gossipsub(gossipsubOptions(o.appScore)),
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
  })) as unknown as Host;
}
