import type { Multiaddr } from '@multiformats/multiaddr';

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
}

export const DEFAULT_GATE_BOUNDS: GateBounds = {
  perIpPerMinute: 120,
  perIpBurst: 32,
  totalPerMinute: 600,
  totalBurst: 64,
  perIpOpen: 32,
  suspectPerMinute: 60,
  suspectBurst: 3,
};

/** Why an inbound connection was refused. */
export type GateRefusal = 'ip-rate' | 'rate' | 'ip-open' | 'blocked-address';

/** The IP address of a multiaddr (/ip4, /ip6, their dns forms resolved already), or undefined. */
export function ipOf(ma: Multiaddr): string | undefined {
  for (const c of ma.getComponents()) if (c.name === 'ip4' || c.name === 'ip6') return c.value;
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
    const ip = ipOf(remote);
    if (ip === undefined) return false; // a relayed connection: the relay's own limits apply
    const now = this.now();
    let s = this.suspect.get(ip);
    if (s !== undefined && s.until <= now) {
      this.suspect.delete(ip);
      s = undefined;
    }
    if (s !== undefined) {
      refill(s.bucket, this.bounds.suspectBurst, this.bounds.suspectPerMinute, now);
      if (s.bucket.tokens < 1) return this.refuse('blocked-address');
    }
    if ((this.open.get(ip) ?? 0) >= this.bounds.perIpOpen) return this.refuse('ip-open');
    const b = this.bucket(ip, now);
    if (b.tokens < 1) return this.refuse('ip-rate');
    refill(this.total, this.bounds.totalBurst, this.bounds.totalPerMinute, now);
    if (this.total.tokens < 1) return this.refuse('rate');
    b.tokens -= 1;
    this.total.tokens -= 1;
    if (s !== undefined) s.bucket.tokens -= 1;
    return false;
  }

  /** An inbound connection from `remote` opened (after the upgrade) or closed. */
  opened(remote: Multiaddr): void {
    const ip = ipOf(remote);
    if (ip !== undefined) this.open.set(ip, (this.open.get(ip) ?? 0) + 1);
  }

  closed(remote: Multiaddr): void {
    const ip = ipOf(remote);
    if (ip === undefined) return;
    const n = (this.open.get(ip) ?? 1) - 1;
    if (n <= 0) this.open.delete(ip);
    else this.open.set(ip, n);
  }

  /** A peer connected from `remote` was blocked until `until`: its address is paced meanwhile. */
  blockedFrom(remote: Multiaddr, until: number): void {
    const ip = ipOf(remote);
    if (ip === undefined) return;
    if (this.suspect.size >= MAX_TRACKED) this.suspect.delete(this.suspect.keys().next().value as string);
    this.suspect.set(ip, { until, bucket: { tokens: this.bounds.suspectBurst, at: this.now() } });
  }

  /** Inbound connections open now, from how many addresses. */
  get openCount(): { connections: number; addresses: number } {
    let connections = 0;
    for (const n of this.open.values()) connections += n;
    return { connections, addresses: this.open.size };
  }

  /** The most inbound connections one address holds open now. */
  get maxOpenPerAddress(): number {
    let m = 0;
    for (const n of this.open.values()) m = Math.max(m, n);
    return m;
  }

  private refuse(why: GateRefusal): true {
    this.refused(why);
    return true;
  }

  private bucket(ip: string, now: number): Bucket {
    let b = this.perIp.get(ip);
    if (b === undefined) {
      if (this.perIp.size >= MAX_TRACKED) this.perIp.delete(this.perIp.keys().next().value as string);
      b = { tokens: this.bounds.perIpBurst, at: now };
    } else this.perIp.delete(ip);
    this.perIp.set(ip, b);
    refill(b, this.bounds.perIpBurst, this.bounds.perIpPerMinute, now);
    return b;
  }
}

function refill(b: Bucket, burst: number, perMinute: number, now: number): void {
  b.tokens = Math.min(burst, b.tokens + ((now - b.at) * perMinute) / 60_000);
  b.at = now;
}
