import type { Readable } from 'node:stream';
import type { z } from 'zod';
import type { Envelope } from '../../src/statement/statement.js';
import type { LogCompleteness } from '../../src/reputation/view-schema.js';
import type { PeerSchema } from '../service/contract.js';
import type { PolicyEdit } from '../home/trust-list.js';
import type { ImportTally } from '../ingest/import-lines.js';
import type { CheckResult } from '../service/check.js';
import type {
  AttestationDetail, AttestationSummary, IssuerInfo, LookupView, NodeStatus, PublishOutcome, TrustGraphInfo, TrustListView, ViewWithLookup,
} from '../service/node-service.js';

export type { CheckResult };
export type { AttestationDetail, AttestationSummary, IssuerInfo, LookupView, NodeStatus, PublishOutcome, TrustGraphInfo, TrustListView, ViewWithLookup };
export type PeerView = z.infer<typeof PeerSchema>;

export interface ListPage {
  readonly items: AttestationSummary[];
  readonly next: number | null;
}

/**
 * What the CLI asks of a node. Two implementations: the data dir opened in process (over
 * the same NodeService the API's routes call), and the running daemon over its HTTP API —
 * the commands behave the same with either.
 */
/** What `chorus log verify` shows (GET /v1/issuers/{did}/log/status, POST …/log/verify). */
export interface LogVerifyResult {
  completeness: LogCompleteness;
  missingIds: string[];
  fetched: { leaves: number; envelopes: number };
  equivocation: { type: 'chorus-equivocation/v1'; a: string; b: string; nodes: readonly string[] } | null;
}

export interface NodeClient {
  readonly mode: 'local' | 'daemon';
  /** `lookup: false`: do not ask the network about a digest this node holds nothing about; `without`: what-if. */
  view(digest: string, opts?: { lookup?: boolean; without?: string | undefined }): Promise<ViewWithLookup>;
  publish(envelope: Envelope): Promise<PublishOutcome>;
  importLines(stream: Readable, opts: { show: number; onProgress?: (t: Readonly<ImportTally>, committed: number) => void }): Promise<ImportTally>;
  get(id: string): Promise<AttestationDetail | undefined>;
  /** With neither subject nor issuer and `before` set: the newest first. */
  list(by: { subject?: string; issuer?: string }, page: { after: number; before?: number; limit: number }): Promise<ListPage>;
  trust(): Promise<TrustListView>;
  setTrust(issuers: { issuer: string; note?: string }[]): Promise<TrustListView>;
  editTrust(edit: Exclude<PolicyEdit, { op: 'params' }>): Promise<TrustListView & { changed: boolean }>;
  issuer(did: string): Promise<IssuerInfo>;
  trustGraph(): Promise<TrustGraphInfo>;
  /** The gate's decision about a digest (SPEC §15). */
  check(digest: string): Promise<CheckResult>;
  /** Approvals by the configured approvers. */
  approved(): Promise<AttestationSummary[]>;
  status(): Promise<NodeStatus>;
  /** Connected peers (needs a running node). */
  peers(): Promise<PeerView[]>;
  /** This node's own issuer log (SPEC §16): its newest checkpoint, a C2SP signed note. */
  logCheckpoint(did?: string): Promise<string>;
  /** An inclusion proof of an attestation in this node's log (or the mirrored log of `did`), with the checkpoint it is against. */
  logProof(id: string, did?: string): Promise<{ index: number; size: number; proof: string[]; checkpoint: string }>;
  /** How complete this node's copy of `did`'s log is; with `fetch`, completed from peers first (needs a running node). */
  logVerify(did: string, fetch: boolean): Promise<LogVerifyResult>;
  /** Dials a peer and keeps the connection (needs a running node). */
  connect(multiaddr: string): Promise<string>;
  close(): Promise<void>;
}
