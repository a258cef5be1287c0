import type { PeerAddress } from './address.js';

/** Which new-issuer cap refused an input (SPEC §14.4). */
export type AdmissionCap = 'peer' | 'ip' | 'network' | 'global';

/** Issuers new to this node that may be introduced per hour, by scope. */
export interface NewIssuerCaps {
  /** By one peer id. */
  readonly perPeer: number;
  /** From one IP address (IPv6: one /64). */
  readonly perIp: number;
  /** From one /24 (IPv4) or /48 (IPv6) network. */
  readonly perNetwork: number;
  /** By all peers together. */
  readonly global: number;
}

const HOUR = 3_600_000;
/** The network of peers whose address is loopback or unknown, for the global cap's shares. */
const UNLOCATED = 'unlocated';
/** Per-key tables hold this many windows, then forget the least recently started. */
const MAX_WINDOWS = 10_000;

/** Fixed hourly windows of a count per key, in a bounded table. */
class HourlyCounts {
  private readonly windows = new Map<string, { start: number; count: number }>();

  constructor(readonly limit: number) {}

  /** The largest count of any live window (the busiest key this hour). */
  busiest(now: number): number {
    let m = 0;
    for (const w of this.windows.values()) if (now - w.start < HOUR) m = Math.max(m, w.count);
    return m;
  }

  /** The count of `key`'s live window. */
  countOf(key: string, now: number): number {
    const w = this.windows.get(key);
    return w !== undefined && now - w.start < HOUR ? w.count : 0;
  }

  /** Keys with a live window. */
  live(now: number): number {
    let n = 0;
    for (const w of this.windows.values()) if (now - w.start < HOUR && w.count > 0) n++;
    return n;
  }

  full(key: string, now: number): boolean {
    const w = this.windows.get(key);
    return w !== undefined && now - w.start < HOUR && w.count >= this.limit;
  }

  take(key: string, now: number): void {
    let w = this.windows.get(key);
    if (w === undefined || now - w.start >= HOUR) {
      if (this.windows.size >= MAX_WINDOWS) this.prune(now);
      w = { start: now, count: 0 };
      this.windows.delete(key);
      this.windows.set(key, w);
    }
    w.count++;
  }

  private prune(now: number): void {
    for (const [k, w] of this.windows) if (now - w.start >= HOUR) this.windows.delete(k);
    // Still full: forget the least recently started windows, one at a time, rather than grow.
    while (this.windows.size >= MAX_WINDOWS) this.windows.delete(this.windows.keys().next().value as string);
  }
}

/**
 * How many issuers this node has never stored anything of the network may introduce per
 * hour (SPEC §14.4): per peer id, per IP address, per /24 or /48 network, and in all. Peer
 * ids are free, so the per-peer cap alone multiplies with them; the address caps do not.
 * A peer on loopback or of unknown address is held to its own and the global cap only
 * (see `PeerAddress`). What a cap refuses is ignored (no blame: the peer may only be
 * relaying) and can arrive later, from this peer or another, once the window moves on.
 */
export class NewIssuerAdmission {
  private readonly peer: HourlyCounts;
  private readonly ip: HourlyCounts;
  private readonly network: HourlyCounts;
  private readonly global: HourlyCounts;
  /** New issuers this hour by network (loopback and unknown addresses: one), for the global cap's shares. */
  private readonly byNetwork = new HourlyCounts(Number.MAX_SAFE_INTEGER);

  constructor(
    readonly caps: NewIssuerCaps,
    private readonly now: () => number = Date.now,
  ) {
    this.peer = new HourlyCounts(caps.perPeer);
    this.ip = new HourlyCounts(caps.perIp);
    this.network = new HourlyCounts(caps.perNetwork);
    this.global = new HourlyCounts(caps.global);
  }

  /**
   * Takes one new-issuer slot from every cap that applies to `peer` at `address`, or none
   * when one of them is spent: then returns that cap (the narrowest first).
   */
  take(peer: string, address: PeerAddress | undefined): AdmissionCap | undefined {
    const now = this.now();
    const located = address !== undefined && address.kind !== 'loopback' ? address : undefined;
    const checks: [AdmissionCap, HourlyCounts, string][] = [['peer', this.peer, peer]];
    if (located) checks.push(['ip', this.ip, located.ip], ['network', this.network, located.network]);
    for (const [cap, counts, key] of checks) if (counts.full(key, now)) return cap;
    // The global cap, shared max-min by network: once it is spent, a network that brought
    // fewer than an equal share of it this hour may still bring more, up to that share. A
    // few networks cannot spend the hour for everyone else; at most twice the cap gets in.
    const group = located?.network ?? UNLOCATED;
    if (this.global.full('', now)) {
      const groups = this.byNetwork.live(now) + (this.byNetwork.countOf(group, now) === 0 ? 1 : 0);
      if (this.byNetwork.countOf(group, now) >= this.global.limit / groups) return 'global';
    }
    for (const [, counts, key] of checks) counts.take(key, now);
    this.global.take('', now);
    this.byNetwork.take(group, now);
    return undefined;
  }

  /** Each cap's use this hour: the busiest peer, address and network, and all together. */
  use(): { cap: AdmissionCap; used: number; limit: number }[] {
    const now = this.now();
    return (['peer', 'ip', 'network', 'global'] as const).map((cap) => ({ cap, used: this[cap].busiest(now), limit: this[cap].limit }));
  }

  /** The hourly limit of a cap. */
  limit(cap: AdmissionCap): number {
    return this[cap].limit;
  }
}
