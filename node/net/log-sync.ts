import type { Libp2p, PeerId, Stream } from '@libp2p/interface';
import { TopicValidatorResult } from '@libp2p/gossipsub';
import { lpStream } from '@libp2p/utils';
import type { Logger } from 'pino';
import { z } from 'zod';
import { ChorusError } from '../../src/errors.js';
import { MAX_NOTE_BYTES } from '../../src/tlog/note.js';
import { MAX_EQUIVOCATION_BYTES, verifyCheckpointNote } from '../../src/tlog/witness.js';
import { CompactRange, equal, leafHash } from '../../src/tlog/merkle.js';
import { fromHex } from '../../src/encoding/bytes.js';
import { referenceSuite } from '../../src/crypto/reference-suite.js';
import type { Mirror } from '../tlog/mirror.js';
import type { OwnLog } from '../tlog/own-log.js';
import type { AttestationStore } from '../store/attestation-store.js';
import { CHECKPOINT_TOPIC, EQUIVOCATION_TOPIC } from './constants.js';
import type { Pubsub } from './host.js';
import { PeerRate } from './peer-penalties.js';
import type { SyncService } from './sync.js';

/** Issuer logs between nodes (SPEC §16.3): checkpoints, leaf ranges, proofs, equivocations. */
export const LOG_PROTOCOL = '/chorus/log/1.0.0';

/** Largest message either side sends or reads: a page of 1,000 ids and a note. */
const MAX_LOG_MESSAGE = 256 * 1024;
/** What a reply's payload may take of a message (the rest: JSON framing). */
const REPLY_ROOM = MAX_LOG_MESSAGE - 4 * 1024;
export const LEAF_PAGE = 1000;
const MAX_ISSUERS_PER_REQUEST = 256;
const REQUEST_TIMEOUT_MS = 10_000;
/** Requests one peer may make: a bucket of this many, refilled at this rate per second. */
const SERVE_BURST = 200;
const SERVE_PER_SECOND = 20;
/** Catch-ups running at once, and peers one catch-up tries. */
const CATCH_UP_CONCURRENCY = 2;
const PEERS_PER_CATCH_UP = 6;
/** Incomplete logs are looked at again this often. */
const RETRY_MS = 15_000;
/** How long a node whose key was imported waits for a peer to give back its own log. */
const RECOVERY_MS = 120_000;

const Did = z.string().regex(/^did:key:z[1-9A-HJ-NP-Za-km-z]{40,60}$/);
const Hex64 = z.string().regex(/^[0-9a-f]{64}$/);
const Size = z.int().min(0).max(Number.MAX_SAFE_INTEGER);
const Request = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('checkpoints'), issuers: z.array(Did).min(1).max(MAX_ISSUERS_PER_REQUEST) }),
  z.strictObject({ type: z.literal('leaves'), issuer: Did, start: Size, end: Size }).refine((req) => req.end > req.start && req.end - req.start <= LEAF_PAGE, `a leaf page is 1 to ${LEAF_PAGE} leaves`),
  z.strictObject({ type: z.literal('inclusion'), issuer: Did, id: Hex64 }),
  z.strictObject({ type: z.literal('consistency'), issuer: Did, from: Size, to: Size }),
  z.strictObject({ type: z.literal('equivocations') }),
]);
type Request = z.infer<typeof Request>;
const NotesReply = z.strictObject({ notes: z.array(z.string().max(MAX_NOTE_BYTES)).max(MAX_ISSUERS_PER_REQUEST) });
const LeavesReply = z.strictObject({ ids: z.array(Hex64).max(LEAF_PAGE) });
const EquivocationsReply = z.strictObject({ proofs: z.array(z.unknown()).max(100) });
const ErrorReply = z.strictObject({ error: z.string().max(500) });

const enc = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value));

/** What the log side of the network did (metrics, tests). */
export interface LogSyncStats {
  checkpointsReceived: number;
  checkpointsRejected: number;
  leavesFetched: number;
  envelopesFetched: number;
  lyingPeers: number;
  equivocationsReceived: number;
  served: number;
}

