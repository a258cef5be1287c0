import { z } from 'zod';
import { ScopeList, TrustParams, TrustPolicyFile } from '../../src/reputation/policy.js';
import { Envelope, Subject } from '../../src/statement/statement.js';
import { IssuerTrustSchema, LogCompletenessSchema, ReputationViewSchema } from '../../src/reputation/view-schema.js';
import { DidKeyString, Timestamp } from '../../src/statement/common.js';

/**
 * The node's operations' contract: the HTTP API validates with these schemas, the OpenAPI
 * document is generated from them, and clients (in process or over HTTP) are typed by them.
 */

export const ErrorBodySchema = z.object({
  code: z.string().describe('stable error code (SPEC.md §8.2 and README)'),
  message: z.string(),
  details: z.record(z.string(), z.unknown()).optional(),
}).describe('Error');

export const DigestParams = z.strictObject({
  digest: z.string().max(80).describe('model digest: sha256:<hex> or bare hex'),
});

export const ReputationQuery = z.strictObject({
  lookup: z.enum(['true', 'false']).optional().describe('when this node holds nothing about the digest, ask the network (DHT provider records) first; default true'),
  without: DidKeyString.optional().describe('what-if: the view with this issuer\'s attestations left out'),
});

export const LookupSchema = z
  .object({
    outcome: z.enum(['asked', 'skipped']).describe('skipped: asked recently without result, or too many lookups at once'),
    holders: z.int().describe('nodes the DHT named as holding attestations about the digest'),
    fetched: z.int(),
    accepted: z.int().describe('attestations that landed here through the ingest path'),
    ms: z.int(),
  })
  .describe('what asking the network about an unknown digest did');

export const LocalKnowledgeSchema = z.object({
  scannedAt: z.string(),
  label: z.string(),
  models: z.array(z.object({
    name: z.string(),
    runtime: z.string(),
    path: z.string().describe('where the file (or the model directory) lives on this machine'),
    inspection: z.enum(['dangerous', 'not-inspected', 'findings', 'no-model-format', 'clean']),
    findings: z.array(z.object({ kind: z.string(), severity: z.string(), detail: z.string(), path: z.string().optional() })).describe('the most severe first, at most 10'),
    findingsTotal: z.int(),
  })),
}).describe('what this machine\'s own last `chorus scan` found about the digest: local and unsigned, beside (never part of) the network\'s view unless attested; given only to the API token or a logged-in page, as it names files on this machine');

export const ReputationResponse = ReputationViewSchema.extend({ lookup: LookupSchema.optional(), local: LocalKnowledgeSchema.optional() });

export const IdParams = z.strictObject({ id: z.string().max(80).describe('attestation id: 64 hex, or a unique prefix of at least 8') });

