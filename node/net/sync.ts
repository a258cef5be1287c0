import type { Libp2p, PeerId, Stream } from '@libp2p/interface';
import { lpStream } from '@libp2p/utils';
import { z } from 'zod';
import type { Logger } from 'pino';
import type { Decision } from '../../src/ingest/decide.js';
import type { Ingestor } from '../ingest/ingestor.js';
import type { AttestationStore } from '../store/attestation-store.js';
import {
  ALL_UNITS_PER_MINUTE, CLIENT_RANGES_PER_REQUEST, MAX_BUDGET_WAIT_MS, MAX_OFFERED_IDS, MAX_PARTS_PER_REPLY, MAX_PENDING_RANGES,
  MAX_REQUESTS_PER_SYNC, PEER_UNITS_PER_MINUTE, RANGES_PER_SLICE, RELAY_SYNCED_MAX, SYNC_DEADLINE_MS,
} from './constants.js';
import { SyncBudget } from './sync-budget.js';
import { boundOf, cmpBounds, MAX_BOUND, MIN_BOUND, type Bound, type SyncIndex } from './sync-index.js';

/** The catch-up sync protocol (SPEC.md, "Sync"). */
export const SYNC_PROTOCOL = '/chorus/sync/1.0.0';

/** Largest message either side sends or accepts. */
export const MAX_SYNC_MESSAGE = 1024 * 1024;
/** A range with at most this many keys is answered with its ids rather than split. */
const LEAF = 32;
/** How many parts a mismatched range is split into. */
const FANOUT = 8;
const MAX_ROUNDS = 24;
const MAX_RANGES_PER_REQUEST = 512;
const FETCH_BATCH = 200;
const REQUEST_TIMEOUT_MS = 10_000;

const BoundSchema = z.tuple([z.int().min(0), z.string().regex(/^([0-9a-f]{64})?$/)]);
const RangeSummary = z.strictObject({ lo: BoundSchema, hi: BoundSchema, fp: z.string().regex(/^[0-9a-f]{32}$/), n: z.int().min(0) });
const Request = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('reconcile'), ranges: z.array(RangeSummary).min(1).max(MAX_RANGES_PER_REQUEST) }),
  z.strictObject({ type: z.literal('fetch'), ids: z.array(z.string().regex(/^[0-9a-f]{64}$/)).min(1).max(FETCH_BATCH) }),
  // "What do you hold about this digest": a page of envelopes in the peer's arrival order.
  z.strictObject({ type: z.literal('subject'), digest: z.string().regex(/^[0-9a-f]{64}$/), after: z.int().min(0).optional() }),
]);
type RangeSummary = z.infer<typeof RangeSummary>;
type Request = z.infer<typeof Request>;

const RangeReply = z.union([
  z.strictObject({ lo: BoundSchema, hi: BoundSchema, ids: z.array(z.string().regex(/^[0-9a-f]{64}$/)).max(LEAF) }),
  z.strictObject({ lo: BoundSchema, hi: BoundSchema, parts: z.array(RangeSummary).max(FANOUT) }),
]);
const ReconcileReply = z.strictObject({ ranges: z.array(RangeReply).max(MAX_RANGES_PER_REQUEST) });
const FetchReply = z.strictObject({ envelopes: z.array(z.string().max(64 * 1024)).max(FETCH_BATCH) });
/** The server is over its budget: try again later (not an error of either side). */
const BusyReply = z.strictObject({ busy: z.int().min(0) });
const SubjectReply = z.strictObject({ envelopes: z.array(z.string().max(64 * 1024)).max(FETCH_BATCH), next: z.int().min(0).optional() });
/** A lookup pulls at most this many pages about one digest from one peer. */
const MAX_SUBJECT_PAGES = 10;
type RangeReply = z.infer<typeof RangeReply>;

/** What one sync with a peer moved. */
export interface SyncStats {
  rounds: number;
  bytesSent: number;
  bytesReceived: number;
  fetched: number;
  accepted: number;
}

const enc = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value));

/**
 * Answers one reconcile request from the node's own key set: a matching range is left
 * out, a small mismatched one is answered with its ids, a large one split into parts.
 */
