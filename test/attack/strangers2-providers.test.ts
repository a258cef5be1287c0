import { multiaddr } from '@multiformats/multiaddr';
import { lpStream } from '@libp2p/utils';
import { Key } from 'interface-datastore';
import { afterAll, describe, expect, it } from 'vitest';
import { NetHarness } from '../support/net-harness.js';
import { type Daemon } from '../../node/daemon/daemon.js';
import { P2pDatastore } from '../../node/net/p2p-datastore.js';
import { ProviderLimits } from '../../node/net/provider-limits.js';
import { subjectKey } from '../../node/net/providers.js';
import { randomDigest } from '../support/fixtures.js';
import { addProviderMessage } from '../support/kad-wire.js';

/*
 * Strangers, round two: attacks on the DHT provider-record bounds (provider-limits.ts,
 * p2p-datastore.ts, network.ts' refusal penalty).
 */

const net = new NetHarness({ 'net.dht': true });
const stores: P2pDatastore[] = [];

const node = (overrides: Record<string, unknown> = {}): Promise<Daemon> => net.node(overrides);

const bareHost = (dht = false) => net.bareHost({ dht });

async function datastore(limits: ProviderLimits): Promise<P2pDatastore> {
  const dir = await net.dir('chorus-s2-p2pds-');
  const ds = new P2pDatastore(dir, limits);
  await ds.open();
  stores.push(ds);
  return ds;
}

const providerKey = (cid: string, peer: string): Key => new Key(`/dht/provider/${cid}/${peer}`);
/** A fresh, plausible peer id string (the limits key on it as given). */
const freshPeer = (i: number): string => `12D3KooWFresh${i.toString().padStart(8, '0')}`;

afterAll(async () => {
  await Promise.all(stores.map((s) => s.close().catch(() => undefined)));
  await net.stop();
});

/** The network a record's sender connected from, as network.ts resolves it: the junk ids share one. */
const networkOf = (peer: string): string => (peer.includes('Honest') ? '198.51.100.0/24' : '203.0.113.0/24');

describe('DHT provider bounds vs honest bulk announcers', () => {
  it('an honest node announcing more digests than the per-peer cap, far below the rate, is not blocked', async () => {
    // Scale: net.providerRecordsPerPeer 10 (its minimum) stands for the default 5,000. Every
    // Chorus node announces every subject it stores (local and network lanes, providers.ts),
    // and in a network of at most k+1 = 11 nodes every node is among the k closest for every
    // key: a node holding 5,150 subjects is refused 150 times by each peer and (network.ts:
    // every 50th refusal is an abuse, 3 abuses block) blocked by all of them.
    const victim = await node({ 'net.providerRecordsPerPeer': 10 });
    const honest = await bareHost();
    const addr = multiaddr(victim.network!.listenAddrs[0]!);
    const me = honest.peerId.toMultihash().bytes;
    const myAddrs = honest.getMultiaddrs().map((a) => a.bytes);
    const id = honest.peerId.toString();
    // One ADD_PROVIDER per stream, as kad-dht's provide sends them, at 20/s (the rate allows 50/s).
    for (let i = 0; i < 170 && !victim.network!.penalties.isBlocked(id); i++) {
      try {
        const stream = await honest.dialProtocol(addr, '/chorus/kad/1.0.0', { signal: AbortSignal.timeout(5_000) });
        const lp = lpStream(stream);
        await lp.write(addProviderMessage(subjectKey(randomDigest()).multihash.bytes, me, myAddrs));
        await stream.close().catch(() => undefined);
      } catch {
        // refused: the stream was aborted, or the connection denied
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    // A cap the sender cannot know about (and that other peers' records, not its own rate,
    // decide once the table is full) is treated as abuse: the honest announcer is blocked.
    expect(victim.network!.penalties.isBlocked(id)).toBe(false);
  });

  it('fresh peer ids (free) of one network do not evict another network\'s bulk announcer: max-min by network, then peer', async () => {
    // Scaled: total 1,000 (default 100,000), per peer 500 (default 5,000), burst 500.
    const limits = new ProviderLimits({ perPeer: 500, perKey: 32, total: 1_000, burst: 500, perSecond: 50 }, undefined, Date.now, networkOf);
    const ds = await datastore(limits);
    const honest = '12D3KooWHonestBulkAnnouncer';
    for (let i = 0; i < 500; i++) await ds.put(providerKey(`bciqhonest${i}`, honest), Uint8Array.of(1));
    // 50 fresh peer ids (50 connections: under a minute of one IP's gate budget) x 20 records.
    for (let p = 0; p < 50; p++) for (let i = 0; i < 20; i++) await ds.put(providerKey(`bciqjunk${p}x${i}`, freshPeer(p)), Uint8Array.of(1));
    let kept = 0;
    for await (const _ of ds.queryKeys({ prefix: '/dht/provider/' })) if (_.toString().endsWith(`/${honest}`)) kept++;
    // Before: the honest announcer's 500 records were cut to the junk peers' share (about 20).
    expect(kept).toBeGreaterThanOrEqual(250);
  });

  it('32 fresh peer ids of one network cannot squat a digest\'s provider slots: a provider from another network still gets in', async () => {
    const limits = new ProviderLimits(undefined, undefined, Date.now, networkOf);
    const ds = await datastore(limits);
    const cid = 'bciqtargetdigest';
    for (let p = 0; p < 32; p++) await ds.put(providerKey(cid, freshPeer(1000 + p)), Uint8Array.of(1));
    // The squatters refresh for free (a refresh is never refused): the slots stay theirs.
    for (let p = 0; p < 32; p++) await ds.put(providerKey(cid, freshPeer(1000 + p)), Uint8Array.of(2));
    const honest = '12D3KooWHonestHolderOfTheModel';
    await ds.put(providerKey(cid, honest), Uint8Array.of(1));
    // A lookup of this digest (kad-dht reads the providers under the key) finds only squatters.
    expect(await ds.has(providerKey(cid, honest))).toBe(true);
  });
});
