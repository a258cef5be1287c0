import { mkdir } from 'node:fs/promises';
import { Level } from 'level';
import type { CryptoSuite } from '../../src/crypto/suite.js';
import { fromHex, toHex } from '../../src/encoding/bytes.js';
import { ChorusError } from '../../src/errors.js';
import type { Decision } from '../../src/ingest/decide.js';
import { CompactRange, equal, leafHash, MerkleTree } from '../../src/tlog/merkle.js';
import { MAX_NOTE_BYTES, parseNote } from '../../src/tlog/note.js';
import {
  checkpointTime, cosign, equivocationProof, inconsistencyNodes, noteWith, verifiedCosignatures, verifyCheckpointNote, verifyEquivocation,
  type Cosignature, type EquivocationProof, type SignedCheckpoint,
} from '../../src/tlog/witness.js';
import { nativeSigner } from '../crypto/native-suite.js';
import type { Config } from '../home/config.js';
import { anyOf, type WitnessPolicy } from '../../src/tlog/policy.js';
import type { Identity } from '../home/identity.js';
import type { AttestationStore, Removed, RemovalReason } from '../store/attestation-store.js';

/** A new checkpoint of one issuer is looked at at most this often (cosignatures of a known one are always merged). */
export const CHECKPOINT_INTERVAL_MS = 5_000;
/** Cosignatures kept per checkpoint, and pending checkpoints (sizes between the verified and the newest) per issuer. */
const MAX_COSIGNATURES = 32;
const MAX_PENDING = 4;
/** This node cosigns one issuer's checkpoints at most this often. */
const COSIGN_INTERVAL_MS = 10_000;
/** Equivocation proofs kept of issuers that did not count here when they came (one per issuer); those of counting issuers are bounded by maxMirroredIssuers. */
const MAX_OTHER_EQUIVOCATIONS = 1_000;
/** Mirrored-log proof trees kept built (the newest few): a reader asking again costs O(log n). */
const TREE_CACHE = 2;

/** How complete this node's copy of one issuer's log is (SPEC §16.4). */
export type LogState = 'complete' | 'missing' | 'stale' | 'unsettled' | 'no-log' | 'equivocated' | 'own';

export interface IssuerCompleteness {
  readonly issuer: string;
  readonly state: LogState;
  /** Leaves of the newest checkpoint this node verified against its leaves (its size). */
  readonly verified: number;
  /** The largest size any valid checkpoint of the issuer claimed. */
  readonly known: number;
  /** Statements of the issuer this node knows of and does not hold: leaves not fetched, plus ids whose envelopes are missing. */
  readonly missing: number;
  /** When the issuer signed its newest checkpoint (ISO), when it says. */
  readonly checkpointAt: string | null;
  /** Witnesses (of those that settle, SPEC §16.5) that cosigned the verified checkpoint. */
  readonly witnesses: number;
  readonly settled: boolean;
}

interface IssuerLog {
  readonly did: string;
  /** The newest checkpoint whose leaves this node holds and verified, and its note's text with cosignatures. */
  verified: SignedCheckpoint | undefined;
  range: CompactRange;
  /** Cosignatures of the verified checkpoint, by witness. */
  cosignatures: Map<string, Cosignature>;
  /** Valid checkpoints larger than the verified one, not yet verified against leaves (the largest last). */
  pending: SignedCheckpoint[];
  /** Leaf ids of the verified tree whose envelopes this node does not hold (and did not see expire). */
  missing: Set<string>;
  lastNewAt: number;
  lastCosignAt: number;
}

interface PersistedLog {
  verified?: string;
  range: string[];
  cosignatures: string[];
  pending: string[];
}

export type OfferOutcome =
  /** A checkpoint larger than what this node holds: leaves to fetch. */
  | 'new'
  /** Nothing new (the same checkpoint, an older consistent one), or new cosignatures merged. */
  | 'known' | 'cosigned'
  /** Not mirrored here: an issuer that does not count, or over a bound. */
  | 'ignored' | 'rate_limited'
  /** The checkpoint and one held here cannot both be true: an equivocation proof was made. */
  | 'equivocation';

export interface MirrorDeps {
  readonly store: AttestationStore;
  readonly suite: CryptoSuite;
  readonly identity: Identity;
  readonly config: Config['transparency'];
  /** The issuers that count in this node's view now. */
  readonly counting: () => ReadonlySet<string>;
  /** The witness policy file's, when there is one (c2sp.org/tlog-policy; SPEC §16.5). */
  readonly policy?: () => WitnessPolicy | undefined;
  /** Brings who counts up to date (a trust change since the last question). */
  readonly refresh?: () => Promise<unknown>;
  readonly now?: () => number;
}

