import { mkdir, open as openFile, readFile, rename, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { ChorusError } from '../../src/errors.js';
import { fromHex, toHex } from '../../src/encoding/bytes.js';
import type { Decision } from '../../src/ingest/decide.js';
import { leafHash, MerkleTree } from '../../src/tlog/merkle.js';
import { checkpointText, parseCheckpoint, parseNote, signNote } from '../../src/tlog/note.js';
import { checkpointTime, logOrigin, timeExtension } from '../../src/tlog/witness.js';
import type { Identity } from '../home/identity.js';
import type { AttestationStore } from '../store/attestation-store.js';

/** A checkpoint is signed at most this often when the log grows… */
export const CHECKPOINT_MIN_MS = 60_000;
/** …and at least this often, so its freshness can be judged (SPEC §16). */
export const HEARTBEAT_MS = 24 * 3_600_000;
/** Leaf ids a log page returns at most. */
export const LOG_PAGE = 1_000;

export { logOrigin };

/** The file `chorus key import` leaves in log/: recover the log from peers before signing. */
export const RECOVER_MARKER = 'recover';

/**
 * This node's own issuer log (SPEC §16): the ids of the attestations its key signed, in
 * the order the node accepted them, as the leaves of an RFC 9162 tree, and the newest
 * checkpoint it signed over them.
 *
 * On disk, in log/ of the data dir: leaves.bin (32 bytes an id, appended: the order is
 * stored, never derived again, so the log stays append-only whatever the clock does) and
 * checkpoint (the signed note, written atomically). At open, an id of the node's own in the
 * store but not in the log — an existing store, or a crash between the store's commit and
 * the append — is appended, in `issuedAt`, then id, order; a torn last record is dropped
 * first. So nothing signed is ever missing from the log for longer than a restart, and a
 * crash cannot reorder it. Memory: the id and about two hashes (64 bytes) per own
 * attestation; a root or a proof costs O(log n) hashes, so a reader asking for proofs
 * costs microseconds whatever the log's size.
 */
export class OwnLog {
  private readonly ids: string[] = [];
  private readonly index = new Map<string, number>();
  /** The tree, with every complete subtree kept: a root or a proof costs O(log n). */
  private readonly tree = new MerkleTree();
  private file: FileHandle | undefined;
  private appending: Promise<void> = Promise.resolve();
  private note: string | undefined;
  /** The size the newest checkpoint signed (-1: none yet), and when it was signed. */
  private signedSize = -1;
  private signedAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly signedListeners = new Set<(note: string) => void>();

  private constructor(
    private readonly dir: string,
    private readonly identity: Identity,
    private readonly now: () => number,
    private readonly intervalMs: number,
    private readonly store: AttestationStore,
  ) {}

  /** Own attestations accepted while recovering: appended after the recovered order. */
  private readonly waiting: string[] = [];

  static async open(dir: string, identity: Identity, store: AttestationStore, now: () => number = Date.now, intervalMs = CHECKPOINT_MIN_MS): Promise<OwnLog> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const log = new OwnLog(dir, identity, now, intervalMs, store);
    const raw = await readFile(join(dir, 'leaves.bin')).catch(() => Buffer.alloc(0));
    const whole = raw.length - (raw.length % 32);
    for (let offset = 0; offset < whole; offset += 32) log.push(raw.subarray(offset, offset + 32).toString('hex'));
    log.file = await openFile(join(dir, 'leaves.bin'), 'a+', 0o600);
    if (whole !== raw.length) await log.file.truncate(whole);
    // A key imported into this data dir (`chorus key import` leaves the marker): the log's
    // order lives on the old machine and in its mirrors, and rebuilding it from the store
    // would sign a second history of this issuer. Nothing is signed until it is recovered
    // from a peer (or given up on: releaseRecovery).
    if (await stat(join(dir, RECOVER_MARKER)).then(() => true, () => false)) {
      if (whole > 0) await rm(join(dir, RECOVER_MARKER), { force: true });
      else {
        log.recovering = true;
        return log;
      }
    }
    await log.finishOpen();
    return log;
  }

  /** Whether the log waits to be recovered from peers (after a key import), signing nothing. */
  recovering = false;
  private adopting = false;

  private async finishOpen(): Promise<void> {
    const dir = this.dir;
    const store = this.store;
    const identity = this.identity;
    const note = await readFile(join(dir, 'checkpoint'), 'utf8').catch(() => undefined);
    if (note !== undefined) {
      this.note = note;
      const checkpoint = parseCheckpoint(parseNote(note).text);
      this.signedSize = checkpoint.size;
      this.signedAt = checkpointTime(checkpoint) ?? (await stat(join(dir, 'checkpoint'))).mtimeMs;
    }
    // Backfill: the node's own attestations the log does not hold yet.
    const missing: { id: string; issuedAt: number }[] = [];
    for (let after = 0; ;) {
      const page = await store.byIssuer(identity.did, { after, limit: 1_000 });
      for (const item of page.items) if (!this.index.has(item.id)) missing.push({ id: item.id, issuedAt: item.issuedAt });
      if (page.next === undefined) break;
      after = page.next;
    }
    missing.sort((x, y) => x.issuedAt - y.issuedAt || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
    await this.append(missing.map((entry) => entry.id));
    await this.maybeSign();
    this.timer = setInterval(() => void this.maybeSign().catch(() => undefined), Math.min(this.intervalMs, CHECKPOINT_MIN_MS));
    this.timer.unref();
  }

  /**
   * Recovery after a key import: `ids` are this issuer's leaves as a peer held them, already
   * verified against a checkpoint this key signed. They become the log, in that order; own
   * attestations of the store not among them follow (issuedAt, then id); then it signs.
   */
  async adopt(ids: readonly string[]): Promise<void> {
    if (!this.recovering || this.adopting) return;
    this.adopting = true;
    // The recovered order first; only then does the log count as recovered.
    await this.append(ids);
    this.recovering = false;
    await rm(join(this.dir, RECOVER_MARKER), { force: true });
    await this.finishOpen();
    for (const id of this.waiting.splice(0)) void this.append([id]).catch(() => undefined);
  }

  /** No peer had the log: it is rebuilt from the store (a second history if the old one was different). */
  releaseRecovery(): Promise<void> {
    return this.adopt([]);
  }

  get did(): string {
    return this.identity.did;
  }

  get size(): number {
    return this.ids.length;
  }

  private push(id: string): void {
    if (this.index.has(id)) return;
    const bytes = fromHex(id);
    if (bytes === undefined || bytes.length !== 32) return;
    this.index.set(id, this.ids.length);
    this.ids.push(id);
    this.tree.append(leafHash(bytes));
  }

  /** Appends ids (in order) to the log and its file; ids it holds are skipped. */
  append(ids: readonly string[]): Promise<void> {
    this.appending = this.appending.catch(() => undefined).then(async () => {
      const fresh = ids.filter((id) => !this.index.has(id));
      if (fresh.length === 0 || this.file === undefined) return;
      await this.file.write(Buffer.concat(fresh.map((id) => Buffer.from(id, 'hex'))));
      await this.file.datasync();
      for (const id of fresh) this.push(id);
    });
    return this.appending;
  }

  /** After a commit: the node's own accepted attestations join its log. */
  committed(ds: readonly Decision[]): void {
    const own = ds.flatMap((decision) => (decision.outcome === 'accept' && decision.attestation.issuer === this.identity.did ? [decision.id] : []));
    if (own.length === 0) return;
    if (this.recovering) this.waiting.push(...own);
    else void this.append(own).catch(() => undefined);
  }

  /** Signs a new checkpoint when the log grew (at most once a minute) or the last is a day old. */
  async maybeSign(force = false): Promise<void> {
    if (this.recovering) return;
    await this.appending.catch(() => undefined);
    const size = this.ids.length;
    const now = this.now();
    const grew = this.signedSize !== size;
    const due = force || this.signedSize < 0 || (grew && now - this.signedAt >= this.intervalMs) || now - this.signedAt >= HEARTBEAT_MS;
    if (!due) return;
    // The time line lets any reader judge freshness: a heartbeat is a new note, not the same bytes.
    const text = checkpointText({ origin: logOrigin(this.identity.did), size, root: this.tree.root(size), extensions: [timeExtension(now)] });
    const note = signNote(text, logOrigin(this.identity.did), this.identity.secretKey);
    const tmp = join(this.dir, 'checkpoint.tmp');
    await writeFile(tmp, note, { mode: 0o600 });
    await rename(tmp, join(this.dir, 'checkpoint'));
    this.note = note;
    this.signedSize = size;
    this.signedAt = now;
    for (const listener of this.signedListeners) listener(note);
  }

  /** Hears every checkpoint signed (to gossip it). */
  onSigned(listener: (note: string) => void): void {
    this.signedListeners.add(listener);
  }

  /** The newest signed checkpoint (signed now if there is none yet). */
  async checkpoint(): Promise<string> {
    this.notRecovering();
    if (this.note === undefined) await this.maybeSign(true);
    return this.note!;
  }

  private notRecovering(): void {
    if (this.recovering) throw new ChorusError('unavailable', 'this node is recovering its own issuer log from its peers (its key was imported): nothing is signed until then; try again in a minute');
  }

  /** Leaf ids [start, end) (at most LOG_PAGE). */
  leafIds(start: number, end = Math.min(this.ids.length, start + LOG_PAGE)): string[] {
    this.notRecovering();
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start || end > this.ids.length) {
      throw new ChorusError('bad_input', `a log range is 0 ≤ start ≤ end ≤ ${this.ids.length}`);
    }
    return this.ids.slice(start, Math.min(end, start + LOG_PAGE));
  }

  /** The inclusion proof of attestation `id` in the tree of `size` leaves (default: the newest checkpoint's). */
  async inclusion(id: string, size?: number): Promise<{ index: number; size: number; proof: string[] }> {
    const index = this.index.get(id);
    if (index === undefined) throw new ChorusError('not_found', `attestation ${id.slice(0, 16)}… is not in this log`);
    if (this.note === undefined) await this.checkpoint();
    const n = size ?? this.signedSize;
    if (!Number.isSafeInteger(n) || n <= index || n > this.ids.length) throw new ChorusError('bad_input', `size must be in ${index + 1}..${this.ids.length}`);
    return { index, size: n, proof: this.tree.inclusionProof(index, n).map(toHex) };
  }

  /** The consistency proof between the trees of `from` and `to` leaves. */
  consistency(from: number, to: number): string[] {
    if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from < 0 || from > to || to > this.ids.length) {
      throw new ChorusError('bad_input', `a consistency proof is between sizes 0 ≤ from ≤ to ≤ ${this.ids.length}`);
    }
    return this.tree.consistencyProof(from, to).map(toHex);
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.appending.catch(() => undefined);
    await this.file?.close();
    this.file = undefined;
  }
}
