import { checkSemantics, outcomeOf, type Decision, type IngestStoreView } from '../../src/ingest/decide.js';
import { parseEnvelope, verifyParsed, type ParsedEnvelope } from '../../src/ingest/verify-envelope.js';
import type { VerifiedAttestation } from '../../src/ingest/verified.js';
import type { Limits } from '../../src/ingest/limits.js';
import type { CryptoSuite } from '../../src/crypto/suite.js';
import { ChorusError } from '../../src/errors.js';
import type { PredicateKind, RetractionPredicate } from '../../src/statement/predicates.js';
import type { AttestationStore } from '../store/attestation-store.js';
import { LOCAL_GROUP, type StrangerPool } from '../store/stranger-pool.js';
import { classifyIp, type PeerAddress } from './address.js';
import type { AdmissionCap, NewIssuerAdmission } from './admission.js';
import { LOCAL, type Origin } from './origin.js';

export type { Origin };

/** How many inputs are checked before their accepted ones are written in one batch. */
const CHUNK = 512;

export interface IngestorOptions {
  readonly store: AttestationStore;
  readonly suite: CryptoSuite;
  readonly limits: Limits;
  /** The clock; injectable for tests. */
  readonly now?: () => number;
  /** The storage budget for strangers; without it every issuer is only held to its quota. */
  readonly pool?: StrangerPool;
  /** Limits on how many new issuers network origins may introduce (per peer, IP, network, in all). */
  readonly admission?: NewIssuerAdmission;
  /** Whether an issuer is trusted (exempt from the new-issuer caps; never counted in the pool). */
  readonly trusted?: (issuer: string) => boolean;
}

/** A single ingest waiting for the next group commit. */
interface Waiting {
  readonly input: Uint8Array | string;
  readonly origin: Origin;
  readonly address: PeerAddress | undefined;
  resolve(d: Decision): void;
  reject(e: unknown): void;
}

/** A chunk after stage 1: decisions for the inputs that failed, attestations for the rest. */
interface Checked {
  readonly decisions: (Decision | undefined)[];
  readonly verified: { index: number; att: VerifiedAttestation }[];
}

/** Called after each chunk is durably written, with that chunk's decisions (and origins) in input order. */
export type OnCommitted = (decisions: readonly Decision[], origins: readonly Origin[]) => void | Promise<void>;

/** The remote IP address of a peer's current connection, if it has one. */
export type PeerAddressOf = (peer: string) => string | undefined;

const CAP_SCOPE: Record<AdmissionCap, string> = {
  peer: 'this peer',
  ip: "this peer's IP address",
  network: "this peer's network (/24 or /48)",
  global: 'all peers together',
};

/**
 * The strangers' pool group of an origin (SPEC §14.3): this node, the network of a located
 * peer (a private address is its own), else one group for all peers of no known address.
 */
function groupOf(origin: Origin, address: PeerAddress | undefined): string {
  if (origin.via === 'local') return LOCAL_GROUP;
  if (address !== undefined && address.kind !== 'loopback') return address.network;
  // Peer ids are free: peers whose address names no one (loopback, unknown) share one group.
  return UNLOCATED_GROUP;
}

/** The pool group of peers whose address is loopback or unknown. */
const UNLOCATED_GROUP = 'unlocated';

/**
 * Runs every input through the one ingest path (`verifyEnvelope` + `checkSemantics`) and
 * writes the accepted ones. Inputs are handled one chunk at a time, in order: the
 * signature checks of a chunk run back to back, the store is asked about the whole chunk
 * in one round trip, and the accepted attestations land in one atomic batch. Calls are
 * serialised, so two callers can never both accept the same attestation.
 */