export async function answerReconcile(index: SyncIndex, ranges: readonly RangeSummary[]): Promise<RangeReply[]> {
  const out: RangeReply[] = [];
  const fanout = Math.max(2, Math.min(FANOUT, Math.floor(MAX_PARTS_PER_REPLY / ranges.length)));
  for (const [ri, range] of ranges.entries()) {
    if (ri > 0 && ri % RANGES_PER_SLICE === 0) await new Promise((resolve) => setImmediate(resolve));
    const { from, to } = index.range(range.lo, range.hi);
    const n = to - from;
    if (n === range.n && index.fingerprint(from, to) === range.fp) continue;
    if (n <= LEAF) {
      out.push({ lo: range.lo, hi: range.hi, ids: index.keysIn(from, to).map((key) => key.id.toString('hex')) });
      continue;
    }
    const parts: RangeSummary[] = [];
    const step = Math.ceil(n / fanout);
    for (let i = from; i < to; i += step) {
      const end = Math.min(i + step, to);
      const lo: Bound = i === from ? range.lo : boundOf(index.keyAt(i));
      const hi: Bound = end === to ? range.hi : boundOf(index.keyAt(end));
      parts.push({ lo: [...lo], hi: [...hi], fp: index.fingerprint(i, end), n: end - i });
    }
    out.push({ lo: range.lo, hi: range.hi, parts });
  }
  return out;
}

/** Why a reconcile request is malformed (unsorted, overlapping or empty ranges), or undefined. */
export function rangesProblem(ranges: readonly RangeSummary[]): string | undefined {
  let prev: Bound | undefined;
  for (const range of ranges) {
    if (cmpBounds(range.lo, range.hi) >= 0) return 'a range whose lower bound is not below its upper bound';
    if (prev !== undefined && cmpBounds(range.lo, prev) < 0) return 'ranges not sorted or overlapping';
    prev = range.hi;
  }
  return undefined;
}

/** What a peer did wrong on the sync protocol: a malformed or out-of-order request, or (as a server) a reply that breaks the rules. */
export type SyncAbuse = 'malformed' | 'bad_ranges' | 'bad_reply';

/** A sync stopped early by a bound or a `busy` server; it resumes at the next sync. */
class SyncStopped extends Error {}

/**
 * Range-based set reconciliation over (issuedAt, id) with one peer, then a batched pull of
 * what this node lacks, through the one ingest path. Bytes grow with the difference
 * between the two stores, not their size.
 */
export class SyncService {
  /** Ids being fetched from some peer right now: concurrent syncs do not fetch them twice. */
  private readonly inFlight = new Set<string>();
  private readonly budget = new SyncBudget(PEER_UNITS_PER_MINUTE, ALL_UNITS_PER_MINUTE);

  constructor(
    private readonly host: Libp2p,
    private readonly store: AttestationStore,
    private readonly index: SyncIndex,
    private readonly ingestor: Ingestor,
    private readonly log: Logger,
    /** Told of a peer that sent a malformed, abusive or over-budget request. */
    private readonly onAbuse: (peer: PeerId, why: SyncAbuse) => void = () => {},
    /** Told of every request served (and the units charged), answered busy, or refused. */
    private readonly observe: (outcome: 'served' | 'busy' | 'refused', units: number) => void = () => {},
  ) {}

  /** Serving budget used now, of the node-wide units per minute. */
  budgetUse(): { used: number; limit: number } {
    return { used: Math.round(this.budget.used()), limit: this.budget.perMinute };
  }

  async start(): Promise<void> {
    await this.host.handle(SYNC_PROTOCOL, (stream, connection) => this.serve(stream, connection.remotePeer), { maxInboundStreams: 2, maxOutboundStreams: 2, runOnLimitedConnection: true });
  }

  /**
   * Serves one request per stream. Anything malformed or out of order ends the stream and
   * is reported as abuse; a request over budget waits for it, or is answered `busy`.
   */
  private async serve(stream: Stream, peer: PeerId): Promise<void> {
    const lp = lpStream(stream, { maxDataLength: MAX_SYNC_MESSAGE });
    const refuse = (why: SyncAbuse, message: string): void => {
      stream.abort(new Error(message));
      this.log.debug({ peer: peer.toString(), why }, 'sync request refused');
      this.observe('refused', 0);
      this.onAbuse(peer, why);
    };
    try {
      const signal = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
      const raw = await lp.read({ signal });
      let req: Request;
      try {
        req = Request.parse(JSON.parse(new TextDecoder().decode(raw.subarray())));
      } catch {
        refuse('malformed', 'malformed sync request');
        return;
      }
      if (req.type === 'reconcile') {
        const problem = rangesProblem(req.ranges);
        if (problem !== undefined) return refuse('bad_ranges', problem);
      }
      const who = peer.toString();
      const wait = this.budget.waitMs(who);
      if (wait > MAX_BUDGET_WAIT_MS) {
        this.observe('busy', 0);
        await lp.write(enc({ busy: wait }), { signal });
        await stream.close({ signal });
        return;
      }
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      // Envelopes are read a few at a time and no more than fit one message: a page of
      // 64 KiB envelopes costs what 1 MiB costs, not 13 MB read and re-encoded.
      const room = MAX_SYNC_MESSAGE - 64 * 1024;
      let answered = 0;
      const reply = req.type === 'reconcile'
        ? { ranges: await answerReconcile(this.index, req.ranges) }
        : req.type === 'fetch'
          ? { envelopes: await this.store.envelopes(req.ids, room) }
          : await this.subjectPage(req.digest, req.after, room);
      if ('ranges' in reply) for (const range of reply.ranges) answered += 'ids' in range ? range.ids.length : range.parts.length;
      else answered = reply.envelopes.length;
      const bytes = enc(reply);
      const units = 1 + (req.type === 'reconcile' ? req.ranges.length : 0) + answered + Math.ceil(bytes.length / 1024);
      this.budget.charge(who, units);
      this.observe('served', units);
      await lp.write(bytes, { signal });
      await stream.close({ signal });
    } catch (e) {
      this.log.debug({ err: e }, 'sync request failed');
      stream.abort(e as Error);
    }
  }

