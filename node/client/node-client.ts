import type { Readable } from 'node:stream';
import type { z } from 'zod';
import type { ReputationView } from '../../src/reputation/view-schema.js';
import type { Envelope } from '../../src/statement/statement.js';
import type {
  AttestationDetailSchema, AttestationSummarySchema, LookupSchema, PeerSchema, PublishResult, StatusSchema, TrustView,
} from '../api/api-schemas.js';
import type { ImportTally } from '../ingest/import-lines.js';

export type AttestationSummary = z.infer<typeof AttestationSummarySchema>;
export type AttestationDetail = z.infer<typeof AttestationDetailSchema>;
export type PublishOutcome = z.infer<typeof PublishResult>;
export type NodeStatus = z.infer<typeof StatusSchema>;
export type TrustListView = z.infer<typeof TrustView>;
export type PeerView = z.infer<typeof PeerSchema>;
export type LookupView = z.infer<typeof LookupSchema>;
/** A reputation view, with what asking the network did when the node knew nothing. */
export type ViewWithLookup = ReputationView & { lookup?: LookupView };

export interface ListPage {
  readonly items: AttestationSummary[];
  readonly next: number | null;
}

/**
 * What the CLI asks of a node. Two implementations: the data dir opened in process, and
 * the running daemon over its HTTP API — the commands behave the same with either.
 */
export interface NodeClient {
  readonly mode: 'local' | 'daemon';
  /** `lookup: false`: do not ask the network about a digest this node holds nothing about. */
  view(digest: string, opts?: { lookup?: boolean }): Promise<ViewWithLookup>;
  publish(envelope: Envelope): Promise<PublishOutcome>;
  importLines(stream: Readable, opts: { show: number; onProgress?: (t: Readonly<ImportTally>, committed: number) => void }): Promise<ImportTally>;
  get(id: string): Promise<AttestationDetail | undefined>;
  list(by: { subject?: string; issuer?: string }, page: { after: number; limit: number }): Promise<ListPage>;
  trust(): Promise<TrustListView>;
  setTrust(issuers: { issuer: string; note?: string }[]): Promise<TrustListView>;
  status(): Promise<NodeStatus>;
  /** Connected peers (needs a running node). */
  peers(): Promise<PeerView[]>;
  /** Dials a peer and keeps the connection (needs a running node). */
  connect(multiaddr: string): Promise<string>;
  close(): Promise<void>;
}