export class Ingestor {
  private readonly store: AttestationStore;
  private readonly suite: CryptoSuite;
  private readonly limits: Limits;
  private readonly now: () => number;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly waiting: Waiting[] = [];
  private readonly listeners = new Set<OnCommitted>();
  private readonly pool: StrangerPool | undefined;
  private readonly admission: NewIssuerAdmission | undefined;
  private readonly trusted: (issuer: string) => boolean;
  private peerAddress: PeerAddressOf | undefined;

  constructor(opts: IngestorOptions) {
    this.store = opts.store;
    this.suite = opts.suite;
    this.limits = opts.limits;
    this.now = opts.now ?? Date.now;
    this.pool = opts.pool;
    this.admission = opts.admission;
    this.trusted = opts.trusted ?? (() => false);
  }

  /**
   * Ingests one input; resolves once an accepted attestation is durably stored. Inputs
   * that arrive while a batch is being written are committed together in the next batch
   * (group commit), so many concurrent publishers share one fsync.
   */
  ingest(input: Uint8Array | string, origin: Origin = LOCAL): Promise<Decision> {
    const address = this.addressOf(origin);
    return new Promise<Decision>((resolve, reject) => {
      this.waiting.push({ input, origin, address, resolve, reject });
      if (this.waiting.length === 1) this.enqueue(() => this.drainWaiting());
    });
  }

  /**
   * Where the network tells the remote IP of a peer's connection: the new-issuer caps per
   * IP and network (SPEC §14.4) and the pool's groups (§14.3) need it. It is asked when an
   * input arrives, while the connection that brought it is open. Without it (or for a
   * peer with no connection), a peer is held to its own and the global cap.
   */
  setPeerAddress(fn: PeerAddressOf | undefined): void {
    this.peerAddress = fn;
  }

  private addressOf(origin: Origin): PeerAddress | undefined {
    if (origin.via === 'local' || this.peerAddress === undefined) return undefined;
    try {
      const ip = this.peerAddress(origin.peer);
      return ip === undefined ? undefined : classifyIp(ip);
    } catch {
      return undefined;
    }
  }

  /**
   * Ingests inputs in order; `onCommitted` hears about each chunk once it is on disk.
   * With `onCommitted`, decisions are handed out per chunk only and the result is empty,
   * so a long import holds one chunk in memory, not all of it.
   */
  ingestMany(inputs: Iterable<Uint8Array | string> | AsyncIterable<Uint8Array | string>, onCommitted?: OnCommitted, origin: Origin = LOCAL): Promise<Decision[]> {
    const address = this.addressOf(origin);
    return this.enqueue(() => this.run(inputs, onCommitted, origin, address));
  }

  /** Hears every committed chunk's decisions, whatever the entry point (metrics, event streams). */
  onCommitted(listener: OnCommitted): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves when everything queued so far has been written. */
  async idle(): Promise<void> {
    await this.queue;
  }