/**
 * The network side of issuer logs (SPEC §16.3): serves this node's own log and the logs it
 * mirrors over LOG_PROTOCOL; gossips checkpoints (its own when signed, those it cosigned)
 * and equivocation proofs; and completes its mirrors. When a checkpoint larger than a
 * mirrored log arrives, the leaves are fetched from the peers that hold them and verified
 * against the signed root before anything is kept; then the statements this node lacks are
 * fetched through the sync protocol (the one ingest path). A peer whose leaves do not hash
 * to its own signed checkpoint is penalised and routed around; one that withholds an
 * envelope is routed around (the next peer is asked).
 */
export class LogSync {
  private readonly serveRate = new PeerRate(SERVE_BURST, SERVE_PER_SECOND, MAX_LOG_MESSAGE * 4);
  private readonly gossipRate = new PeerRate(100, 10, 64 * 1024);
  /**
   * Equivocation proofs one peer may deliver by gossip: 50, then 5 a second (each costs two
   * signature checks; only those of issuers that count or whose statements are held are kept).
   */
  private readonly equivocationRate = new PeerRate(50, 5, 256 * 1024);
  private readonly equivocationFlood = new Map<string, number>();
  /** Proofs from a mirrored log cost O(n) to build: a node-wide bucket of 4, 2 a second. */
  private proofTokens = { n: 4, at: Date.now() };
  private readonly running = new Set<string>();
  private readonly queue = new Map<string, string | undefined>();
  private active = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  readonly stats: LogSyncStats = { checkpointsReceived: 0, checkpointsRejected: 0, leavesFetched: 0, envelopesFetched: 0, lyingPeers: 0, equivocationsReceived: 0, served: 0 };

  constructor(
    private readonly host: Libp2p,
    private readonly pubsub: Pubsub,
    private readonly mirror: Mirror,
    private readonly ownLog: OwnLog | undefined,
    private readonly sync: SyncService,
    private readonly store: AttestationStore,
    private readonly log: Logger,
    private readonly onAbuse: (peer: string, why: string) => void,
  ) {}

  /** Handlers and validators (before the host starts). */
  async register(): Promise<void> {
    await this.host.handle(LOG_PROTOCOL, (stream, connection) => this.serve(stream, connection.remotePeer), { maxInboundStreams: 4, maxOutboundStreams: 4, runOnLimitedConnection: true });
    this.pubsub.topicValidators.set(CHECKPOINT_TOPIC, async (from, msg) => this.validateCheckpoint(from.toString(), msg.data));
    this.pubsub.topicValidators.set(EQUIVOCATION_TOPIC, async (from, msg) => this.validateEquivocation(from.toString(), msg.data));
    this.mirror.onCosigned((note) => void this.publish(CHECKPOINT_TOPIC, note));
    this.mirror.onEquivocation((proof, issuer) => {
      this.log.warn({ issuer }, 'an issuer signed two histories that cannot both be true: equivocation proof stored and gossiped');
      void this.publish(EQUIVOCATION_TOPIC, JSON.stringify(proof));
      // With priority: once more a moment later (as other bytes, so gossip does not drop it
      // as seen) for peers whose subscription had not arrived yet; a node that has it ignores it.
      setTimeout(() => void this.publish(EQUIVOCATION_TOPIC, JSON.stringify(proof, null, 1)), 2_000).unref();
    });
    this.ownLog?.onSigned((note) => void this.publish(CHECKPOINT_TOPIC, note));
  }

