import { describe, expect, it } from 'vitest';
import { ByteBucket, ReplayBudget, type ReplayWait } from '../../node/api/replay-budget.js';

describe('ByteBucket', () => {
  it('holds one second\'s worth, goes into debt when charged past it, and says how long the debt lasts', () => {
    let t = 0;
    const b = new ByteBucket(1000, () => t);
    b.charge(1000);
    expect(b.debtMs()).toBe(0);
    b.charge(500);
    expect(b.debtMs()).toBe(500);
    t = 250;
    expect(b.debtMs()).toBe(250);
    t = 10_000; // idle for long: still at most one second's worth banked
    b.charge(1500);
    expect(b.debtMs()).toBe(500);
  });
});

describe('ReplayBudget', () => {
  it('runs one replay page at a time across streams, and every page completes', async () => {
    const budget = new ReplayBudget(1e9, 1e9);
    let running = 0;
    let most = 0;
    const page = async () => {
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setImmediate(r));
      running--;
      return { bytes: 10, value: 'page' };
    };
    const signal = new AbortController().signal;
    const done = await Promise.all(Array.from({ length: 20 }, () => budget.run(budget.stream(), signal, page)));
    expect(done).toEqual(Array(20).fill('page'));
    expect(most).toBe(1);
  });

  it('makes a stream past its budget wait (counted), and a stream that closes while waiting gives up its turn', async () => {
    const waits: ReplayWait[] = [];
    const budget = new ReplayBudget(1e9, 1024, (w) => waits.push(w));
    const own = budget.stream();
    const signal = new AbortController().signal;
    expect(await budget.run(own, signal, async () => ({ bytes: 1024 + 20, value: 1 }))).toBe(1);
    expect(await budget.run(own, signal, async () => ({ bytes: 1, value: 2 }))).toBe(2);
    expect(waits).toContain('stream');

    const gone = new AbortController();
    own.charge(1024 * 60); // a minute in debt
    const waiting = budget.run(own, gone.signal, async () => ({ bytes: 1, value: 3 }));
    gone.abort();
    const other = budget.run(budget.stream(), signal, async () => ({ bytes: 1, value: 4 }));
    expect(await waiting).toBeUndefined();
    expect(await other).toBe(4);
  });

  it('a stream that closes while queued for its turn leaves the queue; the next one still gets its turn', async () => {
    const budget = new ReplayBudget(1e9, 1e9);
    const signal = new AbortController().signal;
    let release!: () => void;
    const holding = budget.run(budget.stream(), signal, async () => {
      await new Promise<void>((r) => (release = r));
      return { bytes: 1, value: 'first' };
    });
    const gone = new AbortController();
    const queued = budget.run(budget.stream(), gone.signal, async () => ({ bytes: 1, value: 'never' }));
    const next = budget.run(budget.stream(), signal, async () => ({ bytes: 1, value: 'next' }));
    gone.abort();
    await new Promise((r) => setImmediate(r));
    release();
    expect(await Promise.all([holding, queued, next])).toEqual(['first', undefined, 'next']);
  });
});
