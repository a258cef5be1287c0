import type { Decision } from '../../src/ingest/decide.js';
import type { Status } from '../../src/reputation/view-schema.js';
import type { LocalNode } from '../local/local-node.js';

/** A digest's status in this node's view changed. */
export interface StatusChange {
  /** Position in the change log (for clients following it). */
  readonly seq: number;
  readonly digest: string;
  readonly old: Status;
  readonly new: Status;
  readonly reason: string;
  readonly at: string;
}

/** Digests whose last status is remembered (queried, or changed), most recent kept. */
const KNOWN = 10_000;
/** Changes kept for followers; a follower further behind misses the oldest. */
const LOG = 1_000;
/** Digests re-evaluated per commit, at most (the rest wait for their next attestation). */
const PER_COMMIT = 256;
/** After a trust change, this many most recently known digests are re-evaluated. */
const ON_TRUST_CHANGE = 1_000;

/**
 * Notices when a digest's status in this view changes (SPEC §10.4), so a gate can react
 * the moment it does. It remembers the last status of digests someone asked about (and of
 * those whose status it saw change), re-evaluates a digest when an attestation by an issuer
 * that counts lands about it, and all remembered ones (the most recent 1,000) when the trust
 * graph changes. A stranger's attestations cost it nothing: they cannot change a status.
 * One evaluation at a time, in the background.
 */
export class StatusWatch {
  private readonly known = new Map<string, Status>();
  private readonly queue = new Set<string>();
  private readonly log: StatusChange[] = [];
  private seq = 0;
  private running = false;
  private stopped = false;
  private readonly listeners = new Set<() => void>();

  constructor(private readonly node: LocalNode) {
    node.trustState.onChange(() => {
      for (const d of [...this.known.keys()].slice(-ON_TRUST_CHANGE)) this.queue.add(d);
      this.pump();
    });
  }

  /** The next time a counted attestation of a remembered digest expires: its status may change then. */
  private expiries = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private armedAt: number | undefined;

  private expiresLater(digest: string, v: Awaited<ReturnType<LocalNode['view']>>): void {
    let next: number | undefined;
    for (const g of Object.values(v.byPredicate)) {
      for (const i of g.attestations) {
        const at = i.counts && i.expiresAt !== undefined ? Date.parse(i.expiresAt) : undefined;
        if (at !== undefined && (next === undefined || at < next)) next = at;
      }
    }
    if (next === undefined) this.expiries.delete(digest);
    else this.expiries.set(digest, next);
    // Re-arm only for an earlier expiry than the one armed (arm() scans every entry).
    if (next !== undefined && (this.armedAt === undefined || next < this.armedAt)) this.arm();
  }

  private arm(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    let first: number | undefined;
    for (const at of this.expiries.values()) if (first === undefined || at < first) first = at;
    this.armedAt = first;
    if (first === undefined) return;
    this.timer = setTimeout(() => {
      this.armedAt = undefined;
      const now = Date.now();
      for (const [d, at] of this.expiries) {
        if (at <= now) {
          this.expiries.delete(d);
          this.queue.add(d);
        }
      }
      this.pump();
      this.arm();
    }, Math.min(Math.max(0, first - Date.now()) + 50, 2 ** 31 - 1));
    this.timer.unref();
  }

  /**
   * Records a view someone saw (the baseline a later change is measured from). A view that
   * disagrees with the remembered status is not taken as the new baseline: it may be newer
   * than the watch's own evaluation (which would then find nothing changed, and the change
   * would never be told) or older (computed before a trust change). The digest is evaluated
   * again instead, and the change, if any, told from there.
   */
  seenView(digest: string, v: Awaited<ReturnType<LocalNode['view']>>): void {
    const known = this.known.get(digest);
    if (known !== undefined && known !== v.status) {
      this.queue.add(digest);
      this.pump();
      return;
    }
    this.record(digest, v);
  }

  private record(digest: string, v: Awaited<ReturnType<LocalNode['view']>>): void {
    this.seen(digest, v.status);
    this.expiresLater(digest, v);
  }

  /** Records a status someone saw. */
  seen(digest: string, status: Status): void {
    this.known.delete(digest);
    this.known.set(digest, status);
    if (this.known.size > KNOWN) {
      const oldest = this.known.keys().next().value as string;
      this.known.delete(oldest);
      this.expiries.delete(oldest);
    }
  }

  committed(ds: readonly Decision[]): void {
    const graph = this.node.trustState.last;
    let n = 0;
    for (const d of ds) {
      if (d.outcome !== 'accept' || !(graph?.counts(d.attestation.issuer) ?? false)) continue;
      for (const s of d.attestation.subjects) {
        if (n++ >= PER_COMMIT) break;
        this.queue.add(s);
      }
    }
    this.pump();
  }

  /** Changes after `after` (a log position); `next` is where to continue. */
  since(after: number): { changes: StatusChange[]; next: number } {
    const changes = this.log.filter((c) => c.seq > after);
    return { changes, next: this.seq };
  }

  get head(): number {
    return this.seq;
  }

  /** Hears every new change. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.queue.clear();
  }

  /** Attestations left the store (collected, evicted): the digests they were about are looked at again. */
  removed(subjects: Iterable<string>): void {
    for (const d of subjects) if (this.known.has(d)) this.queue.add(d);
    this.pump();
  }

  private pump(): void {
    if (this.running || this.stopped || this.queue.size === 0) return;
    this.running = true;
    void (async () => {
      try {
        while (this.queue.size > 0 && !this.stopped) {
          const digest = this.queue.values().next().value as string;
          this.queue.delete(digest);
          try {
            const v = await this.node.view(digest);
            const old = this.known.get(digest) ?? (v.evidence.total === 0 ? 'unknown' : undefined);
            this.record(digest, v);
            if (old === undefined || old === v.status) continue;
            this.seq++;
            this.log.push({ seq: this.seq, digest: v.digest, old, new: v.status, reason: v.reason, at: v.asOf });
            if (this.log.length > LOG) this.log.shift();
            for (const l of this.listeners) l();
          } catch {
            // a digest that cannot be viewed now is tried again at its next attestation
          }
        }
      } finally {
        this.running = false;
      }
    })();
  }
}
