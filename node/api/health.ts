import type { Decision } from '../../src/ingest/decide.js';

/** Why /healthz answers 503. */
export type Degraded = 'storage_full';

/**
 * What /healthz reports beyond "the process answers": a write that failed for lack of
 * disk space makes the node degraded until a write succeeds again or the store recovers
 * (reopened once space is free, AttestationStore.recover), so a supervisor or load
 * balancer sees the problem and sees it clear without a restart.
 */
export class Health {
  private reason: Degraded | undefined;

  /** Hears each committed (or failed) group of ingest decisions. */
  noteDecisions(ds: readonly Decision[]): void {
    if (ds.some((d) => d.code === 'storage_full')) this.reason = 'storage_full';
    else if (ds.some((d) => d.outcome === 'accept')) this.reason = undefined;
  }

  storageFull(): void {
    this.reason = 'storage_full';
  }

  /** The store takes writes again. */
  storageFreed(): void {
    if (this.reason === 'storage_full') this.reason = undefined;
  }

  get degraded(): Degraded | undefined {
    return this.reason;
  }
}
