import type { z } from 'zod';
import { LocalScanIndex, type LocalKnowledge } from '../scan/local-knowledge.js';
import { ChorusError, isChorusError } from '../../src/errors.js';
import { parseDigest } from '../../src/digest/parse-digest.js';
import { publicKeyFromDidKey } from '../../src/identity/did-key.js';
import { SCOPES } from '../../src/reputation/policy.js';
import { issuerTrust, round } from '../../src/reputation/view.js';
import type { ApprovalPredicate, EndorsementPredicate, LineagePredicate } from '../../src/statement/predicates.js';
import { decideCheck, type CheckInput, type CheckResult } from './check.js';
import type { Envelope } from '../../src/statement/statement.js';
import { editPolicy, loadPolicy, replaceRoots, writePolicy, type PolicyEdit } from '../home/trust-list.js';
import type { LocalNode, NodeView } from '../local/local-node.js';
import { viewSummary, type ServedView } from '../local/served-view.js';
import type { StoredAttestation } from '../store/attestation-store.js';
import { VERSION } from '../version.js';
import { endorsementSubject } from '../../src/statement/endorsement-subject.js';
import type {
  AttestationDetailSchema, AttestationSummarySchema, Budget, DerivedModels, IssuerView, LookupSchema, PublishResult, StatusSchema, TrustGraphView, TrustPut, TrustView,
} from './contract.js';

export type AttestationSummary = z.infer<typeof AttestationSummarySchema>;
export type AttestationDetail = z.infer<typeof AttestationDetailSchema>;
export type PublishOutcome = z.infer<typeof PublishResult>;
export type NodeStatus = z.infer<typeof StatusSchema>;
export type TrustListView = z.infer<typeof TrustView>;
export type IssuerInfo = z.infer<typeof IssuerView>;
export type TrustGraphInfo = z.infer<typeof TrustGraphView>;
export type LookupView = z.infer<typeof LookupSchema>;
/** A reputation view, with what asking the network did when the node knew nothing. */
export type ViewWithLookup = NodeView & { lookup?: LookupView; local?: LocalKnowledge };
/** How a view is asked for: a what-if, whether to ask the network first, whether local scan results may be shown. */
export interface ViewOptions { without?: string | undefined; lookup?: boolean; local?: boolean }
export interface QueryOptions { evidence?: boolean; without?: string | undefined }
/** One digest's answer in a batch query: its view (or summary), or why it could not be read. */
export type QueryItem = NodeView | { digest: string; error: { code: string; message: string } };

