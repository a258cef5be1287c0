import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Decision } from '../../src/ingest/decide.js';
import type { AttestationStore } from '../store/attestation-store.js';

/** The node's Prometheus metrics, on a registry of its own. */
export class Metrics {
  readonly registry = new Registry();
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  readonly ingestDecisions: Counter<'outcome' | 'code'>;
  readonly eventStreams: Gauge;
  readonly eventStreamsDropped: Counter;

  constructor(store: AttestationStore) {
    collectDefaultMetrics({ register: this.registry, prefix: 'chorus_process_' });
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
    this.eventStreams = new Gauge({ name: 'chorus_event_streams', help: 'Open /v1/events streams', registers: [this.registry] });
    this.eventStreamsDropped = new Counter({
      name: 'chorus_event_streams_dropped_total',
      help: 'Event streams disconnected because the client stopped reading',
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
      name: 'chorus_store_bytes',
      help: 'Bytes the store takes on disk',
      registers: [this.registry],
      async collect() {
        this.set(await store.diskBytes());
      },
    });
  }

  countDecisions(ds: readonly Decision[]): void {
    for (const d of ds) this.ingestDecisions.inc({ outcome: d.outcome, code: d.code });
  }
}
