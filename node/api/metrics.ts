import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Decision } from '../../src/ingest/decide.js';
import type { AttestationStore } from '../store/attestation-store.js';
import type { StrangerPool } from '../store/stranger-pool.js';
import type { TrustState } from '../local/trust-state.js';

/** The node's Prometheus metrics, on a registry of its own. */
export class Metrics {
  readonly registry = new Registry();
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  readonly ingestDecisions: Counter<'outcome' | 'code'>;
  /** New issuers ignored by a spent new-issuer cap, by cap (SPEC §14.4). */
  readonly admissionRefused: Counter<'cap'>;
  readonly eventStreams: Gauge;
  readonly eventStreamsDropped: Counter;
  readonly eventBytesSent: Counter;
  readonly eventReplayBytes: Counter;
  readonly eventReplayAttestations: Counter;
  readonly eventReplayWaits: Counter<'budget'>;
  readonly eventHistoryTruncated: Counter;

  constructor(store: AttestationStore, trust?: TrustState) {
    collectDefaultMetrics({ register: this.registry, prefix: 'chorus_' });
    if (trust) this.watchTrust(trust);
    this.httpDuration = new Histogram({
      name: 'chorus_http_request_duration_seconds',
      help: 'HTTP API request latency',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
      registers: [this.registry],
    });
    this.ingestDecisions = new Counter({
      name: 'chorus_ingest_decisions_total',
      help: 'Ingest decisions by outcome and code, whatever the entry point',
      labelNames: ['outcome', 'code'],
      registers: [this.registry],
    });
    this.admissionRefused = new Counter({
      name: 'chorus_admission_refused_total',
      help: 'New issuers ignored (rate_limited) by the new-issuer cap that was spent: peer, ip, network or global (SPEC §14.4)',
      labelNames: ['cap'],
      registers: [this.registry],
    });
    this.eventStreams = new Gauge({ name: 'chorus_event_streams', help: 'Open /v1/events streams', registers: [this.registry] });
    this.eventStreamsDropped = new Counter({
      name: 'chorus_event_streams_dropped_total',
      help: 'Event streams disconnected because the client stopped reading',
      registers: [this.registry],
    });
    this.eventBytesSent = new Counter({ name: 'chorus_events_bytes_sent_total', help: 'Bytes written to /v1/events streams', registers: [this.registry] });
    this.eventReplayBytes = new Counter({
      name: 'chorus_events_replay_bytes_total',
      help: 'Bytes of replayed history (attestations stored before the stream opened) charged to the replay budget',
      registers: [this.registry],
    });
    this.eventReplayAttestations = new Counter({
      name: 'chorus_events_replay_attestations_total',
      help: 'Attestations read for replay (sent or filtered out) and charged to the replay budget',
      registers: [this.registry],
    });
    this.eventReplayWaits = new Counter({
      name: 'chorus_events_replay_waits_total',
      help: 'Times an event stream waited for replay budget: its own (stream) or all streams\' (total)',
      labelNames: ['budget'],
      registers: [this.registry],
    });
    this.eventHistoryTruncated = new Counter({
      name: 'chorus_events_truncated_total',
      help: 'Event streams without the API token whose cursor was older than api.eventHistoryWithoutToken allows',
      registers: [this.registry],
    });
    new Gauge({
      name: 'chorus_store_attestations',
      help: 'Attestations in the local store',
      registers: [this.registry],
      collect() {
        this.set(store.size);
      },
    });
    new Gauge({
      name: 'chorus_store_full',
      help: '1 while the store refuses writes for lack of disk space (until it is reopened once space is free), else 0',
      registers: [this.registry],
      collect() {
        this.set(store.isFull ? 1 : 0);
      },
    });
    new Counter({
      name: 'chorus_store_reopens_total',
      help: 'Times the store was reopened to take writes again after the disk had filled up',
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(store.reopens);
      },
    });
    new Gauge({
      name: 'chorus_store_bytes',
      help: 'Bytes the store takes on disk',
      registers: [this.registry],
      async collect() {
        this.set(await store.diskBytes());
      },
    });
  }

  /** The trust graph's recomputations and the endorsement changes waiting for one (SPEC §14.8). */
  private watchTrust(trust: TrustState): void {
    const recomputations = new Counter({
      name: 'chorus_trust_recomputations_total',
      help: 'Trust-graph recomputations, by what forced them (policy, endorsements, expiry, removal)',
      labelNames: ['cause'],
      registers: [this.registry],
    });
    const seconds = new Histogram({
      name: 'chorus_trust_recompute_seconds',
      help: 'Time one trust-graph recomputation took (store reads included)',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
      registers: [this.registry],
    });
    trust.onRecompute((s, cause) => {
      recomputations.inc({ cause });
      seconds.observe(s);
    });
    new Gauge({
      name: 'chorus_trust_deferred_changes',
      help: 'Endorsement changes stored but not yet in the trust graph (their issuers are over limits.trustChangesPerIssuerPerMinute, or the node over limits.trustRecomputesPerSecond)',
      registers: [this.registry],
      collect() {
        this.set(trust.deferredChanges());
      },
    });
  }

  countDecisions(ds: readonly Decision[]): void {
    for (const d of ds) {
      this.ingestDecisions.inc({ outcome: d.outcome, code: d.code });
      if (d.code === 'rate_limited' && typeof d.details?.['cap'] === 'string') this.admissionRefused.inc({ cap: d.details['cap'] });
    }
  }

  /** Registers the strangers' pool's metrics (SPEC §14.3): use against budget, groups, evictions. */
  watchPool(pool: StrangerPool): void {
    const registers = [this.registry];
    new Gauge({ name: 'chorus_pool_bytes', help: "Bytes of envelopes the strangers' pool holds", registers, collect() {
      this.set(pool.usedBytes);
    } });
    new Gauge({ name: 'chorus_pool_budget_bytes', help: "The strangers' pool budget (limits.strangerPoolBytes)", registers, collect() {
      this.set(pool.budget);
    } });
    new Gauge({ name: 'chorus_pool_groups', help: "Origin groups (networks, peers without a known address, local) holding strangers' attestations", registers, collect() {
      this.set(pool.groupCount);
    } });
    new Counter({ name: 'chorus_pool_evictions_total', help: "Strangers' attestations evicted to make room for others", registers, collect() {
      this.reset();
      this.inc(pool.evictions);
    } });
  }

  /** The view cache of node/local/view-reader.ts: reads by where they were answered, and its size. */
  watchViews(views: { readonly stats: { hits: number; shared: number; misses: number }; readonly cached: { digests: number; items: number } }): void {
    const registers = [this.registry];
    new Counter({ name: 'chorus_view_reads_total', help: 'Reads of the counting attestations about a digest (for a view), by where they were answered: cache (hit), a read already under way (shared), the store (miss)', labelNames: ['result'], registers, collect() {
      this.reset();
      this.inc({ result: 'hit' }, views.stats.hits);
      this.inc({ result: 'shared' }, views.stats.shared);
      this.inc({ result: 'miss' }, views.stats.misses);
    } });
    new Gauge({ name: 'chorus_view_cache_digests', help: 'Digests whose counting attestations the view cache holds', registers, collect() {
      this.set(views.cached.digests);
    } });
  }

  /** The kept views (issue 24): hits, misses, evictions and invalidations, and what they hold. */
  watchViewCache(cache: { readonly stats: { hits: number; misses: number; evictions: number; invalidations: number }; readonly size: { entries: number; bytes: number } }): void {
    const registers = [this.registry];
    new Counter({ name: 'chorus_views_kept_total', help: 'Reputation views asked of the kept-view cache, by outcome: hit (served as kept), miss (computed), evicted (dropped for room), invalidated (dropped by a change to what it read)', labelNames: ['outcome'], registers, collect() {
      this.reset();
      this.inc({ outcome: 'hit' }, cache.stats.hits);
      this.inc({ outcome: 'miss' }, cache.stats.misses);
      this.inc({ outcome: 'evicted' }, cache.stats.evictions);
      this.inc({ outcome: 'invalidated' }, cache.stats.invalidations);
    } });
    new Gauge({ name: 'chorus_views_kept', help: 'Reputation views kept computed now', registers, collect() {
      this.set(cache.size.entries);
    } });
    new Gauge({ name: 'chorus_views_kept_bytes', help: 'Memory the kept views take, estimated (bounded by limits.viewCacheBytes)', registers, collect() {
      this.set(cache.size.bytes);
    } });
  }

  /** Issuer logs (SPEC §16): mirrors, what they lack, equivocations, and the log protocol's traffic. */
  watchLogs(mirror: { readonly stats: { issuers: number; missing: number; equivocations: number } }, sync?: () => { checkpointsReceived: number; checkpointsRejected: number; leavesFetched: number; envelopesFetched: number; lyingPeers: number; served: number } | undefined): void {
    const registers = [this.registry];
    new Gauge({ name: 'chorus_log_mirrored_issuers', help: 'Issuer logs this node mirrors (the issuers that count, within transparency.maxMirroredIssuers)', registers, collect() {
      this.set(mirror.stats.issuers);
    } });
    new Gauge({ name: 'chorus_log_missing_statements', help: 'Statements of mirrored issuers known from their checkpoints and not held here (SPEC §16.4)', registers, collect() {
      this.set(mirror.stats.missing);
    } });
    new Gauge({ name: 'chorus_log_equivocations', help: 'Equivocation proofs held: issuers caught signing two histories (SPEC §16.5)', registers, collect() {
      this.set(mirror.stats.equivocations);
    } });
    new Counter({ name: 'chorus_log_events_total', help: 'Issuer-log work: checkpoints received by gossip and rejected, leaves and statements fetched, peers caught lying about leaves, log requests served', labelNames: ['event'], registers, collect() {
      this.reset();
      const s = sync?.();
      if (s === undefined) return;
      this.inc({ event: 'checkpoint_received' }, s.checkpointsReceived);
      this.inc({ event: 'checkpoint_rejected' }, s.checkpointsRejected);
      this.inc({ event: 'leaf_fetched' }, s.leavesFetched);
      this.inc({ event: 'statement_fetched' }, s.envelopesFetched);
      this.inc({ event: 'lying_peer' }, s.lyingPeers);
      this.inc({ event: 'request_served' }, s.served);
    } });
  }
}
