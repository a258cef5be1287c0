import { RELAY_V2_HOP_CODEC } from '@libp2p/circuit-relay-v2';
import { isPrivate } from '@libp2p/utils';
import { multiaddr } from '@multiformats/multiaddr';
import type { Logger } from 'pino';
import type { Config } from '../home/config.js';
import { RELAY_CHECK_MS } from './constants.js';
import type { Host } from './host.js';

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

/** What this node knows of its own reachability, and relay mode "auto". */
export class ReachabilityService {
  private timer: NodeJS.Timeout | undefined;
  private relayListening = false;
  private stopped = false;

  constructor(
    private readonly host: Host,
    private readonly net: Config['net'],
    private readonly log: Logger,
  ) {}

  start(): void {
    if (this.net.relay !== 'auto') return;
    this.timer = setInterval(() => void this.relayIfNeeded(), RELAY_CHECK_MS);
    this.timer.unref();
  }

  /**
   * Relay "auto": when no public address is confirmed and some known peer is a relay, take
   * a reservation so peers on the internet can still reach this node (and DCUtR can then
   * try a direct connection). A node with a public address never does.
   */
  async relayIfNeeded(): Promise<boolean> {
    if (this.relayListening || this.stopped || this.report().state === 'public') return false;
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

  report(): Reachability {
    const cfg = this.net;
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

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
  }
}