  private enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task);
    // The queue must not hold on to the last result (a large import's decisions).
    this.queue = run.then(() => undefined, () => undefined);
    return run;
  }

  private async drainWaiting(): Promise<void> {
    // The same two stages as `run`: while one group is checked against the store and
    // written (an fsync), the next group's signatures are already being verified.
    type Group = { batch: Waiting[]; checked: Promise<Checked> };
    let previous: Group | undefined;
    while (this.waiting.length > 0 || previous !== undefined) {
      const batch = this.waiting.splice(0, CHUNK);
      const next: Group | undefined = batch.length > 0 ? { batch, checked: this.checkChunk(batch.map((w) => w.input)) } : undefined;
      if (previous !== undefined) {
        try {
          const ds = await this.commitChunk(await previous.checked, previous.batch.map((w) => w.origin), previous.batch.map((w) => w.address));
          previous.batch.forEach((w, i) => w.resolve(ds[i] as Decision));
        } catch (e) {
          for (const w of previous.batch) w.reject(e);
        }
      }
      previous = next;
    }
  }

  private async run(inputs: Iterable<Uint8Array | string> | AsyncIterable<Uint8Array | string>, onCommitted: OnCommitted | undefined, origin: Origin, address: PeerAddress | undefined): Promise<Decision[]> {
    const all: Decision[] = [];
    // Two stages, overlapped: while chunk n is checked against the store and written,
    // chunk n+1's signatures are already being verified on the threadpool.
    let checking: Promise<Checked> | undefined;
    const commitPrevious = async (next: Promise<Checked> | undefined): Promise<void> => {
      const previous = checking;
      checking = next;
      if (previous === undefined) return;
      const checked = await previous;
      const origins = new Array<Origin>(checked.decisions.length).fill(origin);
      const ds = await this.commitChunk(checked, origins, new Array<PeerAddress | undefined>(origins.length).fill(address));
      if (onCommitted) await onCommitted(ds, origins);
      else all.push(...ds);
    };
    let chunk: (Uint8Array | string)[] = [];
    try {
      for await (const input of inputs) {
        chunk.push(input);
        if (chunk.length >= CHUNK) {
          const next = this.checkChunk(chunk);
          chunk = [];
          await commitPrevious(next);
        }
      }
      if (chunk.length > 0) await commitPrevious(this.checkChunk(chunk));
      await commitPrevious(undefined);
    } catch (e) {
      await checking?.catch(() => undefined); // never leave a rejection unobserved
      throw e;
    }
    return all;
  }

  /** Stage 1, needing no store: decode, schema, identity, signatures. */
  private async checkChunk(inputs: readonly (Uint8Array | string)[]): Promise<Checked> {
    const decisions: (Decision | undefined)[] = new Array(inputs.length);
    const fail = (index: number, e: unknown): void => {
      decisions[index] = e instanceof ChorusError
        ? { outcome: outcomeOf(e.code), code: e.code, message: e.message, ...(e.details === undefined ? {} : { details: e.details }) }
        : { outcome: 'reject', code: 'bad_input', message: String(e) };
    };
    const parsed: { index: number; p: ParsedEnvelope }[] = [];
    inputs.forEach((input, index) => {
      try {
        parsed.push({ index, p: parseEnvelope(input, this.limits) });
      } catch (e) {
        fail(index, e);
      }
    });
    // The chunk's signatures are checked together, off the main thread where the suite can
    // (the native suite batches them to one worker thread per core).
    const { suite } = this;
    const checked = await Promise.all(parsed.map(({ p }) => verifyParsed(p, suite).then((att) => att, (e: unknown) => e as ChorusError)));
    const verified: { index: number; att: VerifiedAttestation }[] = [];
    parsed.forEach(({ index }, i) => {
      const att = checked[i]!;
      if (att instanceof ChorusError) fail(index, att);
      else verified.push({ index, att });
    });
    return { decisions, verified };
  }

  /**
   * Stage 2, in input order: the semantic rules against the store, the admission limits
   * (new issuers per peer, the strangers' storage budget), then one atomic write. A store
   * error fails only the item that caused it; a full disk fails the group, each as
   * `storage_full`, and nothing of it is written.
   */
  private async commitChunk({ decisions, verified }: Checked, origins: readonly Origin[], addresses: readonly (PeerAddress | undefined)[]): Promise<Decision[]> {
    // One round trip for "is it stored?" and for the targets of retractions.
    const ids = verified.map((v) => v.att.id);
    const stored = await this.store.hasMany(ids);
    const targets = new Map<string, { issuer: string; kind: PredicateKind | undefined } | undefined>();
    for (const { att } of verified) {
      if (att.kind === 'retraction') {
        const t = (att.statement.predicate as RetractionPredicate).target;
        if (!targets.has(t)) targets.set(t, await this.store.lookup(t));
      }
    }

    const storedSet = new Set(ids.filter((_, i) => stored[i]));
    const pending = new Map<string, { att: VerifiedAttestation; index: number }>();
    const pendingBytes = new Map<string, number>();
    const view: IngestStoreView = {
      has: (id) => storedSet.has(id) || pending.has(id),
      lookup: (id) => {
        const p = pending.get(id)?.att;
        return p !== undefined ? { issuer: p.issuer, kind: p.kind } : targets.get(id);
      },
      issuerBytes: (issuer) => this.store.issuerBytes(issuer) + (pendingBytes.get(issuer) ?? 0),
    };
    const ctx = { suite: this.suite, limits: this.limits, now: this.now(), store: view };
    const plan = this.pool?.plan();
    // The pool group of each issuer this batch stores first: that of the origin that brought it.
    const groups = new Map<string, string>();
    for (const { index, att } of verified) {
      const origin = origins[index] ?? LOCAL;
      const address = addresses[index];
      const group = plan?.groupFor(att.issuer, groupOf(origin, address)) ?? groupOf(origin, address);
      let d = await checkSemantics(att, ctx);
      if (d.outcome === 'accept') d = await this.admit(att, origin, address, group, view, plan);
      decisions[index] = d;
      if (d.outcome === 'accept') {
        pending.set(att.id, { att, index });
        pendingBytes.set(att.issuer, (pendingBytes.get(att.issuer) ?? 0) + att.envelopeBytes.length);
        if (!groups.has(att.issuer)) groups.set(att.issuer, group);
      }
    }
    const accepted = [...pending.values()];
    try {
      await this.store.putAccepted(accepted.map((p) => p.att), this.now(), plan?.evict ?? [], 'evict', groups);
      plan?.applied();
    } catch (e) {
      if (e instanceof ChorusError && e.code === 'storage_full') {
        for (const { att, index } of accepted) decisions[index] = { outcome: 'ignore', code: 'storage_full', message: e.message, id: att.id };
      } else {
        // One item the store cannot take must not cost the others theirs: store one by one.
        for (const { att, index } of accepted) {
          try {
            await this.store.putAccepted([att], this.now(), [], 'evict', groups);
          } catch (e1) {
            decisions[index] = e1 instanceof ChorusError && e1.code === 'storage_full'
              ? { outcome: 'ignore', code: 'storage_full', message: e1.message, id: att.id }
              : { outcome: 'reject', code: 'bad_input', message: `the store could not take this attestation: ${(e1 as Error).message}`, id: att.id };
          }
        }
        this.pool?.retally();
      }
    }
    const ds = decisions as Decision[];
    for (const l of this.listeners) {
      try {
        await l(ds, origins);
      } catch {
        // A listener's failure must not undo or fail a committed write.
      }
    }
    return ds;
  }

  /** The new-issuer caps' use this hour (status). */
  admissionUse(): { cap: AdmissionCap; used: number; limit: number }[] {
    return this.admission?.use() ?? [];
  }

  /** The admission limits, after the semantic rules accepted `att`. */
  private async admit(att: VerifiedAttestation, origin: Origin, address: PeerAddress | undefined, group: string, view: IngestStoreView, plan: ReturnType<StrangerPool['plan']> | undefined): Promise<Decision> {
    const { id } = att;
    const trusted = this.trusted(att.issuer);
    if (!trusted && origin.via !== 'local' && this.admission && (await view.issuerBytes(att.issuer)) === 0) {
      const cap = this.admission.take(origin.peer, address);
      if (cap !== undefined) {
        const limit = this.admission.limit(cap);
        return { outcome: 'ignore', code: 'rate_limited', message: `new-issuer cap (${cap}): ${CAP_SCOPE[cap]} introduced ${limit} issuers new to this node in the last hour`, id, details: { cap, limit } };
      }
    }
    if (plan && !(await plan.admit(att.issuer, group, att.envelopeBytes.length))) {
      return { outcome: 'ignore', code: 'stranger_budget', message: 'the storage budget for untrusted issuers is full and this issuer already holds a fair share', id };
    }
    return { outcome: 'accept', code: 'accepted', id, attestation: att };
  }
}
