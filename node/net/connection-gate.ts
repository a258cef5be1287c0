import type { Multiaddr } from '@multiformats/multiaddr';
import { classifyIp, type PeerAddress } from '../ingest/address.js';

/** Inbound connection bounds (SPEC §14.9), applied before any cryptography. */
export interface GateBounds {
  /** New inbound connections one IP address may open: a bucket of `perIpBurst`, refilled at `perIpPerMinute`. */
  readonly perIpPerMinute: number;
  readonly perIpBurst: number;
  /** New inbound connections from everyone together. */
  readonly totalPerMinute: number;
  readonly totalBurst: number;
  /** Inbound connections open at once from one IP address. */
  readonly perIpOpen: number;
  /**
   * An address a blocked peer connected from, while the block lasts: new connections from it
   * are paced to a bucket of `suspectBurst` refilled at `suspectPerMinute`.
   */
  readonly suspectPerMinute: number;
  readonly suspectBurst: number;
  /**
   * Whether loopback peers are held to the per-address bounds too. Every process on this
   * host shares 127.0.0.1 (a devnet, a bench), so by default they are not: they are held
   * to the global rate only, as the new-issuer caps treat them.
   */
  readonly gateLoopback: boolean;
}

export const DEFAULT_GATE_BOUNDS: GateBounds = {
  perIpPerMinute: 120,
  perIpBurst: 32,
  totalPerMinute: 600,
  totalBurst: 64,
  perIpOpen: 32,
  suspectPerMinute: 60,
  suspectBurst: 3,
  gateLoopback: false,
};

/** Why an inbound connection was refused. */
export type GateRefusal = 'ip-rate' | 'network-rate' | 'rate' | 'ip-open' | 'blocked-address';

/**
 * The address a connection comes from as the gate keys it (address.ts): the IP (an IPv6
 * host by its /64, what one subscriber is given) and its network (/24, /48; a private
 * address is its own). Undefined for a relayed connection: its address is the relay's,
 * shared by everyone behind it, and the relay's own limits apply.
 */
export function addressOf(ma: Multiaddr): PeerAddress | undefined {
  const comps = ma.getComponents();
  if (comps.some((component) => component.name === 'p2p-circuit')) return undefined;
  for (const component of comps) if ((component.name === 'ip4' || component.name === 'ip6') && component.value !== undefined) return classifyIp(component.value);
  return undefined;
}

interface Bucket { tokens: number; at: number }

const MAX_TRACKED = 10_000;

/**
 * The connection gate: libp2p calls denyInboundConnection with the raw connection (its
 * remote address, nothing else known yet) before the Noise handshake, so what it refuses
 * costs an accept and a close, not a key exchange. It bounds the rate of new inbound
 * connections per IP and in total (fresh peer ids are free; addresses are not), how many
 * one IP may hold open, and how often an address a blocked peer used may try again: a peer
 * id is only known after the handshake, so a blocked peer's redials are refused by the
 * address it came from — paced (one a second by default), not banned, because other peers
 * may share the address (NAT, loopback) and must still get through now and then.
 * Memory: at most 10,000 addresses tracked (least recently seen forgotten first).
 */
export class ConnectionGate {
  private readonly perIp = new Map<string, Bucket>();
  private readonly perNetwork = new Map<string, Bucket>();
  private readonly total: Bucket;
  private readonly open = new Map<string, number>();
  /** Address -> until when it is suspect, and its bucket meanwhile. */
  private readonly suspect = new Map<string, { until: number; bucket: Bucket }>();

  constructor(
    readonly bounds: GateBounds = DEFAULT_GATE_BOUNDS,
    private readonly refused: (why: GateRefusal) => void = () => {},
    private readonly now: () => number = Date.now,
  ) {
    this.total = { tokens: bounds.totalBurst, at: now() };
  }