const utf8Length = (text: string): number => Buffer.byteLength(text, 'utf8');
const indexKey = (did: string, id: string): string => `i!${did}!${id}`;
const leafKey = (did: string, index: number): string => `l!${did}!${index.toString(16).padStart(12, '0')}`;

/**
 * The logs of other issuers as this node mirrors them (SPEC §16.3): per issuer, the leaf
 * ids up to the newest checkpoint whose root they were verified to hash to, that
 * checkpoint with the cosignatures held, larger checkpoints not yet verified, and which of
 * its statements this node lacks. A LevelDB of its own beside the store (log/mirror):
 * leaves `l!<did>!<index>`, state `s!<did>`, equivocation proofs `e!<did>`, ids that
 * expired or were collected `x!<id>` (held once, so not missing).
 *
 * Memory per mirrored issuer: its state (two notes, ⌈log₂ n⌉ hashes, cosignatures) and
 * the ids it lacks; the leaves stay on disk. Only issuers that count are followed, at most
 * `maxMirroredIssuers`, each at most `maxLeavesPerIssuer` leaves.
 */
export class Mirror {
  private readonly logs = new Map<string, IssuerLog>();
  /**
   * Equivocation proofs held, one per issuer; `counted`: the issuer counted here when the
   * proof came (only those make views incomplete: a stranger's proof against its own
   * throwaway key changes nobody's view).
   */
  private readonly equivocationsHeld = new Map<string, { proof: EquivocationProof; counted: boolean }>();
  private readonly trees: { did: string; size: number; tree: MerkleTree }[] = [];
  private readonly equivocationListeners = new Set<(proof: EquivocationProof, issuer: string) => void>();
  private readonly cosignListeners = new Set<(note: string) => void>();
  private readonly changeListeners = new Set<() => void>();
  private readonly now: () => number;
  private summaryCache: { at: number; value: CompletenessSummary } | undefined;
  private writing: Promise<unknown> = Promise.resolve();
  private signer: ((message: Uint8Array) => Uint8Array) | undefined;

  private constructor(private readonly db: Level<string, string>, private readonly deps: MirrorDeps) {
    this.now = deps.now ?? Date.now;
  }

