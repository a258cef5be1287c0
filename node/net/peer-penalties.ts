import type { Logger } from 'pino';
import { ABUSE_HALF_LIFE_MS, ABUSE_PENALTY, ABUSES_TO_BLOCK, BLOCK_MS } from './constants.js';

const MAX_PEERS = 10_000;

/** Sets `key` as the most recently used entry, dropping the least recently used when full. */
function touch<V>(m: Map<string, V>, key: string, value: V): void {
  m.delete(key);
  if (m.size >= MAX_PEERS) m.delete(m.keys().next().value as string);
  m.set(key, value);
}

/**
 * What this node holds against peers that abused its protocols (a malformed or
 * over-budget sync request, a flood of gossip): a penalty that feeds gossipsub's
 * application-specific score (so the mesh prunes and graylists them) and, past a few
 * abuses, a disconnect and a refusal to reconnect for a while. Bounded: at most 10,000
 * peers are remembered (least recently used forgotten first); penalties decay.
 */
export class PeerPenalties {
  private readonly abuses = new Map<string, { score: number; at: number }>();
  private readonly blocked = new Map<string, number>();

  constructor(
    private readonly log: Logger,
    private readonly disconnect: (peer: string) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** The current penalty (a count of abuses, decayed). */
  private count(peer: string): number {
    const a = this.abuses.get(peer);
    if (a === undefined) return 0;
    return a.score * 0.5 ** ((this.now() - a.at) / ABUSE_HALF_LIFE_MS);
  }

  /** Records one abuse; may disconnect and block the peer. */
  abuse(peer: string, why: string): void {
    const n = this.count(peer) + 1;
    touch(this.abuses, peer, { score: n, at: this.now() });
    // Decay between abuses seconds apart is tiny: three in quick succession count as three.
    if (n > ABUSES_TO_BLOCK - 0.5 && !this.isBlocked(peer)) {
      touch(this.blocked, peer, this.now() + BLOCK_MS);
      this.log.warn({ peer, why, abuses: Math.round(n) }, 'peer disconnected and refused for abusing the protocol');
      this.disconnect(peer);
    }
  }

  /** gossipsub's application-specific score: minus ABUSE_PENALTY per recent abuse. */
  score(peer: string): number {
    const n = this.count(peer);
    return n === 0 ? 0 : -ABUSE_PENALTY * n;
  }

  /** Peers refused now. */
  get blockedCount(): number {
    const now = this.now();
    let n = 0;
    for (const until of this.blocked.values()) if (until > now) n++;
    return n;
  }

  /** Until when `peer` is refused (undefined: it is not). */
  blockedUntil(peer: string): number | undefined {
    return this.isBlocked(peer) ? this.blocked.get(peer) : undefined;
  }

  isBlocked(peer: string): boolean {
    const until = this.blocked.get(peer);
    if (until === undefined) return false;
    if (until > this.now()) return true;
    this.blocked.delete(peer);
    return false;
  }
}

/** A per-peer token bucket of messages and bytes, for what peers push at us. */
export class PeerRate {
  private readonly buckets = new Map<string, { msgs: number; bytes: number; at: number }>();

  constructor(
    private readonly burst: number,
    private readonly perSecond: number,
    private readonly bytesPerSecond: number,
    private readonly now: () => number = Date.now,
  ) {}

  take(peer: string, bytes: number): boolean {
    const now = this.now();
    let b = this.buckets.get(peer);
    if (b === undefined) b = { msgs: this.burst, bytes: this.bytesPerSecond * 10, at: now };
    touch(this.buckets, peer, b);
    const dt = (now - b.at) / 1000;
    b.msgs = Math.min(this.burst, b.msgs + dt * this.perSecond);
    b.bytes = Math.min(this.bytesPerSecond * 10, b.bytes + dt * this.bytesPerSecond);
    b.at = now;
    if (b.msgs < 1 || b.bytes < bytes) return false;
    b.msgs -= 1;
    b.bytes -= bytes;
    return true;
  }
}