  private async subjectPage(digest: string, after: number | undefined, maxBytes: number): Promise<{ envelopes: string[]; next?: number }> {
    const page = await this.store.subjectEnvelopes(digest, { after: after ?? 0, limit: FETCH_BATCH, maxBytes });
    return page.next === undefined ? { envelopes: page.envelopes } : { envelopes: page.envelopes, next: page.next };
  }

  /**
   * Pulls from `peer` what it holds about one digest (a few pages at most) through the
   * ingest path: how a query about an unknown digest is answered from a provider.
   */
  async fetchSubject(peer: PeerId, digest: string, signal?: AbortSignal): Promise<SyncStats> {
    const stats: SyncStats = { rounds: 0, bytesSent: 0, bytesReceived: 0, fetched: 0, accepted: 0 };
    let after: number | undefined;
    while (stats.rounds < MAX_SUBJECT_PAGES && signal?.aborted !== true) {
      stats.rounds++;
      const reply = SubjectReply.parse(await this.request(peer, after === undefined ? { type: 'subject', digest } : { type: 'subject', digest, after }, stats, signal));
      stats.fetched += reply.envelopes.length;
      const ds = await this.ingestor.ingestMany(reply.envelopes, undefined, { via: 'lookup', peer: peer.toString() });
      stats.accepted += ds.filter((decision) => decision.outcome === 'accept').length;
      if (reply.next === undefined || reply.next <= (after ?? 0)) break;
      after = reply.next;
    }
    return stats;
  }

  /**
   * Fetches the envelopes of `ids` (at most 1,000) from `peer` through the ingest path:
   * how a mirrored log's missing statements are completed (SPEC §16.3). Returns the
   * decisions; ids the peer does not send are simply not among them.
   */
  async fetchIds(peer: PeerId, ids: readonly string[], signal?: AbortSignal): Promise<Decision[]> {
    const stats: SyncStats = { rounds: 0, bytesSent: 0, bytesReceived: 0, fetched: 0, accepted: 0 };
    const out: Decision[] = [];
    const todo = ids.filter((id) => !this.inFlight.has(id)).slice(0, 1000);
    for (const id of todo) this.inFlight.add(id);
    try {
      for (let i = 0; i < todo.length; i += FETCH_BATCH) {
        const parsed = FetchReply.safeParse(await this.request(peer, { type: 'fetch', ids: todo.slice(i, i + FETCH_BATCH) }, stats, signal));
        if (!parsed.success) {
          this.onAbuse(peer, 'bad_reply');
          break;
        }
        out.push(...(await this.ingestor.ingestMany(parsed.data.envelopes, undefined, { via: 'sync', peer: peer.toString(), relay: true })));
      }
    } finally {
      for (const id of todo) this.inFlight.delete(id);
    }
    return out;
  }