  static async open(dir: string, deps: MirrorDeps): Promise<Mirror> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const db = new Level<string, string>(dir, { keyEncoding: 'utf8', valueEncoding: 'utf8' });
    await db.open();
    const mirror = new Mirror(db, deps);
    try {
      await mirror.load();
    } catch (e) {
      await db.close();
      throw e;
    }
    return mirror;
  }

  private async load(): Promise<void> {
    for await (const [key, value] of this.db.iterator({ gte: 's!', lt: 's"' })) {
      const did = key.slice(2);
      // One damaged entry costs its issuer's mirror (fetched again), never the node's start.
      try {
        const persisted = JSON.parse(value) as PersistedLog;
        const verified = persisted.verified === undefined ? undefined : verifyCheckpointNote(persisted.verified, this.deps.suite);
        const log = this.blank(did);
        log.verified = verified;
        log.range = new CompactRange(verified?.checkpoint.size ?? 0, persisted.range.map((hex) => fromHex(hex)!));
        log.pending = persisted.pending.map((note) => verifyCheckpointNote(note, this.deps.suite));
        if (verified) {
          // Verified again at load, each line on its own; their times were checked when they came.
          for (const line of persisted.cosignatures.slice(0, MAX_COSIGNATURES)) {
            const parsed = parseNote(`${verified.text}\n${line}\n`);
            for (const cosignature of verifiedCosignatures(verified.text, parsed.signatures, this.deps.suite, 2 ** 52)) log.cosignatures.set(cosignature.witness, cosignature);
          }
        }
        this.logs.set(did, log);
      } catch {
        await this.db.del(key);
      }
    }
    for await (const [key, value] of this.db.iterator({ gte: 'e!', lt: 'e"' })) {
      try {
        const stored = JSON.parse(value) as { proof?: EquivocationProof; counted?: boolean } & Partial<EquivocationProof>;
        const proof = stored.proof ?? (stored as EquivocationProof);
        this.equivocationsHeld.set(key.slice(2), { proof, counted: stored.counted ?? true });
      } catch {
        await this.db.del(key);
      }
    }
    // What each verified tree lacks: its ids neither in the store nor seen to expire.
    for (const log of this.logs.values()) {
      const size = log.verified?.checkpoint.size ?? 0;
      for (let i = 0; i < size; i += 1000) {
        const ids = await this.leafIds(log.did, i, Math.min(size, i + 1000));
        await this.noteMissing(log, ids);
      }
    }
  }

  private blank(did: string): IssuerLog {
    return { did, verified: undefined, range: new CompactRange(), cosignatures: new Map(), pending: [], missing: new Set(), lastNewAt: 0, lastCosignAt: 0 };
  }

  /** Of `ids`, those neither in the store nor seen to expire here. */
  private async lacking(ids: readonly string[]): Promise<string[]> {
    const held = await this.deps.store.hasMany(ids);
    const gone = await this.db.getMany(ids.map((id) => `x!${id}`));
    return ids.filter((_, k) => !held[k] && gone[k] === undefined);
  }

  /**
   * Adds what `log` lacks of `ids`, then looks again: an envelope committed while the store
   * was asked (its commit found nothing to clear yet) is not left counted as missing.
   */
  private async noteMissing(log: IssuerLog, ids: readonly string[], known?: readonly string[]): Promise<void> {
    const lacking = known ?? (await this.lacking(ids));
    for (const id of lacking) log.missing.add(id);
    if (lacking.length === 0) return;
    const now = await this.deps.store.hasMany(lacking);
    lacking.forEach((id, k) => {
      if (now[k]) log.missing.delete(id);
    });
  }

  /** Whether this node follows `did`'s log: an issuer that counts here, not this node, within the bound. */
  follows(did: string): boolean {
    if (!this.deps.config.mirror || did === this.deps.identity.did) return false;
    if (this.equivocationsHeld.get(did)?.counted === true) return true;
    if (this.logs.has(did)) return this.deps.counting().has(did);
    return this.deps.counting().has(did) && this.logs.size < this.deps.config.maxMirroredIssuers;
  }

  /** The issuers whose logs this node follows now (those that count, within the bound). */
  async followed(): Promise<string[]> {
    await this.deps.refresh?.();
    return [...this.deps.counting()].filter((did) => this.follows(did));
  }

  /** Hears every new equivocation proof (to gossip it and stop counting the issuer). */
  onEquivocation(listener: (proof: EquivocationProof, issuer: string) => void): void {
    this.equivocationListeners.add(listener);
  }

  /** Hears every note this node cosigned (to gossip it). */
  onCosigned(listener: (note: string) => void): void {
    this.cosignListeners.add(listener);
  }

  /** Hears every change of completeness. */
  onChange(listener: () => void): void {
    this.changeListeners.add(listener);
  }

  private changed(): void {
    this.summaryCache = undefined;
    for (const listener of this.changeListeners) listener();
  }

  private persist(log: IssuerLog): Promise<void> {
    const persisted: PersistedLog = {
      ...(log.verified ? { verified: noteWith(log.verified, []) } : {}),
      range: log.range.hashes.map(toHex),
      cosignatures: [...log.cosignatures.values()].map((cosignature) => cosignature.line),
      pending: log.pending.map((checkpoint) => noteWith(checkpoint, [])),
    };
    const write = this.writing.catch(() => undefined).then(() => this.db.put(`s!${log.did}`, JSON.stringify(persisted)));
    this.writing = write;
    return write;
  }

  /**
   * A checkpoint note from anywhere (gossip, a peer's answer, the API): verified (size and
   * syntax bounds, one signature, then any cosignatures it carries), then compared with
   * what is held. Throws a typed error for a malformed or forged note (the sender is to
   * blame); returns what it meant otherwise.
   */
  async offer(note: string): Promise<{ outcome: OfferOutcome; issuer: string; size: number }> {
    if (typeof note !== 'string' || note.length > MAX_NOTE_BYTES) throw new ChorusError('too_large', `a checkpoint note is at most ${MAX_NOTE_BYTES} bytes`);
    const signed = verifyCheckpointNote(note, this.deps.suite);
    await this.deps.refresh?.();
    const out = (outcome: OfferOutcome) => ({ outcome, issuer: signed.issuer, size: signed.checkpoint.size });
    if (!this.follows(signed.issuer)) return out('ignored');
    if (this.equivocationsHeld.has(signed.issuer)) return out('known');
    let log = this.logs.get(signed.issuer);
    if (log === undefined) this.logs.set(signed.issuer, (log = this.blank(signed.issuer)));
    const verified = log.verified;
    const size = signed.checkpoint.size;
    // The verified checkpoint again (or the same tree, signed again later): merge cosignatures.
    if (verified !== undefined && size === verified.checkpoint.size) {
      if (!equal(signed.checkpoint.root, verified.checkpoint.root)) return out(await this.equivocated(log, signed, verified, []));
      if (signed.text !== verified.text && (checkpointTime(signed.checkpoint) ?? 0) > (checkpointTime(verified.checkpoint) ?? 0)) {
        // A heartbeat: the same tree, signed anew. Cosignatures of the old note do not carry over.
        log.verified = signed;
        log.cosignatures.clear();
        this.mergeCosignatures(log, signed);
        this.cosignIfDue(log);
        await this.persist(log);
        this.changed();
        return out('known');
      }
      if (signed.text !== verified.text) return out('known');
      const added = this.mergeCosignatures(log, signed);
      if (added > 0) {
        await this.persist(log);
        this.changed();
      }
      return out(added > 0 ? 'cosigned' : 'known');
    }
    // Older than what is verified: it must be a prefix of the tree held.
    if (verified !== undefined && size < verified.checkpoint.size) {
      const tree = await this.tree(log.did, verified.checkpoint.size);
      if (equal(tree.root(size), signed.checkpoint.root)) return out('known');
      return out(await this.equivocated(log, signed, verified, size === 0 ? [] : inconsistencyNodes(size, tree.consistencyProof(size, verified.checkpoint.size), tree.root(size))));
    }
    // Larger than what is verified: a pending one of the same size must agree.
    const same = log.pending.find((candidate) => candidate.checkpoint.size === size);
    if (same !== undefined) {
      if (!equal(same.checkpoint.root, signed.checkpoint.root)) return out(await this.equivocated(log, signed, same, []));
      return out('known');
    }
    const now = this.now();
    if (now - log.lastNewAt < CHECKPOINT_INTERVAL_MS && log.pending.length > 0) {
      // Over the rate, a larger one still replaces the largest held (memory stays the same):
      // an old checkpoint replayed just before the newest must not hide it.
      // Held in memory (persisted with the next change), not forwarded: the retry loop fetches it.
      const largest = log.pending[log.pending.length - 1]!;
      if (size > largest.checkpoint.size) {
        log.pending[log.pending.length - 1] = signed;
        this.changed();
      }
      return out('rate_limited');
    }
    log.lastNewAt = now;
    log.pending.push(signed);
    log.pending.sort((a, b) => a.checkpoint.size - b.checkpoint.size);
    // Keep the smallest and the largest few: the largest says how much is missing.
    if (log.pending.length > MAX_PENDING) log.pending.splice(1, log.pending.length - MAX_PENDING);
    await this.persist(log);
    this.changed();
    return out('new');
  }

  /**
   * Keeps the cosignatures a note brings: at most MAX_COSIGNATURES, the policy's witnesses
   * (and this node) first — a crowd of throwaway witnesses gives way to one that settles.
   */
  private mergeCosignatures(log: IssuerLog, signed: SignedCheckpoint): number {
    const settling = this.settlers().witnesses;
    const me = this.deps.identity.did;
    const wanted = (witness: string): boolean => witness === me || settling.has(witness);
    let added = 0;
    for (const cosignature of verifiedCosignatures(signed.text, signed.others, this.deps.suite, Math.floor(this.now() / 1000))) {
      if (cosignature.witness === log.did) continue;
      const prev = log.cosignatures.get(cosignature.witness);
      if (prev !== undefined && prev.timestamp >= cosignature.timestamp) continue;
      if (prev === undefined && log.cosignatures.size >= MAX_COSIGNATURES) {
        if (!wanted(cosignature.witness)) continue;
        const victim = [...log.cosignatures.keys()].find((witness) => !wanted(witness));
        if (victim === undefined) continue;
        log.cosignatures.delete(victim);
      }
      log.cosignatures.set(cosignature.witness, cosignature);
      added++;
    }
    return added;
  }

  /** This node's cosignature of the verified checkpoint (SPEC §16.5), at most once per COSIGN_INTERVAL_MS per issuer. */
  private cosignIfDue(log: IssuerLog): void {
    const verified = log.verified;
    const now = this.now();
    if (!this.deps.config.witness || verified === undefined || now - log.lastCosignAt < COSIGN_INTERVAL_MS) return;
    log.lastCosignAt = now;
    const me = this.deps.identity.did;
    this.signer ??= nativeSigner(this.deps.identity.secretKey);
    const mine = cosign(verified.text, me, this.deps.identity.secretKey, Math.floor(now / 1000), this.signer);
    log.cosignatures.set(me, mine);
    const note = this.note(log.did)!;
    for (const listener of this.cosignListeners) listener(note);
  }

  /** Where to start fetching leaves of `did`, and up to which size (the newest pending checkpoint), or undefined. */
  wants(did: string): { from: number; to: number } | undefined {
    const log = this.logs.get(did);
    if (log === undefined || this.equivocationsHeld.has(did) || log.pending.length === 0) return undefined;
    // A log past maxLeavesPerIssuer is not followed further: it shows as missing, nothing is fetched.
    const to = log.pending[log.pending.length - 1]!.checkpoint.size;
    if (to > this.deps.config.maxLeavesPerIssuer) return undefined;
    return { from: log.verified?.checkpoint.size ?? 0, to };
  }

  /** Ids of `did`'s verified tree whose envelopes this node lacks (at most `limit`). */
  missingIds(did: string, limit = 1000): string[] {
    const out: string[] = [];
    for (const id of this.logs.get(did)?.missing ?? []) {
      if (out.length >= limit) break;
      out.push(id);
    }
    return out;
  }

  /** Issuers whose copy is incomplete: leaves to fetch or envelopes missing. */
  incomplete(): string[] {
    return [...this.logs.values()].filter((log) => !this.equivocationsHeld.has(log.did) && ((log.pending.length > 0 && this.wants(log.did) !== undefined) || log.missing.size > 0) && this.follows(log.did)).map((log) => log.did);
  }

  /**
   * Leaves a peer gave for `did`, from the verified size on, with the peer's own checkpoint
   * `note` they must hash to. Verified in O(log n) memory from the held compact range, then
   * stored; the checkpoint becomes the verified one and is cosigned. Pending checkpoints on
   * the way are compared with the roots at their sizes: one that differs is an equivocation.
   * Throws `bad_input` when the leaves do not hash to the peer's signed root (the peer
   * lied). Returns the ids whose envelopes this node lacks.
   */
  async extend(did: string, note: string, start: number, ids: readonly string[]): Promise<{ missing: string[]; outcome: OfferOutcome }> {
    const signed = verifyCheckpointNote(note, this.deps.suite);
    if (signed.issuer !== did) throw new ChorusError('bad_input', 'the checkpoint is of another log');
    const log = this.logs.get(did);
    if (log === undefined || this.equivocationsHeld.has(did)) return { missing: [], outcome: 'ignored' };
    const from = log.verified?.checkpoint.size ?? 0;
    if (start !== from || from + ids.length !== signed.checkpoint.size) throw new ChorusError('bad_input', `expected the leaves ${from}..${signed.checkpoint.size}`);
    if (signed.checkpoint.size > this.deps.config.maxLeavesPerIssuer) return { missing: [], outcome: 'ignored' };
    const range = log.range.clone();
    const roots = new Map<number, Uint8Array>();
    const wanted = new Set(log.pending.map((pending) => pending.checkpoint.size));
    for (const id of ids) {
      const idBytes = typeof id === 'string' && /^[0-9a-f]{64}$/.test(id) ? fromHex(id) : undefined;
      if (idBytes === undefined) throw new ChorusError('bad_input', 'a leaf id is 64 hex characters');
      range.append(leafHash(idBytes));
      if (wanted.has(range.size)) roots.set(range.size, range.root());
    }
    if (!equal(range.root(), signed.checkpoint.root)) throw new ChorusError('bad_input', `the leaves ${from}..${signed.checkpoint.size} do not hash to the peer's checkpoint root`);
    // The leaves are the issuer's (they hash to its signed root): store them.
    const batch = this.db.batch();
    ids.forEach((id, k) => {
      batch.put(leafKey(did, from + k), id);
      batch.put(indexKey(did, id), String(from + k));
    });
    await batch.write();
    // Everything awaited is done before the state changes: no view may see the new
    // checkpoint verified without what it lacks (it would read "complete").
    const lacking = await this.lacking(ids);
    const before = log.verified;
    log.verified = signed;
    log.range = range;
    log.cosignatures.clear();
    this.mergeCosignatures(log, signed);
    // Every pending checkpoint the new tree covers is compared with its root at that size —
    // also one that arrived while the leaves were written (its root is read from the tree).
    const covered = log.pending.filter((pending) => pending.checkpoint.size <= signed.checkpoint.size);
    log.pending = log.pending.filter((pending) => pending.checkpoint.size > signed.checkpoint.size);
    this.dropTrees(did);
    this.summaryCache = undefined;
    await this.noteMissing(log, ids, lacking);
    const unrooted = covered.filter((pending) => !roots.has(pending.checkpoint.size));
    if (unrooted.length > 0) {
      const tree = await this.tree(did, signed.checkpoint.size);
      for (const pending of unrooted) roots.set(pending.checkpoint.size, tree.root(pending.checkpoint.size));
    }
    const conflicts = covered.filter((pending) => !equal(roots.get(pending.checkpoint.size)!, pending.checkpoint.root));
    if (conflicts.length > 0) {
      const conflict = conflicts[0]!;
      const tree = await this.tree(did, signed.checkpoint.size);
      const outcome = await this.equivocated(log, conflict, signed, inconsistencyNodes(conflict.checkpoint.size, tree.consistencyProof(conflict.checkpoint.size, signed.checkpoint.size), tree.root(conflict.checkpoint.size)));
      return { missing: [...log.missing], outcome };
    }
    // Verified to extend what was held before (same leaves, then more): a witness's statement.
    if (before === undefined || before.checkpoint.size <= signed.checkpoint.size) this.cosignIfDue(log);
    await this.persist(log);
    this.changed();
    return { missing: this.missingIds(did), outcome: 'new' };
  }

  /** The tree of `did`'s first `size` leaves, from disk (for proofs; bounded by maxLeavesPerIssuer). */
  private async tree(did: string, size: number): Promise<MerkleTree> {
    const hit = this.trees.find((cached) => cached.did === did && cached.size >= size);
    if (hit) return hit.tree;
    const tree = new MerkleTree();
    for (let i = 0; i < size; i += 1000) for (const id of await this.leafIds(did, i, Math.min(size, i + 1000))) tree.append(leafHash(fromHex(id)!));
    this.trees.unshift({ did, size, tree: tree });
    this.trees.splice(TREE_CACHE);
    return tree;
  }

  private dropTrees(did: string): void {
    for (let i = this.trees.length - 1; i >= 0; i--) if (this.trees[i]!.did === did) this.trees.splice(i, 1);
  }

  private async equivocated(log: IssuerLog, first: SignedCheckpoint, second: SignedCheckpoint, nodes: readonly Uint8Array[]): Promise<OfferOutcome> {
    const proof = equivocationProof(first, second, nodes);
    verifyEquivocation(proof, this.deps.suite); // never store a proof that does not verify
    return (await this.addEquivocation(proof)).added ? 'equivocation' : 'known';
  }

  /** An equivocation proof from anywhere: verified (throws a typed error when it is not one), stored once per issuer. */
  async addEquivocation(raw: unknown): Promise<{ added: boolean; issuer: string }> {
    const checked = verifyEquivocation(raw, this.deps.suite);
    if (this.equivocationsHeld.has(checked.issuer)) return { added: false, issuer: checked.issuer };
    await this.deps.refresh?.();
    // Kept for an issuer that counts here (it makes views incomplete and stops it counting),
    // or one this node holds statements of (bounded); a throwaway key's is not kept.
    const counted = this.deps.counting().has(checked.issuer);
    if (!counted) {
      const others = [...this.equivocationsHeld.values()].filter((entry) => !entry.counted).length;
      if (others >= MAX_OTHER_EQUIVOCATIONS || this.deps.store.issuerUsage(checked.issuer).attestations === 0) return { added: false, issuer: checked.issuer };
    }
    // Stored as the two notes with the issuer's signature only, whatever else they carried.
    const proof = equivocationProof(checked.a, checked.b, checked.proof.nodes.map((hex) => fromHex(hex)!));
    this.equivocationsHeld.set(checked.issuer, { proof, counted });
    await this.db.put(`e!${checked.issuer}`, JSON.stringify({ proof, counted }));
    for (const listener of this.equivocationListeners) listener(proof, checked.issuer);
    this.changed();
    return { added: true, issuer: checked.issuer };
  }

  equivocation(did: string): EquivocationProof | undefined {
    return this.equivocationsHeld.get(did)?.proof;
  }

  /** Held proofs, those of counting issuers first, at most `limit` and (when given) `maxBytes` of JSON. */
  equivocations(limit = 100, maxBytes = Infinity): { issuer: string; proof: EquivocationProof }[] {
    const out: { issuer: string; proof: EquivocationProof }[] = [];
    let bytes = 0;
    const all = [...this.equivocationsHeld].sort((a, b) => Number(b[1].counted) - Number(a[1].counted));
    for (const [issuer, entry] of all) {
      if (out.length >= limit) break;
      const size = JSON.stringify(entry.proof).length + 1;
      if (bytes + size > maxBytes) break;
      bytes += size;
      out.push({ issuer, proof: entry.proof });
    }
    return out;
  }

  /** Issuers caught equivocating. */
  equivocators(): Set<string> {
    return new Set(this.equivocationsHeld.keys());
  }

  /** The verified checkpoint of `did` with the cosignatures held, as a note; undefined when none. */
  note(did: string): string | undefined {
    const log = this.logs.get(did);
    if (log?.verified === undefined) return undefined;
    // Never more than a note may be (16 KiB): the policy's witnesses first, then others while they fit.
    const settling = this.settlers().witnesses;
    const sorted = [...log.cosignatures.values()].sort((a, b) => Number(settling.has(b.witness)) - Number(settling.has(a.witness)));
    const kept: Cosignature[] = [];
    let bytes = utf8Length(noteWith(log.verified, []));
    for (const cosignature of sorted) {
      const size = utf8Length(cosignature.line) + 1;
      if (bytes + size > MAX_NOTE_BYTES) continue;
      bytes += size;
      kept.push(cosignature);
    }
    return noteWith(log.verified, kept);
  }

  /** The verified size of `did`'s log here (0 when none). */
  size(did: string): number {
    return this.logs.get(did)?.verified?.checkpoint.size ?? 0;
  }

  /** Leaf ids [start, end) of `did`'s verified tree. */
  async leafIds(did: string, start: number, end: number): Promise<string[]> {
    if (end <= start) return [];
    const out: string[] = [];
    for await (const leaf of this.db.values({ gte: leafKey(did, start), lt: leafKey(did, end) })) out.push(leaf);
    return out;
  }

  /** An inclusion proof of `id` in `did`'s verified tree (O(n) from disk, n ≤ maxLeavesPerIssuer). */
  /** An inclusion proof of `id` in `did`'s verified tree: its index is one read, the tree built once and kept (the newest few). */
  async inclusion(did: string, id: string): Promise<{ index: number; size: number; proof: string[] }> {
    const size = this.size(did);
    const at = await this.db.get(indexKey(did, id));
    const index = at === undefined ? -1 : Number(at);
    if (!(index >= 0 && index < size)) throw new ChorusError('not_found', `attestation ${id.slice(0, 16)}… is not in the mirrored log of ${did}`);
    const tree = await this.tree(did, size);
    return { index, size, proof: tree.inclusionProof(index, size).map(toHex) };
  }

  async consistency(did: string, from: number, to: number): Promise<string[]> {
    const size = this.size(did);
    if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from < 0 || from > to || to > size) {
      throw new ChorusError('bad_input', `a consistency proof is between sizes 0 ≤ from ≤ to ≤ ${size}`);
    }
    return (await this.tree(did, to)).consistencyProof(from, to).map(toHex);
  }

  /** After a commit: statements of mirrored issuers that arrived are no longer missing. */
  committed(ds: readonly Decision[]): void {
    let changed = false;
    for (const decision of ds) {
      if (decision.outcome !== 'accept') continue;
      const log = this.logs.get(decision.attestation.issuer);
      if (log?.missing.delete(decision.id)) changed = true;
    }
    if (changed) this.changed();
  }

  /**
   * Envelopes fetched for missing ids that this node will not store (expired by now, say):
   * held once, so not missing. Only ids whose envelope verified (a decision with the id).
   */
  async settled(ds: readonly Decision[]): Promise<void> {
    const gone = ds.flatMap((decision) => (decision.outcome === 'ignore' && decision.code === 'expired' && decision.id !== undefined ? [decision.id] : []));
    if (gone.length === 0) return;
    await this.db.batch(gone.map((id) => ({ type: 'put' as const, key: `x!${id}`, value: '' })));
    for (const log of this.logs.values()) for (const id of gone) log.missing.delete(id);
    this.changed();
  }

  /** Collected after expiry: held once, not missing when it is gone. */
  removed(rs: readonly Removed[], reason: RemovalReason): void {
    if (reason !== 'gc') return;
    const mirrored = rs.filter((removed) => this.logs.has(removed.issuer));
    if (mirrored.length === 0) return;
    void this.db.batch(mirrored.map((removed) => ({ type: 'put' as const, key: `x!${removed.id}`, value: '' }))).catch(() => undefined);
  }

  /** How complete this node's copy of `did`'s log is. */
  completeness(did: string, settlers?: WitnessPolicy): IssuerCompleteness {
    const now = this.now();
    if (did === this.deps.identity.did) return { issuer: did, state: 'own', verified: 0, known: 0, missing: 0, checkpointAt: null, witnesses: 0, settled: true };
    const log = this.logs.get(did);
    const verifiedNote = log?.verified;
    const newest = log?.pending[log.pending.length - 1] ?? verifiedNote;
    const known = newest?.checkpoint.size ?? 0;
    const verified = verifiedNote?.checkpoint.size ?? 0;
    const missing = log === undefined ? 0 : known - verified + log.missing.size;
    const at = newest ? checkpointTime(newest.checkpoint) : undefined;
    const policy = settlers ?? this.settlers();
    const cosigners = new Set(log ? [...log.cosignatures.keys()].filter((witness) => policy.witnesses.has(witness)) : []);
    const settled = log?.verified !== undefined && policy.satisfied(cosigners);
    const state: LogState = this.equivocationsHeld.has(did) ? 'equivocated'
      : newest === undefined ? 'no-log'
        : missing > 0 ? 'missing'
          : at === undefined || now - at > this.deps.config.staleHours * 3_600_000 ? 'stale'
            : this.deps.config.requireSettled && !settled ? 'unsettled' : 'complete';
    return { issuer: did, state, verified, known, missing, checkpointAt: at === undefined ? null : new Date(at).toISOString(), witnesses: cosigners.size, settled };
  }

  /**
   * What settles a checkpoint: the witness policy file, else any `quorum` of the configured
   * witnesses, else of the issuers that count.
   */
  private settlers(): WitnessPolicy {
    return this.deps.policy?.() ?? anyOf(this.deps.config.witnesses.length > 0 ? new Set(this.deps.config.witnesses) : this.deps.counting(), this.deps.config.quorum);
  }

  /**
   * The completeness of every issuer that counts (recomputed at most once a second, or on a
   * change): counts per state and the issuers not complete (at most 50 listed).
   */
  summary(): CompletenessSummary {
    const now = this.now();
    if (this.summaryCache && now - this.summaryCache.at < 1000) return this.summaryCache.value;
    const counting = this.deps.counting();
    const settlers = this.settlers();
    const counts: Record<LogState, number> = { complete: 0, missing: 0, stale: 0, unsettled: 0, 'no-log': 0, equivocated: 0, own: 0 };
    const notComplete: IssuerCompleteness[] = [];
    let missing = 0;
    const dids = new Set([...counting, ...[...this.equivocationsHeld].filter(([, entry]) => entry.counted).map(([did]) => did)]);
    for (const did of dids) {
      const completeness = this.completeness(did, settlers);
      counts[completeness.state]++;
      missing += completeness.missing;
      if (completeness.state !== 'complete' && completeness.state !== 'own' && notComplete.length < 50) notComplete.push(completeness);
    }
    const complete = this.deps.config.mirror && counts.missing + counts.stale + counts.unsettled + counts['no-log'] + counts.equivocated === 0;
    const value: CompletenessSummary = { complete, mirror: this.deps.config.mirror, counts, missing, notComplete };
    this.summaryCache = { at: now, value };
    return value;
  }

  /** Memory held for mirrored logs, roughly (bytes): for the benchmark and /metrics. */
  get stats(): { issuers: number; missing: number; equivocations: number } {
    let missing = 0;
    for (const log of this.logs.values()) missing += log.missing.size;
    return { issuers: this.logs.size, missing, equivocations: this.equivocationsHeld.size };
  }

  async close(): Promise<void> {
    await this.writing.catch(() => undefined);
    await this.db.close();
  }
}

/** Every counting issuer's log, summed up (SPEC §16.4): what a view carries beside its verdict. */
export interface CompletenessSummary {
  /** Every issuer that counts has a log this node holds completely, fresh, and none equivocated. */
  readonly complete: boolean;
  /** Whether this node mirrors logs at all (config transparency.mirror). */
  readonly mirror: boolean;
  readonly counts: Readonly<Record<LogState, number>>;
  /** Statements known and not held, all issuers together. */
  readonly missing: number;
  readonly notComplete: readonly IssuerCompleteness[];
}