/** The summary form of a stored attestation. */
export function summarize(a: StoredAttestation): AttestationSummary {
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

/** What the service needs of a running node beyond the data dir (absent in process). */
export interface ServiceEnv {
  /** Asks the network about a digest this node holds nothing about. */
  readonly lookup?: (digest: string) => Promise<LookupView>;
  readonly startedAt?: number;
  readonly url?: () => string;
  /** The LAN server, when there is one. */
  readonly lan?: () => { url: string; fingerprint: string } | undefined;
  readonly network?: () => Promise<NodeStatus['network']>;
  /** The running node's budgets besides the store's (network, API). */
  readonly budgets?: () => Promise<Budget[]>;
  /** Told every view answered (the baseline of status-change events). */
  readonly seen?: (digest: string, view: NodeView) => void;
}


/**
 * The node's operations, once: the HTTP API's routes and the in-process client both call
 * these, so the CLI gives the same answers with or without a running node.
 */
export class NodeService {
  constructor(
    readonly node: LocalNode,
    private readonly env: ServiceEnv = {},
  ) {}

  /** The reputation view of a digest; a node holding nothing about it may ask the network first. */
  async view(digestText: string, opts: ViewOptions = {}): Promise<ViewWithLookup> {
    return (await this.viewAnswer(digestText, opts)).view;
  }

  /**
   * The view as `view` answers it, and when the answer is exactly the node's served view
   * (no what-if, no lookup, nothing local beside it) its JSON, made once per kept view: the
   * HTTP route writes those bytes without serializing again.
   */
  async viewAnswer(digestText: string, opts: ViewOptions = {}): Promise<{ view: ViewWithLookup; json?: Buffer }> {
    const digest = parseDigest(digestText);
    if (opts.without !== undefined && publicKeyFromDidKey(opts.without) === undefined) throw new ChorusError('bad_input', `without: not an Ed25519 did:key: "${opts.without.slice(0, 100)}"`);
    const served = opts.without === undefined ? await this.node.servedView(digest) : undefined;
    let view: ViewWithLookup = served?.view ?? await this.node.view(digest, { without: opts.without });
    if (this.env.lookup && opts.lookup !== false && view.evidence.total === 0) {
      const lookup = await this.env.lookup(digest);
      view = { ...(lookup.accepted > 0 ? await this.node.view(digest, { without: opts.without }) : view), lookup };
    }
    if (opts.without === undefined) this.env.seen?.(digest, view);
    // Beside the network's view: what this machine's own scan found about it (local, unsigned),
    // for those who may read what names this machine's files.
    const local = opts.local === false ? undefined : await this.localScans.about(digest).catch(() => undefined);
    if (local !== undefined) return { view: { ...view, local } };
    return served !== undefined && view === served.view ? { view, json: served.json() } : { view };
  }

  private localScansIndex: LocalScanIndex | undefined;
  private get localScans(): LocalScanIndex {
    return (this.localScansIndex ??= new LocalScanIndex(this.node.home.root));
  }

  /** Views of up to 1,000 digests: each distinct digest viewed once, evidence sent once. */
  async query(digests: readonly string[], opts: QueryOptions): Promise<{ results: QueryItem[] }> {
    return { results: (await this.queryAnswer(digests, opts)).map((answer) => answer.item) };
  }

  /**
   * `query`'s results, each with its JSON when it is a served view's (made once per kept
   * view): the HTTP route joins those bytes instead of serializing 1,000 views again.
   */
  async queryAnswer(digests: readonly string[], opts: QueryOptions): Promise<{ item: QueryItem; json?: Buffer }[]> {
    const graph = opts.without !== undefined ? await this.node.trustState.without(opts.without) : await this.node.trust();
    const views = new Map<string, Promise<{ view: NodeView; served?: ServedView<NodeView> }>>();
    const viewOf = (digest: string): Promise<{ view: NodeView; served?: ServedView<NodeView> }> => {
      let v = views.get(digest);
      // One graph for the whole query; the node's clock (so a kept view can answer).
      if (v === undefined) {
        views.set(digest, (v = opts.without === undefined
          ? this.node.servedView(digest, graph).then((served) => ({ view: served.view, served }))
          : this.node.view(digest, { graph, without: opts.without }).then((view) => ({ view }))));
      }
      return v;
    };
    const withEvidence = new Set<string>();
    return Promise.all(digests.map(async (text) => {
      try {
        const digest = parseDigest(text);
        const { view, served } = await viewOf(digest);
        if (opts.without === undefined) this.env.seen?.(digest, view);
        if (opts.evidence && !withEvidence.has(digest)) {
          withEvidence.add(digest);
          return { item: view, ...(served ? { json: served.json() } : {}) };
        }
        // Without evidence: each predicate's summary and counts, not its attestations.
        return served ? { item: viewSummary(view), json: served.summaryJson() } : { item: viewSummary(view) };
      } catch (e) {
        if (!isChorusError(e)) throw e;
        return { item: { digest: text, error: { code: e.code, message: e.message } } };
      }
    }));
  }

  async publish(envelope: Envelope): Promise<PublishOutcome> {
    const d = await this.node.ingestor.ingest(JSON.stringify(envelope));
    return d.outcome === 'accept'
      ? { outcome: d.outcome, code: d.code, id: d.id }
      : { outcome: d.outcome, code: d.code, message: d.message, ...(d.id ? { id: d.id } : {}) };
  }

  /**
   * The gate for one digest (inspection of files is the caller's: pass its verdict): the
   * view's status and the live approvals by configured approvers, decided by check.mode.
   */
  async check(digestText: string, inspection?: CheckInput['inspection']): Promise<CheckResult> {
    const digest = parseDigest(digestText);
    const view = await this.node.view(digest);
    return decideCheck({ digest, status: view.status, reason: view.reason, approvals: await this.approvals(digest), inspection }, this.node.config.check);
  }

  /** Live approvals of a digest by the configured approvers (not expired, not retracted by them). */
  async approvals(digest: string): Promise<CheckResult['approvals']> {
    const approvers = this.node.config.check.approvers;
    const out: CheckResult['approvals'] = [];
    const now = Date.now();
    for (const issuer of approvers) {
      for (const a of await this.node.store.newestBySubjectIssuer(digest, issuer, 100)) {
        if (a.kind !== 'approval' || (a.expiresAt !== undefined && a.expiresAt <= now)) continue;
        if (await this.node.store.retractedBy(a.id, issuer)) continue;
        const p = a.statement.predicate as ApprovalPredicate;
        out.push({ id: a.id, issuer, name: p.name, ...(p.version === undefined ? {} : { version: p.version }), ...(p.license === undefined ? {} : { license: p.license }) });
      }
    }
    return out;
  }

  /** Approvals by the configured approvers, newest first (chorus list --approved). */
  async approved(limit = 1000): Promise<AttestationSummary[]> {
    const out: AttestationSummary[] = [];
    for (const issuer of this.node.config.check.approvers) {
      const page = await this.node.store.byIssuer(issuer, { limit: 10_000 });
      for (const a of page.items) if (a.kind === 'approval') out.push(summarize(a));
    }
    return out.sort((a, b) => (a.issuedAt < b.issuedAt ? 1 : -1)).slice(0, limit);
  }

  /** One stored attestation with its statement and any retractions of it. */
  async detail(idText: string): Promise<AttestationDetail> {
    const id = await this.node.store.resolveId(idText);
    const a = await this.node.store.get(id);
    if (!a) throw new ChorusError('not_found', `no attestation ${id} in this node's store`);
    return { ...summarize(a), statement: a.statement as unknown as Record<string, unknown>, retractedBy: await this.node.store.retractionsOf(id) };
  }

  /** By subject or issuer in arrival order; with neither, the newest first (`before` pages back). */
  async list(by: { subject?: string | undefined; issuer?: string | undefined }, q: { after: number; before?: number | undefined; limit: number }): Promise<{ items: AttestationSummary[]; next: number | null }> {
    const store = this.node.store;
    if (q.before !== undefined && q.after > 0) throw new ChorusError('bad_input', 'give after (oldest first) or before (newest first), not both');
    if (by.subject === undefined && by.issuer === undefined && q.before !== undefined) {
      const page = await store.bySeq({ before: q.before, limit: q.limit });
      return { items: page.items.map(summarize), next: page.next ?? null };
    }
    const page = by.subject !== undefined ? await store.bySubject(parseDigest(by.subject), q) : by.issuer !== undefined ? await store.byIssuer(by.issuer, q) : await store.bySeq({ after: q.after, limit: q.limit });
    return { items: page.items.map(summarize), next: page.next ?? null };
  }

  async trust(): Promise<TrustListView> {
    const policy = await loadPolicy(this.node.home.trust);
    return {
      self: this.node.config.trust.includeSelf ? this.node.identity.did : null,
      issuers: policy.roots.map((r) => ({ issuer: r.issuer, ...(r.note === undefined ? {} : { note: r.note }), ...(r.addedAt === undefined ? {} : { addedAt: r.addedAt }) })),
      policy,
    };
  }

  /** Policy edits one at a time: each reads, changes and writes the file. */
  private editing: Promise<unknown> = Promise.resolve();

  private serialised<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.editing.then(fn);
    this.editing = run.catch(() => undefined);
    return run;
  }

  /** Replaces the roots (an issuer list) or the whole policy; says which entries that removed. */
  setTrust(body: z.infer<typeof TrustPut>): Promise<TrustListView & { removed: { issuer: string; was: 'root' | 'block' | 'subscription' }[] }> {
    return this.serialised(async () => {
      const before = await loadPolicy(this.node.home.trust);
      if ('version' in body) await writePolicy(this.node.home.trust, body);
      else await replaceRoots(this.node.home.trust, body.issuers, new Date());
      this.node.trustChanged();
      const after = await loadPolicy(this.node.home.trust);
      const entries = (p: typeof before) => [
        ...p.roots.map((e) => ({ issuer: e.issuer, was: 'root' as const })),
        ...p.blocks.map((e) => ({ issuer: e.issuer, was: 'block' as const })),
        ...p.subscriptions.map((e) => ({ issuer: e.issuer, was: 'subscription' as const })),
      ];
      const kept = new Set(entries(after).map((e) => `${e.was} ${e.issuer}`));
      const removed = entries(before).filter((e) => !kept.has(`${e.was} ${e.issuer}`));
      return { ...(await this.trust()), removed };
    });
  }

  /** One change: trust (with scope and weight), block, subscribe, remove. */
  editTrust(edit: PolicyEdit): Promise<TrustListView & { changed: boolean }> {
    return this.serialised(async () => {
      const { changed } = await editPolicy(this.node.home.trust, edit);
      if (changed) this.node.trustChanged();
      return { ...(await this.trust()), changed };
    });
  }

  /**
   * Models derived from this one, by the lineage claims naming it as their base; the claim's
   * own subjects are the derived models. Of the newest 1,000 claims, those whose issuer
   * counts on lineage come first, then at most 20 others: a flood of strangers' claims about
   * a popular base cannot push the trusted ones out, and costs one bounded read.
   */
  async derived(digestText: string): Promise<z.infer<typeof DerivedModels>> {
    const base = parseDigest(digestText);
    const graph = await this.node.trust();
    const claims = await this.node.store.derivedFrom(base, 1000);
    const counting: z.infer<typeof DerivedModels>['models'] = [];
    const others: z.infer<typeof DerivedModels>['models'] = [];
    for (const a of claims) {
      const trusted = graph.trust(a.issuer, 'lineage').trust > 0;
      if (!trusted && others.length >= 20) continue;
      const counts = trusted && !(await this.node.store.retractedBy(a.id, a.issuer));
      const p = a.statement.predicate as LineagePredicate;
      const relation = p.derivedFrom.find((d) => d.digest.sha256 === base)?.relation ?? 'derived';
      const note = graph.noteOf(a.issuer);
      for (const s of a.statement.subject) {
        (counts ? counting : others).push({
          digest: `sha256:${s.digest.sha256}`,
          ...(s.name ? { name: s.name } : {}),
          relation, id: a.id, issuer: a.issuer, ...(note === undefined ? {} : { issuerNote: note }),
          issuedAt: new Date(a.issuedAt).toISOString(), counts,
        });
      }
    }
    return { digest: `sha256:${base}`, models: [...counting, ...others.slice(0, 20)] };
  }

  /** What this node knows and thinks of an issuer. */
  async issuer(did: string): Promise<IssuerInfo> {
    if (publicKeyFromDidKey(did) === undefined) throw new ChorusError('bad_input', `not an Ed25519 did:key: "${did.slice(0, 100)}"`);
    const graph = await this.node.trust();
    const policy = graph.policy;
    const root = policy.roots.find((r) => r.issuer === did);
    const role = graph.isBlocked(did) ? 'blocked'
      : did === this.node.identity.did && this.node.config.trust.includeSelf ? 'self'
        : root ? 'root'
          : policy.subscriptions.some((s) => s.issuer === did) ? 'subscription'
            : graph.counts(did) ? 'endorsed' : 'stranger';
    const trust: IssuerInfo['trust'] = {};
    for (const scope of SCOPES) {
      const t = graph.trust(did, scope);
      if (t.trust > 0 || t.via === 'blocked') trust[scope] = issuerTrust(t, scope, graph);
    }
    const about = await this.node.store.bySubject(endorsementSubject(did), { limit: 100 });
    const endorsedBy = about.items
      .filter((a) => a.kind === 'endorsement' && (a.statement.predicate as EndorsementPredicate).endorsed === did)
      .map((a) => {
        const p = a.statement.predicate as EndorsementPredicate;
        return { id: a.id, issuer: a.issuer, scope: p.scope, weight: p.weight, issuedAt: new Date(a.issuedAt).toISOString(), ...(a.expiresAt === undefined ? {} : { expiresAt: new Date(a.expiresAt).toISOString() }) };
      });
    const endorses = (await this.node.store.endorsementsBy(did, 100)).map((a) => {
      const p = a.statement.predicate as EndorsementPredicate;
      return { id: a.id, endorsed: p.endorsed, scope: p.scope, weight: p.weight };
    });
    const recent = await this.node.store.byIssuer(did, { limit: 10 });
    const note = graph.noteOf(did);
    return {
      did,
      ...(note === undefined ? {} : { note }),
      role,
      trust,
      counts: graph.counts(did),
      endorsedBy,
      endorses,
      published: { ...this.node.store.issuerUsage(did), recent: recent.items.map(summarize) },
      ...(this.node.logs ? { log: { completeness: this.node.logs.completeness(did), equivocation: this.node.logs.equivocation(did) ?? null } } : {}),
    };
  }

  /** A summary of this node's trust graph. */
  async trustGraph(): Promise<TrustGraphInfo> {
    const graph = await this.node.trust();
    const reached = graph.reached();
    const byScope: Record<string, number> = {};
    const issuers: TrustGraphInfo['issuers'] = [];
    for (const [issuer, t] of reached) {
      const counting = Object.entries(t).filter(([, v]) => v >= graph.params.minWeight);
      for (const [scope] of counting) byScope[scope] = (byScope[scope] ?? 0) + 1;
      if (counting.length > 0) {
        const note = graph.noteOf(issuer);
        issuers.push({ issuer, ...(note === undefined ? {} : { note }), trust: Object.fromEntries(counting.map(([k, v]) => [k, round(v)])) });
      }
    }
    const top = (x: TrustGraphInfo['issuers'][number]): number => Math.max(...Object.values(x.trust));
    issuers.sort((a, b) => top(b) - top(a) || (a.issuer < b.issuer ? -1 : 1));
    return {
      roots: graph.policy.roots.length,
      subscriptions: graph.policy.subscriptions.length,
      blocks: graph.policy.blocks.length,
      endorsements: graph.edges,
      reached: graph.reachedCount,
      byScope,
      params: graph.params,
      issuers: issuers.slice(0, 200),
    };
  }

  async status(opts: { withHome: boolean }): Promise<NodeStatus> {
    const store = this.node.store;
    return {
      version: VERSION,
      did: this.node.identity.did,
      // A path on this machine is for its operator, not for whoever can read the API.
      ...(opts.withHome ? { home: this.node.home.root } : {}),
      uptimeSeconds: this.env.startedAt === undefined ? 0 : Math.round((Date.now() - this.env.startedAt) / 1000),
      attestations: store.size,
      lastSeq: store.lastSeq,
      storeBytes: await store.diskBytes(),
      strangerPool: { usedBytes: this.node.pool.usedBytes, budgetBytes: this.node.pool.budget },
      trustedIssuers: (await this.node.trust()).reachedCount,
      api: { url: this.env.url?.() ?? null, requireTokenForReads: this.node.config.api.requireTokenForReads, ...(this.env.lan?.() ? { lan: this.env.lan()! } : {}) },
      network: (await this.env.network?.()) ?? null,
      budgets: [
        { name: "strangers' pool", used: this.node.pool.usedBytes, limit: this.node.pool.budget, unit: 'bytes', config: 'limits.strangerPoolBytes' },
        ...this.node.ingestor.admissionUse().map((u) => ({
          name: `new issuers this hour (${u.cap === 'global' ? 'all peers' : `busiest ${u.cap === 'ip' ? 'address' : u.cap}`})`,
          used: u.used, limit: u.limit, unit: 'issuers',
          config: `limits.${({ peer: 'newIssuersPerPeerPerHour', ip: 'newIssuersPerIpPerHour', network: 'newIssuersPerNetworkPerHour', global: 'newIssuersPerHour' } as const)[u.cap]}`,
        })),
        ...((await this.env.budgets?.()) ?? []),
      ],
    };
  }
}

