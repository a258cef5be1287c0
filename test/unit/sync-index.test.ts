import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { boundOf, fingerprint, MAX_BOUND, MIN_BOUND, SyncIndex, type Bound, type SyncKey } from '../../node/net/sync-index.js';
import { answerReconcile, rangesProblem } from '../../node/net/sync.js';
import { prng } from '../support/prng.js';

const cmp = (a: SyncKey, b: SyncKey): number => a.t - b.t || Buffer.compare(a.id, b.id);

describe('sync index: range fingerprints from prefix sums', () => {
  it('agrees with the reference fingerprint over any range, through inserts, removals and expiry', () => {
    let clock = 1_000_000;
    const index = new SyncIndex(() => clock);
    const ref: (SyncKey & { exp?: number })[] = [];
    const rand = prng(7);
    // Enough keys to split blocks several times; times out of order, as gossip delivers them.
    for (let i = 0; i < 6000; i++) {
      const k = { t: Math.floor(rand() * 500), id: randomBytes(32) };
      const exp = i % 10 === 0 ? clock + 1 + Math.floor(rand() * 1000) : undefined;
      index.add(k.t, k.id.toString('hex'), exp);
      ref.push(exp === undefined ? k : { ...k, exp });
    }
    for (let i = 0; i < 1500; i++) {
      const j = Math.floor(rand() * ref.length);
      const [k] = ref.splice(j, 1);
      index.remove(k!.t, k!.id.toString('hex'));
    }
    clock += 500; // some have expired
    const live = ref.filter((k) => k.exp === undefined || k.exp > clock).sort(cmp);
    expect(index.size).toBe(live.length);
    expect(index.summary(MIN_BOUND, MAX_BOUND)).toEqual({ fp: fingerprint(live, 0, live.length), n: live.length });
    for (let i = 0; i < 300; i++) {
      const a = Math.floor(rand() * live.length);
      const b = a + Math.floor(rand() * (live.length - a));
      const lo: Bound = boundOf(live[a]!);
      const hi: Bound = b < live.length ? boundOf(live[b]!) : MAX_BOUND;
      expect(index.summary(lo, hi)).toEqual({ fp: fingerprint(live, a, b), n: b - a });
    }
    // A bound between keys ([t, ''] sorts before every id at t).
    const t = live[100]!.t;
    const from = live.findIndex((k) => k.t >= t);
    expect(index.summary([t, ''], MAX_BOUND)).toEqual({ fp: fingerprint(live, from, live.length), n: live.length - from });
  });

  it('refuses reconcile requests with unsorted, overlapping or empty ranges', () => {
    const r = (lo: Bound, hi: Bound) => ({ lo: [...lo] as [number, string], hi: [...hi] as [number, string], fp: '0'.repeat(32), n: 0 });
    expect(rangesProblem([r([0, ''], [5, '']), r([5, ''], MAX_BOUND)])).toBeUndefined();
    expect(rangesProblem([r(MIN_BOUND, MAX_BOUND), r(MIN_BOUND, MAX_BOUND)])).toMatch(/overlapping/);
    expect(rangesProblem([r([5, ''], MAX_BOUND), r([0, ''], [5, ''])])).toMatch(/sorted/);
    expect(rangesProblem([r([5, ''], [5, ''])])).toMatch(/lower bound/);
  });

  it('the heaviest legal reconcile request (512 ranges tiling 100,000 keys, all wrong) is answered range by range', async () => {
    const index = new SyncIndex();
    for (let i = 0; i < 100_000; i++) index.add(i, randomBytes(32).toString('hex'));
    // 512 sorted ranges tiling the set, each with a wrong fingerprint: the heaviest legal request.
    const ranges = Array.from({ length: 512 }, (_, i) => ({
      lo: [Math.floor((i * 100_000) / 512), ''] as [number, string],
      hi: (i === 511 ? [...MAX_BOUND] : [Math.floor(((i + 1) * 100_000) / 512), '']) as [number, string],
      fp: 'f'.repeat(32),
      n: 1,
    }));
    expect(rangesProblem(ranges)).toBeUndefined();
    const reply = await answerReconcile(index, ranges);
    expect(reply).toHaveLength(512);
    // One range asked: the full fan-out of 8.
    const one = await answerReconcile(index, [{ lo: [...MIN_BOUND], hi: [...MAX_BOUND], fp: 'f'.repeat(32), n: 1 }]);
    expect((one[0] as { parts: unknown[] }).parts).toHaveLength(8);
    // Each mismatched range is split into parts whose counts add up to the range; with 512
    // ranges asked, 2 parts each, so the reply stays near 1,024 summaries.
    const first = reply[0] as { parts: { n: number }[] };
    expect(first.parts).toHaveLength(2);
    expect(first.parts.reduce((s, p) => s + p.n, 0)).toBe(Math.floor(100_000 / 512));
  });
});