  /** Joins the topics and starts the retry loop (once the host runs). */
  start(): void {
    this.pubsub.subscribe(CHECKPOINT_TOPIC);
    this.pubsub.subscribe(EQUIVOCATION_TOPIC);
    // Anti-entropy: gossip can miss a node (it joined the topic a moment late, it was
    // offline); every tick one random peer is asked for its checkpoints and equivocation
    // proofs, and what is incomplete is tried again.
    this.timer = setInterval(() => {
      const peers = this.host.getPeers();
      const peer = peers[Math.floor(Math.random() * peers.length)];
      if (peer !== undefined) void this.exchange(peer);
      else for (const did of this.mirror.incomplete()) this.schedule(did);
    }, RETRY_MS);
    this.timer.unref();
    // The newest own checkpoint goes out once peers are there to hear it.
    this.host.addEventListener('peer:connect', (event) => void this.exchange(event.detail));
    // A node whose key was imported recovers its own log from its peers; when none has it
    // within RECOVERY_MS, the log is rebuilt from the store (SPEC §16.2).
    if (this.ownLog?.recovering) {
      this.log.warn('recovering this node\'s own issuer log from its peers before signing a checkpoint (its key was imported)');
      this.recoveryTimer = setTimeout(() => {
        if (!this.ownLog?.recovering) return;
        this.log.warn({ afterMs: RECOVERY_MS }, 'no peer held this node\'s issuer log: rebuilt from the store');
        void this.ownLog.releaseRecovery().catch(() => undefined);
      }, RECOVERY_MS);
      this.recoveryTimer.unref();
    }
  }

  private recoveryTimer: NodeJS.Timeout | undefined;