  /** Whether to refuse an inbound connection from `remote` (true: refuse). Takes a slot when not. */
  deny(remote: Multiaddr): boolean {
    const now = this.now();
    const addr = this.keyed(remote);
    if (addr === undefined) {
      // Relayed, or loopback (unless gated): the global rate only.
      if (addressOf(remote) === undefined && remote.getComponents().some((component) => component.name === 'p2p-circuit')) return false;
      refill(this.total, this.bounds.totalBurst, this.bounds.totalPerMinute, now);
      if (this.total.tokens < 1) return this.refuse('rate');
      this.total.tokens -= 1;
      return false;
    }
    const { ip, network } = addr;
    let suspect = this.suspect.get(ip);
    if (suspect !== undefined && suspect.until <= now) {
      this.suspect.delete(ip);
      suspect = undefined;
    }
    if (suspect !== undefined) {
      refill(suspect.bucket, this.bounds.suspectBurst, this.bounds.suspectPerMinute, now);
      if (suspect.bucket.tokens < 1) return this.refuse('blocked-address');
    }
    if ((this.open.get(ip) ?? 0) >= this.bounds.perIpOpen) return this.refuse('ip-open');
    const bucket = this.bucket(this.perIp, ip, this.bounds.perIpBurst, this.bounds.perIpPerMinute, now);
    if (bucket.tokens < 1) return this.refuse('ip-rate');
    // A network (/24, /48) may open four times what one address may: a few hosts of one
    // allocation are fine, a rotation through it is not.
    const networkBucket = network === ip ? undefined : this.bucket(this.perNetwork, network, 2 * this.bounds.perIpBurst, 4 * this.bounds.perIpPerMinute, now);
    if (networkBucket !== undefined && networkBucket.tokens < 1) return this.refuse('network-rate');
    refill(this.total, this.bounds.totalBurst, this.bounds.totalPerMinute, now);
    if (this.total.tokens < 1) return this.refuse('rate');
    bucket.tokens -= 1;
    if (networkBucket !== undefined) networkBucket.tokens -= 1;
    this.total.tokens -= 1;
    if (suspect !== undefined) suspect.bucket.tokens -= 1;
    return false;
  }

  /** The gate's key of an address: undefined when only the global rate applies to it. */
  private keyed(remote: Multiaddr): PeerAddress | undefined {
    const addr = addressOf(remote);
    if (addr === undefined || (addr.kind === 'loopback' && !this.bounds.gateLoopback)) return undefined;
    return addr;
  }

  /** An inbound connection from `remote` opened (after the upgrade) or closed. */
  opened(remote: Multiaddr): void {
    const ip = this.keyed(remote)?.ip;
    if (ip !== undefined) this.open.set(ip, (this.open.get(ip) ?? 0) + 1);
  }

  closed(remote: Multiaddr): void {
    const ip = this.keyed(remote)?.ip;
    if (ip === undefined) return;
    const count = (this.open.get(ip) ?? 1) - 1;
    if (count <= 0) this.open.delete(ip);
    else this.open.set(ip, count);
  }

  /** A peer connected from `remote` was blocked until `until`: its address is paced meanwhile. */
  blockedFrom(remote: Multiaddr, until: number): void {
    const ip = this.keyed(remote)?.ip;
    if (ip === undefined) return;
    if (this.suspect.size >= MAX_TRACKED) this.suspect.delete(this.suspect.keys().next().value as string);
    this.suspect.set(ip, { until, bucket: { tokens: this.bounds.suspectBurst, at: this.now() } });
  }

  /** Inbound connections open now, from how many addresses. */
  get openCount(): { connections: number; addresses: number } {
    let connections = 0;
    for (const count of this.open.values()) connections += count;
    return { connections, addresses: this.open.size };
  }

  /** The most inbound connections one address holds open now. */
  get maxOpenPerAddress(): number {
    let most = 0;
    for (const count of this.open.values()) most = Math.max(most, count);
    return most;
  }

  private refuse(why: GateRefusal): true {
    this.refused(why);
    return true;
  }

  private bucket(table: Map<string, Bucket>, key: string, burst: number, perMinute: number, now: number): Bucket {
    let bucket = table.get(key);
    if (bucket === undefined) {
      if (table.size >= MAX_TRACKED) table.delete(table.keys().next().value as string);
      bucket = { tokens: burst, at: now };
    } else table.delete(key);
    table.set(key, bucket);
    refill(bucket, burst, perMinute, now);
    return bucket;
  }
}

function refill(bucket: Bucket, burst: number, perMinute: number, now: number): void {
  bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) * perMinute) / 60_000);
  bucket.at = now;
}
