import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Key } from 'interface-datastore';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MAX_TRANSIENT_PEERS, P2pDatastore } from '../../node/net/p2p-datastore.js';
import { ProviderLimits } from '../../node/net/provider-limits.js';
import { mountSmallFs, smallFsUnavailable } from '../support/small-fs.js';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (b: Uint8Array): string => new TextDecoder().decode(b);

describe('the libp2p datastore: peer records in memory, written behind to LevelDB', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'chorus-p2pds-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('records of kept peers written, changed and deleted survive a close and reopen', async () => {
    const a = new P2pDatastore(join(dir, 'p2p'));
    await a.open();
    for (const k of ['a', 'b', 'c']) a.keep(`/peers/${k}`);
    await a.put(new Key('/peers/a'), bytes('one'));
    await a.put(new Key('/peers/a'), bytes('two'));
    await a.put(new Key('/peers/b'), bytes('bee'));
    await a.put(new Key('/peers/c'), bytes('sea'));
    await a.delete(new Key('/peers/c'));
    expect(text(await a.get(new Key('/peers/a')))).toBe('two');
    await a.close();

    const b = new P2pDatastore(join(dir, 'p2p'));
    await b.open();
    expect(text(await b.get(new Key('/peers/a')))).toBe('two');
    expect(text(await b.get(new Key('/peers/b')))).toBe('bee');
    expect(await b.has(new Key('/peers/c'))).toBe(false);
    await expect(b.get(new Key('/peers/c'))).rejects.toMatchObject({ name: 'NotFoundError' });
    await b.close();
  });

  it('a query sees peer records not yet flushed, and other keys are written through', async () => {
    const a = new P2pDatastore(join(dir, 'p2p'));
    await a.open();
    await a.put(new Key('/peers/x'), bytes('ex'));
    await a.put(new Key('/dht/provider/k'), bytes('rec'));
    const seen: string[] = [];
    for await (const { key } of a.query({ prefix: '/peers/' })) seen.push(key.toString());
    expect(seen).toEqual(['/peers/x']);
    // Non-peer keys reach LevelDB at once: read straight from the underlying db.
    expect(text(await a.db.get('/dht/provider/k') as Uint8Array)).toBe('rec');
    await a.close();
  });

  it('records of peers never kept (strangers that connected and did nothing) stay in memory, bounded, and never reach the disk', async () => {
    const a = new P2pDatastore(join(dir, 'p2p'));
    await a.open();
    a.keep('/peers/friend');
    await a.put(new Key('/peers/friend'), bytes('f'));
    for (let i = 0; i < MAX_TRANSIENT_PEERS + 500; i++) await a.put(new Key(`/peers/stranger${i}`), bytes('s'));
    // Readable while held, the oldest forgotten beyond the bound.
    expect(text(await a.get(new Key(`/peers/stranger${MAX_TRANSIENT_PEERS + 499}`)))).toBe('s');
    expect(await a.has(new Key('/peers/stranger0'))).toBe(false);
    expect(a.peerRecords).toBe(MAX_TRANSIENT_PEERS + 1);
    // A stranger that later proves useful is persisted from then on.
    a.keep(`/peers/stranger${MAX_TRANSIENT_PEERS + 499}`);
    await a.close();

    const b = new P2pDatastore(join(dir, 'p2p'));
    await b.open();
    const onDisk: string[] = [];
    for await (const { key } of b.query({ prefix: '/peers/' })) onDisk.push(key.toString());
    expect(onDisk.sort()).toEqual(['/peers/friend', `/peers/stranger${MAX_TRANSIENT_PEERS + 499}`]);
    await b.close();
  });

  it('provider records are bounded per peer and in total on disk; the largest holder gives way; over-bound records found at open are pruned', async () => {
    const key = (cid: number, peer: string): Key => new Key(`/dht/provider/cid${cid}/${peer}`);
    const t = 0;
    const limits = new ProviderLimits({ perPeer: 50, perKey: 4, total: 120, burst: 1_000, perSecond: 1_000 }, undefined, () => t);
    const a = new P2pDatastore(join(dir, 'p2p'), limits);
    await a.open();
    // A flooder fills its share; beyond it its records are dropped (no error: a share is not
    // something the sender can know).
    for (let i = 0; i < 80; i++) await a.put(key(i, 'flooder'), bytes('t'));
    expect(limits.size).toBe(50);
    expect(await a.has(key(79, 'flooder'))).toBe(false);
    // Fresh ids fill the rest of the table, then push out the largest holder (the flooder).
    for (let p = 0; p < 10; p++) for (let i = 0; i < 10; i++) await a.put(key(1000 + p * 10 + i, `sybil${p}`), bytes('t'));
    expect(limits.size).toBe(120);
    let onDisk = 0;
    for await (const _ of a.queryKeys({ prefix: '/dht/provider/' })) onDisk++;
    expect(onDisk).toBe(120);
    // An honest provider with one record gets in: someone larger gives way.
    await a.put(key(5000, 'honest'), bytes('t'));
    expect(await a.has(key(5000, 'honest'))).toBe(true);
    expect(limits.size).toBe(120);
    // A key already provided by perKey peers takes no more (dropped silently).
    for (let p = 0; p < 6; p++) await a.put(key(7, `crowd${p}`), bytes('t'));
    const ofKey7: string[] = [];
    for await (const k of a.queryKeys({ prefix: '/dht/provider/cid7/' })) ofKey7.push(k.toString());
    expect(ofKey7.length).toBe(4);
    // The flooder, still the largest of its group, may not add more while the table is full; a refresh
    // of a record it holds is always taken.
    await a.put(key(999, 'flooder'), bytes('t'));
    expect(await a.has(key(999, 'flooder'))).toBe(false);
    await a.put(key(49, 'flooder'), bytes('u'));
    expect(text(await a.get(key(49, 'flooder')))).toBe('u');
    await a.close();

    // Reopened under tighter bounds: pruned to them at once.
    const b = new P2pDatastore(join(dir, 'p2p'), new ProviderLimits({ perPeer: 10, perKey: 4, total: 40, burst: 1_000, perSecond: 1_000 }));
    await b.open();
    let left = 0;
    for await (const _ of b.queryKeys({ prefix: '/dht/provider/' })) left++;
    expect(left).toBe(40);
    await b.close();
  });

  it('fairness is by network first: fresh peer ids of one network cannot push out another network\'s provider, nor squat a digest', async () => {
    const groupOf = (peer: string): string => (peer.startsWith('sybil') ? '203.0.113.0/24' : '198.51.100.0/24');
    const limits = new ProviderLimits({ perPeer: 500, perKey: 4, total: 600, burst: 10_000, perSecond: 10_000 }, undefined, Date.now, groupOf);
    const a = new P2pDatastore(join(dir, 'p2p'), limits);
    await a.open();
    for (let i = 0; i < 300; i++) await a.put(new Key(`/dht/provider/h${i}/honest`), bytes('t'));
    for (let p = 0; p < 100; p++) for (let i = 0; i < 20; i++) await a.put(new Key(`/dht/provider/s${p}x${i}/sybil${p}`), bytes('t'));
    let honest = 0;
    for await (const k of a.queryKeys({ prefix: '/dht/provider/' })) if (k.toString().endsWith('/honest')) honest++;
    // The table (600) is shared by the two networks: the honest one keeps its 300.
    expect(honest).toBe(300);
    expect(limits.size).toBe(600);
    // At its equal share, with the table full, the honest network takes no more; neither do they.
    await a.put(new Key('/dht/provider/h999/honest'), bytes('t'));
    await a.put(new Key('/dht/provider/s999/sybil999'), bytes('t'));
    expect(limits.size).toBe(600);
    await a.close();

    // A digest crowded by one network's ids still takes a provider from another network.
    const b = new P2pDatastore(join(dir, 'p2p-b'), new ProviderLimits({ perPeer: 500, perKey: 4, total: 600, burst: 10_000, perSecond: 10_000 }, undefined, Date.now, groupOf));
    await b.open();
    for (let p = 0; p < 4; p++) await b.put(new Key(`/dht/provider/target/sybil${p}`), bytes('t'));
    await b.put(new Key('/dht/provider/target/sybil4'), bytes('t'));
    expect(await b.has(new Key('/dht/provider/target/sybil4'))).toBe(false);
    await b.put(new Key('/dht/provider/target/honest'), bytes('t'));
    expect(await b.has(new Key('/dht/provider/target/honest'))).toBe(true);
    await b.close();
  });

  it('provider records from one peer beyond its rate are refused; the bucket refills with time', async () => {
    let t = 0;
    const limits = new ProviderLimits({ perPeer: 1_000, perKey: 4, total: 10_000, burst: 20, perSecond: 2 }, undefined, () => t);
    const a = new P2pDatastore(join(dir, 'p2p'), limits);
    await a.open();
    const put = (i: number): Promise<boolean> => a.put(new Key(`/dht/provider/c${i}/fast`), bytes('t')).then(() => true, () => false);
    let ok = 0;
    for (let i = 0; i < 100; i++) if (await put(i)) ok++;
    expect(ok).toBe(20);
    t += 5_000;
    ok = 0;
    for (let i = 100; i < 200; i++) if (await put(i)) ok++;
    expect(ok).toBe(10);
    await a.close();
  });

  // Needs root and mkfs.ext4 (a real block file system on a loop device); skipped elsewhere, with the reason.
  const noFs = smallFsUnavailable('ext4');
  it.skipIf(noFs !== undefined)(`a full disk: writes fail, and once space returns the store reopens itself and takes writes again, nothing written lost${noFs ? ` (skipped: ${noFs})` : ''}`, async () => {
    await using fs = await mountSmallFs('ext4', 32);
    const a = new P2pDatastore(join(fs.path, 'p2p'));
    await a.open();
    try {
      // Most of the space goes to a file we delete later.
      await writeFile(join(fs.path, 'filler'), Buffer.alloc(Math.max(0, (await fs.free()) - 6 * 2 ** 20)));
      const written: string[] = [];
      let failure: unknown;
      for (let i = 0; i < 1_000 && failure === undefined; i++) {
        const k = `/chorus/provided/${i}`;
        try {
          await a.put(new Key(k), randomBytes(64 * 1024));
          written.push(k);
        } catch (e) {
          failure = e;
        }
      }
      expect(failure, 'a 6 MiB margin never filled').toBeDefined();
      expect(a.isFull).toBe(true);
      await rm(join(fs.path, 'filler'));
      // LevelDB keeps its failed background write: with room again, writes still fail…
      await expect(a.put(new Key('/chorus/provided/probe'), bytes('x'))).rejects.toThrow(/No space left/);
      // …until it is reopened: the flush timer does that; here, a flush does it at once.
      await a.flush();
      expect(a.isFull).toBe(false);
      expect(a.reopens).toBe(1);
      await a.put(new Key('/chorus/provided/after'), bytes('ok'));
      expect(text(await a.get(new Key('/chorus/provided/after')))).toBe('ok');
      for (const k of written) expect(await a.has(new Key(k)), k).toBe(true);
    } finally {
      await a.close();
    }
  }, 60_000);
});