  /** This node's own log as `peer` mirrors it, verified against a checkpoint this key signed, adopted. */
  private async recoverOwn(peer: PeerId): Promise<void> {
    const own = this.ownLog;
    if (own === undefined || !own.recovering) return;
    const reply = NotesReply.parse(await this.request(peer, { type: 'checkpoints', issuers: [own.did] }));
    const note = reply.notes[0];
    if (note === undefined) return;
    const signed = verifyCheckpointNote(note, referenceSuite);
    if (signed.issuer !== own.did) return;
    const ids = await this.fetchLeaves(peer, own.did, 0, signed.checkpoint.size).catch(() => undefined);
    if (ids === undefined) return;
    const range = new CompactRange();
    for (const id of ids) range.append(leafHash(fromHex(id)!));
    if (!equal(range.root(), signed.checkpoint.root)) {
      this.onAbuse(peer.toString(), 'log: leaves that do not match its checkpoint');
      return;
    }
    if (!own.recovering) return;
    await own.adopt(ids);
    clearTimeout(this.recoveryTimer);
    this.log.info({ size: ids.length, peer: peer.toString() }, 'recovered this node\'s own issuer log from a peer');
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.recoveryTimer);
  }

  private async publish(topic: string, text: string): Promise<void> {
    try {
      await this.pubsub.publish(topic, new TextEncoder().encode(text));
    } catch (e) {
      this.log.debug({ err: e, topic }, 'log gossip publish failed');
    }
  }

  private async validateCheckpoint(peer: string, data: Uint8Array): Promise<TopicValidatorResult> {
    if (data.byteLength > MAX_NOTE_BYTES) {
      this.stats.checkpointsRejected++;
      return TopicValidatorResult.Reject;
    }
    if (!this.gossipRate.take(peer, data.byteLength)) return TopicValidatorResult.Ignore;
    this.stats.checkpointsReceived++;
    try {
      const outcome = await this.mirror.offer(new TextDecoder().decode(data));
      if (outcome.outcome === 'new') this.schedule(outcome.issuer, peer);
      if (outcome.outcome === 'new' || outcome.outcome === 'cosigned' || outcome.outcome === 'equivocation') return TopicValidatorResult.Accept;
      // A valid checkpoint of an issuer this node holds statements of is relayed, so nodes
      // that count it hear it through nodes that do not; a fresh key's is not.
      if (outcome.outcome === 'ignored' && this.store.issuerUsage(outcome.issuer).attestations > 0) return TopicValidatorResult.Accept;
      return TopicValidatorResult.Ignore;
    } catch (e) {
      this.stats.checkpointsRejected++;
      this.log.debug({ err: e, peer }, 'checkpoint refused');
      return TopicValidatorResult.Reject;
    }
  }

  private async validateEquivocation(peer: string, data: Uint8Array): Promise<TopicValidatorResult> {
    if (data.byteLength > MAX_EQUIVOCATION_BYTES) return TopicValidatorResult.Reject;
    if (!this.equivocationRate.take(peer, data.byteLength)) {
      // An honest node publishes a proof twice; a stream of them past the rate is a flood.
      const n = (this.equivocationFlood.get(peer) ?? 0) + 1;
      this.equivocationFlood.delete(peer);
      if (this.equivocationFlood.size >= 10_000) this.equivocationFlood.delete(this.equivocationFlood.keys().next().value as string);
      this.equivocationFlood.set(peer, n);
      if (n % 20 === 0) this.onAbuse(peer, 'log: equivocation proofs past the rate');
      return TopicValidatorResult.Ignore;
    }
    try {
      const outcome = await this.mirror.addEquivocation(JSON.parse(new TextDecoder().decode(data)) as unknown);
      this.stats.equivocationsReceived++;
      return outcome.added ? TopicValidatorResult.Accept : TopicValidatorResult.Ignore;
    } catch {
      return TopicValidatorResult.Reject;
    }
  }

  /** The note this node serves for `did`: its own newest checkpoint, or the mirrored one. */
  private async noteOf(did: string): Promise<string | undefined> {
    if (this.ownLog !== undefined && did === this.ownLog.did) return this.ownLog.checkpoint();
    return this.mirror.note(did);
  }

  private async serve(stream: Stream, peer: PeerId): Promise<void> {
    const lp = lpStream(stream, { maxDataLength: MAX_LOG_MESSAGE });
    const who = peer.toString();
    try {
      const signal = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
      let raw;
      try {
        raw = await lp.read({ signal });
      } catch (e) {
        // Longer than any request may be: the peer broke the protocol.
        if ((e as Error).name === 'InvalidDataLengthError') this.onAbuse(who, 'log: oversized request');
        throw e;
      }
      let req: Request;
      try {
        req = Request.parse(JSON.parse(new TextDecoder().decode(raw.subarray())));
      } catch {
        stream.abort(new Error('malformed log request'));
        this.onAbuse(who, 'log: malformed request');
        return;
      }
      if (!this.serveRate.take(who, 1)) {
        await lp.write(enc({ error: 'busy' }), { signal });
        await stream.close({ signal });
        return;
      }
      this.stats.served++;
      let reply: unknown;
      try {
        reply = await this.answer(req);
      } catch (e) {
        reply = { error: (e as Error).message.slice(0, 500) };
      }
      await lp.write(enc(reply), { signal });
      await stream.close({ signal });
    } catch (e) {
      this.log.debug({ err: e }, 'log request failed');
      stream.abort(e as Error);
    }
  }

  private async answer(req: Request): Promise<unknown> {
    const own = (did: string): OwnLog | undefined => (this.ownLog !== undefined && did === this.ownLog.did ? this.ownLog : undefined);
    switch (req.type) {
      case 'checkpoints': {
        // As many as fit one message; the asker asks again for the rest.
        const notes: string[] = [];
        let bytes = 64;
        for (const did of req.issuers) {
          const note = await this.noteOf(did);
          if (note === undefined) continue;
          const size = Buffer.byteLength(JSON.stringify(note));
          if (bytes + size + 1 > REPLY_ROOM) break;
          bytes += size + 1;
          notes.push(note);
        }
        return { notes };
      }
      case 'leaves': {
        const owned = own(req.issuer);
        if (owned) return { ids: owned.leafIds(req.start, Math.min(req.end, owned.size)) };
        const size = this.mirror.size(req.issuer);
        return { ids: req.start >= size ? [] : await this.mirror.leafIds(req.issuer, req.start, Math.min(req.end, size)) };
      }
      case 'inclusion': {
        const owned = own(req.issuer);
        if (owned) return owned.inclusion(req.id);
        this.takeProofToken();
        return this.mirror.inclusion(req.issuer, req.id);
      }
      case 'consistency': {
        const owned = own(req.issuer);
        if (owned) return { proof: owned.consistency(req.from, req.to) };
        this.takeProofToken();
        return { proof: await this.mirror.consistency(req.issuer, req.from, req.to) };
      }
      case 'equivocations':
        return { proofs: this.mirror.equivocations(100, REPLY_ROOM).map((entry) => entry.proof) };
    }
  }

  /** A proof from a mirrored log (built from its leaves): node-wide at most 2 a second, else `busy`. */
  private takeProofToken(): void {
    const now = Date.now();
    this.proofTokens = { n: Math.min(4, this.proofTokens.n + ((now - this.proofTokens.at) / 1000) * 2), at: now };
    if (this.proofTokens.n < 1) throw new ChorusError('rate_limited', 'busy');
    this.proofTokens.n -= 1;
  }

  private async request(peer: PeerId, body: Request, signal?: AbortSignal): Promise<unknown> {
    const timeout = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
    const combined = signal ? AbortSignal.any([timeout, signal]) : timeout;
    const stream = await this.host.dialProtocol(peer, LOG_PROTOCOL, { signal: combined, runOnLimitedConnection: true });
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_LOG_MESSAGE });
      await lp.write(enc(body), { signal: combined });
      const res = await lp.read({ signal: combined });
      await stream.close({ signal: combined });
      const reply = JSON.parse(new TextDecoder().decode(res.subarray())) as unknown;
      const err = ErrorReply.safeParse(reply);
      if (err.success) throw new ChorusError('unavailable', `peer: ${err.data.error}`);
      return reply;
    } catch (e) {
      stream.abort(e as Error);
      throw e;
    }
  }

  /**
   * On connect: the peer's checkpoints of the logs this node follows (and its own), and the
   * equivocation proofs it holds; then what they show missing is completed.
   */
  private async exchange(peer: PeerId): Promise<void> {
    if (this.stopped) return;
    if (this.ownLog?.recovering) await this.recoverOwn(peer).catch((e: unknown) => this.log.debug({ err: e }, 'own log recovery from peer failed'));
    try {
      const proofs = EquivocationsReply.parse(await this.request(peer, { type: 'equivocations' }));
      for (const proof of proofs.proofs) await this.mirror.addEquivocation(proof).catch(() => this.onAbuse(peer.toString(), 'log: a false equivocation proof'));
    } catch (e) {
      // A peer that cannot answer this still has checkpoints to give.
      this.log.debug({ err: e, peer: peer.toString() }, 'equivocation exchange with peer failed');
    }
    try {
      const followed = (await this.mirror.followed()).slice(0, 4 * MAX_ISSUERS_PER_REQUEST);
      for (let i = 0; i < followed.length; i += MAX_ISSUERS_PER_REQUEST) {
        const reply = NotesReply.parse(await this.request(peer, { type: 'checkpoints', issuers: followed.slice(i, i + MAX_ISSUERS_PER_REQUEST) }));
        for (const note of reply.notes) {
          const outcome = await this.mirror.offer(note).catch(() => {
            this.onAbuse(peer.toString(), 'log: a forged checkpoint');
            return undefined;
          });
          if (outcome?.outcome === 'new') this.schedule(outcome.issuer, peer.toString());
        }
      }
      for (const did of this.mirror.incomplete()) this.schedule(did, peer.toString());
    } catch (e) {
      this.log.debug({ err: e, peer: peer.toString() }, 'log exchange with peer failed');
    }
  }

  /** Completes `did`'s mirror soon, asking `hint` first (the peer that told of the checkpoint). */
  schedule(did: string, hint?: string): void {
    if (this.stopped || this.running.has(did)) return;
    if (!this.queue.has(did) || hint !== undefined) this.queue.set(did, hint);
    this.pump();
  }

  private pump(): void {
    while (this.active < CATCH_UP_CONCURRENCY && this.queue.size > 0 && !this.stopped) {
      const [did, hint] = this.queue.entries().next().value as [string, string | undefined];
      this.queue.delete(did);
      this.active++;
      this.running.add(did);
      void this.catchUp(did, hint).catch((e: unknown) => this.log.debug({ err: e, issuer: did }, 'log catch-up failed')).finally(() => {
        this.active--;
        this.running.delete(did);
        this.pump();
      });
    }
  }

  /** Whether `did`'s mirror has nothing left to fetch. */
  private done(did: string): boolean {
    return this.mirror.wants(did) === undefined && this.mirror.missingIds(did, 1).length === 0;
  }

  /**
   * Completes one issuer's mirror from the connected peers: the hinted one first, then the
   * others in random order, each at most once. Returns whether it is complete.
   */
  async catchUp(did: string, hint?: string): Promise<boolean> {
    const peers = this.host.getPeers().filter((candidate) => candidate.toString() !== hint).sort(() => Math.random() - 0.5);
    const first = hint === undefined ? undefined : this.host.getPeers().find((candidate) => candidate.toString() === hint);
    for (const peer of [...(first ? [first] : []), ...peers].slice(0, PEERS_PER_CATCH_UP)) {
      if (this.done(did) || this.stopped) return this.done(did);
      try {
        await this.leavesFrom(peer, did);
        await this.envelopesFrom(peer, did);
      } catch (e) {
        this.log.debug({ err: e, peer: peer.toString(), issuer: did }, 'log catch-up from peer failed');
      }
    }
    return this.done(did);
  }

  /** The leaves this node lacks, up to the peer's own checkpoint, verified against it. */
  private async leavesFrom(peer: PeerId, did: string): Promise<void> {
    const want = this.mirror.wants(did);
    if (want === undefined) return;
    const reply = NotesReply.parse(await this.request(peer, { type: 'checkpoints', issuers: [did] }));
    const note = reply.notes[0];
    if (note === undefined) return;
    let offered;
    try {
      offered = await this.mirror.offer(note);
    } catch {
      this.onAbuse(peer.toString(), 'log: a forged checkpoint');
      return;
    }
    if (offered.issuer !== did || offered.outcome === 'equivocation' || offered.size <= want.from) return;
    const ids = await this.fetchLeaves(peer, did, want.from, offered.size);
    try {
      const res = await this.mirror.extend(did, note, want.from, ids);
      this.stats.leavesFetched += ids.length;
      if (res.outcome === 'new') this.log.debug({ issuer: did, size: offered.size, missing: res.missing.length }, 'mirrored log extended');
    } catch (e) {
      // Leaves that do not hash to the peer's own signed root: the peer lied.
      this.stats.lyingPeers++;
      this.onAbuse(peer.toString(), 'log: leaves that do not match its checkpoint');
      throw e;
    }
  }

  /** Leaves [from, to) of `did`'s log from `peer`, in pages; throws when the peer does not hold them all. */
  private async fetchLeaves(peer: PeerId, did: string, from: number, to: number): Promise<string[]> {
    const ids: string[] = [];
    for (let start = from; start < to; start += LEAF_PAGE) {
      const end = Math.min(to, start + LEAF_PAGE);
      const page = LeavesReply.parse(await this.request(peer, { type: 'leaves', issuer: did, start, end }));
      if (page.ids.length !== end - start) throw new ChorusError('unavailable', 'the peer does not hold the leaves of its own checkpoint');
      ids.push(...page.ids);
    }
    return ids;
  }

  /** The envelopes of the ids this node lacks, through the sync protocol and the ingest path. */
  private async envelopesFrom(peer: PeerId, did: string): Promise<void> {
    for (let round = 0; round < 50; round++) {
      const ids = this.mirror.missingIds(did, 200);
      if (ids.length === 0) return;
      const ds = await this.sync.fetchIds(peer, ids);
      this.stats.envelopesFetched += ds.length;
      await this.mirror.settled(ds);
      // A peer that gave none of them does not hold them (or withholds them): the next one is asked.
      if (ds.length === 0) return;
      if (this.mirror.missingIds(did, 200).length === ids.length && ds.every((decision) => decision.outcome !== 'accept')) return;
    }
  }
}