export const PageQuery = z.strictObject({
  after: z.coerce.number().int().min(0).default(0).describe('arrival sequence to start after (the previous page\'s next)'),
  before: z.coerce.number().int().min(1).optional().describe('the newest first, before this arrival sequence (instead of after)'),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

export const ListQuery = PageQuery.extend({
  issuer: z.string().max(100).optional().describe('only attestations by this did:key'),
  before: z.coerce.number().int().min(1).optional().describe('newest first: arrivals before this sequence number (the previous page\'s next); not with after'),
});

export const AttestationSummarySchema = z.object({
  id: z.string(),
  seq: z.int(),
  receivedAt: z.string(),
  kind: z.string().nullable().describe('Chorus predicate kind, null for a type this node does not know'),
  predicateType: z.string(),
  issuer: z.string(),
  issuedAt: z.string(),
  expiresAt: z.string().optional(),
  subjects: z.array(z.string()),
  envelope: Envelope,
});

export const AttestationDetailSchema = AttestationSummarySchema.extend({
  statement: z.record(z.string(), z.unknown()),
  retractedBy: z.array(z.string()),
});

export const PageSchema = z.object({
  items: z.array(AttestationSummarySchema),
  next: z.int().nullable().describe('pass as ?after= for the next page; null at the end'),
});

/** Publish: a pre-signed envelope, or a statement for the node to sign with its key. */
export const UnsignedStatement = z.strictObject({
  subject: z.array(Subject).min(1).max(64),
  predicateType: z.string().min(1).max(512),
  predicate: z.record(z.string(), z.unknown()).describe('predicate fields; issuer and issuedAt are set by the node'),
  expiresAt: Timestamp.optional(),
});

export const PublishBody = z.union([Envelope, z.strictObject({ statement: UnsignedStatement })], {
  error: 'expected a DSSE envelope {payloadType, payload, signatures} or {"statement": {subject, predicateType, predicate}}',
});

export const PublishResult = z.object({
  outcome: z.enum(['accept', 'ignore', 'reject']),
  code: z.string(),
  id: z.string().optional(),
  message: z.string().optional(),
  envelope: Envelope.optional().describe('the envelope the node signed, for unsigned publishes'),
});

export const QueryBody = z.strictObject({
  digests: z.array(z.string().max(80)).min(1).max(1000),
  without: DidKeyString.optional().describe('what-if: leave this issuer out of every view'),
  evidence: z.boolean().default(false).describe('include every attestation with each view (default: the summaries only)'),
});

export const QueryResult = z.object({
  results: z.array(z.union([ReputationViewSchema, z.object({ digest: z.string(), error: ErrorBodySchema })])),
});

export const ImportResult = z.object({
  lines: z.int(),
  accepted: z.int(),
  ignored: z.int(),
  rejected: z.int(),
  byCode: z.record(z.string(), z.int()),
  problems: z.array(z.object({ line: z.int(), outcome: z.string(), code: z.string(), message: z.string() })),
});

export const TrustEntrySchema = z.object({ issuer: z.string(), note: z.string().optional(), addedAt: z.string().optional() });
export const TrustView = z.object({
  self: z.string().nullable().describe("this node's own key, when it counts without being listed"),
  issuers: z.array(TrustEntrySchema).describe('the roots, as a flat list (version 1 form)'),
  policy: TrustPolicyFile.describe('the whole policy: roots with scope and weight, blocks, subscriptions, parameters (SPEC §10.1)'),
});
export const TrustPut = z.union([
  z.strictObject({
    issuers: z.array(z.strictObject({ issuer: z.string().max(100), note: z.string().max(256).optional(), scope: ScopeList.optional(), weight: z.number().gt(0).max(1).optional() })).max(10_000),
  }).describe('replace the roots (blocks, subscriptions and parameters are kept)'),
  TrustPolicyFile.describe('replace the whole policy'),
]);
export const TrustEdit = z.discriminatedUnion('op', [
  z.strictObject({ op: z.literal('trust'), issuer: DidKeyString, scope: ScopeList.optional(), weight: z.number().gt(0).max(1).optional(), note: z.string().max(256).optional() }),
  z.strictObject({ op: z.literal('block'), issuer: DidKeyString, note: z.string().max(256).optional() }),
  z.strictObject({ op: z.literal('subscribe'), issuer: DidKeyString, weight: z.number().gt(0).max(1).optional(), note: z.string().max(256).optional() }),
  z.strictObject({ op: z.literal('remove'), issuer: DidKeyString }),
]);
export const TrustEditResult = TrustView.extend({ changed: z.boolean() });

export const DidParams = z.strictObject({ did: z.string().max(100).describe('an Ed25519 did:key') });
export const IssuerView = z.object({
  did: z.string(),
  note: z.string().optional(),
  role: z.enum(['self', 'root', 'subscription', 'blocked', 'endorsed', 'stranger']),
  trust: z.record(z.string(), IssuerTrustSchema).describe('your trust in the issuer per kind, with the strongest path'),
  counts: z.boolean().describe('whether the issuer counts in some kind (trust at or above minWeight)'),
  endorsedBy: z.array(z.object({ id: z.string(), issuer: z.string(), scope: z.array(z.string()), weight: z.number(), issuedAt: z.string(), expiresAt: z.string().optional() })).describe('endorsements of this issuer stored here (newest first, at most 100)'),
  endorses: z.array(z.object({ id: z.string(), endorsed: z.string(), scope: z.array(z.string()), weight: z.number() })).describe('its own endorsements (newest first, at most 100)'),
  published: z.object({ attestations: z.int(), bytes: z.int(), recent: z.array(AttestationSummarySchema) }),
  log: z.object({
    completeness: LogCompletenessSchema,
    equivocation: z.object({ type: z.literal('chorus-equivocation/v1'), a: z.string(), b: z.string(), nodes: z.array(z.string()).readonly() }).nullable().describe('two checkpoints this issuer signed that cannot both be true (SPEC §16.5), when this node holds such a proof'),
  }).optional().describe('its issuer log as this node holds it (SPEC §16); absent when no node is running'),
});
export const TrustGraphView = z.object({
  roots: z.int(),
  subscriptions: z.int(),
  blocks: z.int(),
  endorsements: z.int().describe('live endorsements taking part in the graph'),
  reached: z.int().describe('issuers that count in some kind'),
  byScope: z.record(z.string(), z.int()).describe('issuers that count, per kind'),
  params: TrustParams,
  issuers: z.array(z.object({ issuer: z.string(), note: z.string().optional(), trust: z.record(z.string(), z.number()) })).describe('the most trusted issuers (at most 200), by their highest trust'),
});

export const ReachabilitySchema = z.object({
  state: z.enum(['public', 'relayed', 'private']).describe('public: a public address confirmed by AutoNAT; relayed: reachable through a circuit relay; private: this machine or LAN only'),
  addresses: z.array(z.object({ addr: z.string(), type: z.string(), verified: z.boolean() })),
  upnp: z.boolean(),
  autonat: z.boolean(),
  relay: z.enum(['off', 'auto', 'always']),
  relayServer: z.boolean(),
  dcutr: z.boolean(),
});

export const BudgetSchema = z.object({
  name: z.string().describe('what is bounded, e.g. "strangers\' pool", "connections"'),
  used: z.number(),
  limit: z.number(),
  unit: z.string().describe('bytes, connections, records, units/min, …'),
  config: z.string().optional().describe('the config key that sets the limit'),
});
export type Budget = z.infer<typeof BudgetSchema>;

export const StatusSchema = z.object({
  version: z.string(),
  did: z.string(),
  home: z.string().optional().describe('the data dir; only for requests with the API token'),
  uptimeSeconds: z.number(),
  attestations: z.int(),
  lastSeq: z.int(),
  storeBytes: z.int(),
  strangerPool: z.object({ usedBytes: z.int(), budgetBytes: z.int() }).describe('envelopes of issuers you do not trust, together, against limits.strangerPoolBytes'),
  trustedIssuers: z.int(),
  api: z.object({ url: z.string().nullable().describe('null when no node is running'), requireTokenForReads: z.boolean(), lan: z.object({ url: z.string(), fingerprint: z.string().describe('SHA-256 of its certificate: check it on the first visit') }).optional().describe('the LAN server (HTTPS), when api.lan is on') }),
  network: z
    .object({
      peerId: z.string(),
      listen: z.array(z.string()),
      peers: z.int(),
      reachability: ReachabilitySchema,
      providers: z
        .object({ announced: z.int(), pending: z.int(), waiting: z.int() })
        .nullable()
        .describe('digests announced in the DHT by this run, queued, and waiting for a peer; null when net.providers or net.dht is off'),
    })
    .nullable()
    .describe('null when the node does not join the network'),
  budgets: z.array(BudgetSchema).describe('what strangers may cost this node (SPEC §14), each with its use now; `chorus status` shows those near their limit'),
});

export const PeerSchema = z.object({
  peerId: z.string(),
  addresses: z.array(z.string()),
  latencyMs: z.number().nullable(),
  gossipScore: z.number(),
  direction: z.string().describe('inbound, outbound, or both when this node has connections each way'),
  relayed: z.boolean().describe('the connection runs through a circuit relay'),
  lastSync: z.object({ at: z.string(), fetched: z.int() }).nullable().describe('the last catch-up sync with this peer: when it finished and how many attestations it fetched; null before the first'),
});
export const PeersView = z.object({ peers: z.array(PeerSchema) });
export const ConnectBody = z.strictObject({ multiaddr: z.string().min(1).max(1024) });
export const ConnectResult = z.object({ peerId: z.string() });

export const HealthSchema = z.object({
  ok: z.boolean(),
  status: z.literal('degraded').optional(),
  reason: z.enum(['storage_full']).optional().describe('storage_full: the last write failed for lack of disk space; clears when a write succeeds'),
});

export const DerivedModels = z.object({
  digest: z.string(),
  models: z.array(z.object({
    digest: z.string().describe('a model a lineage claim says derives from this one'),
    name: z.string().optional(),
    relation: z.string().describe('quantized, fine-tuned, merged, converted, distilled or pruned'),
    id: z.string().describe('the lineage claim'),
    issuer: z.string(),
    issuerNote: z.string().optional(),
    issuedAt: z.string(),
    counts: z.boolean().describe('its issuer counts on lineage in your view (trusted, not blocked, not retracted)'),
  })).describe('of the newest 1,000 claims: those that count first, then at most 20 others'),
});