  private async request(peer: PeerId, body: Request, stats: SyncStats, outer?: AbortSignal): Promise<unknown> {
    const timeout = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
    const signal = outer ? AbortSignal.any([timeout, outer]) : timeout;
    const stream = await this.host.dialProtocol(peer, SYNC_PROTOCOL, { signal, runOnLimitedConnection: true });
    let reply: unknown;
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_SYNC_MESSAGE });
      const out = enc(body);
      stats.bytesSent += out.length;
      await lp.write(out, { signal });
      const res = await lp.read({ signal });
      stats.bytesReceived += res.byteLength;
      await stream.close({ signal });
      reply = JSON.parse(new TextDecoder().decode(res.subarray())) as unknown;
    } catch (e) {
      stream.abort(e as Error);
      throw e;
    }
    const busy = BusyReply.safeParse(reply);
    if (busy.success) throw new SyncStopped(`peer is busy: retry in ${busy.data.busy} ms`);
    return reply;
  }

  /**
   * Pulls from `peer` everything it has and this node lacks. Bounded whatever the peer
   * answers: parts must lie inside the ranges asked about, in order (a peer that breaks
   * this is reported as abusing the protocol); pending ranges, requests, offered ids and
   * time are capped, and what is not reached resumes at the next sync.
   */
  async syncWith(peer: PeerId): Promise<SyncStats> {
    const stats: SyncStats = { rounds: 0, bytesSent: 0, bytesReceived: 0, fetched: 0, accepted: 0 };
    const deadline = AbortSignal.timeout(SYNC_DEADLINE_MS);
    let requests = 0;
    const ask = async (body: Request): Promise<unknown> => {
      if (++requests > MAX_REQUESTS_PER_SYNC) throw new SyncStopped('request limit of one sync reached');
      return this.request(peer, body, stats, deadline);
    };
    const badReply = (why: string): never => {
      this.onAbuse(peer, 'bad_reply');
      throw new Error(`peer broke the sync protocol: ${why}`);
    };
    const offered = new Set<string>();
    let pending: RangeSummary[] = [{ lo: [...MIN_BOUND], hi: [...MAX_BOUND], ...this.index.summary(MIN_BOUND, MAX_BOUND) }];
    try {
      while (pending.length > 0 && stats.rounds < MAX_ROUNDS) {
        stats.rounds++;
        const next: RangeSummary[] = [];
        for (let i = 0; i < pending.length; i += CLIENT_RANGES_PER_REQUEST) {
          const asked = pending.slice(i, i + CLIENT_RANGES_PER_REQUEST);
          const parsed = ReconcileReply.safeParse(await ask({ type: 'reconcile', ranges: asked }));
          if (!parsed.success) badReply('malformed reconcile reply');
          // Replies name asked ranges, in order; parts tile their range's inside, in order.
          let at = 0;
          for (const range of parsed.data!.ranges) {
            while (at < asked.length && (cmpBounds(asked[at]!.lo, range.lo) !== 0 || cmpBounds(asked[at]!.hi, range.hi) !== 0)) at++;
            if (at === asked.length) badReply('a reply range that was not asked about');
            at++;
            if ('ids' in range) {
              for (const id of range.ids) offered.add(id);
              if (offered.size > MAX_OFFERED_IDS) throw new SyncStopped('offered-id limit of one sync reached');
              continue;
            }
            let prev: Bound = range.lo;
            for (const part of range.parts) {
              if (cmpBounds(part.lo, prev) < 0 || cmpBounds(part.lo, part.hi) >= 0 || cmpBounds(part.hi, range.hi) > 0) badReply('parts outside their range or out of order');
              prev = part.hi;
              const own = this.index.summary(part.lo, part.hi);
              if ((own.n !== part.n || own.fp !== part.fp) && next.length < MAX_PENDING_RANGES) next.push({ lo: part.lo, hi: part.hi, ...own });
            }
          }
        }
        pending = next;
      }
    } catch (e) {
      if (!(e instanceof SyncStopped)) throw e;
      this.log.debug({ peer: peer.toString(), why: e.message }, 'sync stopped early; it resumes at the next sync');
    }
    // What the peer offered that this node does not hold (one store round trip, whatever our range sizes).
    const offeredIds = [...offered];
    const held = await this.store.hasMany(offeredIds);
    const ids = offeredIds.filter((id, i) => !held[i] && !this.inFlight.has(id));
    for (const id of ids) this.inFlight.add(id);
    try {
      for (let i = 0; i < ids.length; i += FETCH_BATCH) {
        let batch = ids.slice(i, i + FETCH_BATCH);
        while (batch.length > 0) {
          const parsed = FetchReply.safeParse(await ask({ type: 'fetch', ids: batch }));
          if (!parsed.success) badReply('malformed fetch reply');
          const reply = parsed.data!;
          if (reply.envelopes.length === 0) break;
          stats.fetched += reply.envelopes.length;
          const ds = await this.ingestor.ingestMany(reply.envelopes, undefined, { via: 'sync', peer: peer.toString(), relay: ids.length <= RELAY_SYNCED_MAX });
          stats.accepted += ds.filter((decision) => decision.outcome === 'accept').length;
          batch = batch.slice(reply.envelopes.length);
        }
      }
    } catch (e) {
      if (!(e instanceof SyncStopped)) throw e;
      this.log.debug({ peer: peer.toString(), why: e.message }, 'sync stopped early; it resumes at the next sync');
    } finally {
      for (const id of ids) this.inFlight.delete(id);
    }
    return stats;
  }
}
