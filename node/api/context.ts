import type { FastifyReply, FastifyRequest } from 'fastify';
import type { LocalNode } from '../local/local-node.js';
import type { EventHub } from './event-hub.js';
import type { Health } from './health.js';
import type { Metrics } from './metrics.js';
import type { StoredAttestation } from '../store/attestation-store.js';
import type { Network } from '../net/network.js';

/** Everything the API's handlers use, built once at start. */
export interface AppContext {
  readonly node: LocalNode;
  readonly token: string;
  readonly events: EventHub;
  readonly metrics: Metrics;
  readonly health: Health;
  readonly startedAt: number;
  /** The peer-to-peer side, when net.enabled. */
  readonly network: Network | undefined;
  /** Set once the server listens. */
  url: string;
}

/** The summary form of a stored attestation in API responses. */
export function summarize(a: StoredAttestation) {
  return {
    id: a.id,
    seq: a.seq,
    receivedAt: new Date(a.receivedAt).toISOString(),
    kind: a.kind ?? null,
    predicateType: a.statement.predicateType,
    issuer: a.issuer,
    issuedAt: new Date(a.issuedAt).toISOString(),
    ...(a.expiresAt === undefined ? {} : { expiresAt: new Date(a.expiresAt).toISOString() }),
    subjects: [...new Set(a.statement.subject.map((s) => s.digest.sha256))],
    envelope: a.envelope,
  };
}

/** Hooks that protect write routes: the token check and the per-client rate limit; and the token check alone. */
export interface Guards {
  readonly write: (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
  /** Whether the request carries the API token. */
  readonly authed: (req: FastifyRequest) => boolean;
  readonly writeLimit: { max: number; timeWindow: string };
}
