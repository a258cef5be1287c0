import { type Libp2p } from 'libp2p';
import { multiaddr } from '@multiformats/multiaddr';
import { afterAll, describe, expect, it } from 'vitest';
import { NetHarness, metricValue } from '../support/net-harness.js';
import { type Daemon } from '../../node/daemon/daemon.js';
import { randomDigest } from '../support/fixtures.js';

/*
 * Strangers, round two: the peer store keeps strangers in memory only "until they prove
 * useful" (p2p-datastore.ts). But every peer this node *dials* is kept (network.ts,
 * connection:open outbound), and whom it dials a stranger decides: every peer named in a
 * DHT answer is a peer:discovery event, and network.ts dials every discovered peer.
 */

const net = new NetHarness({ 'net.dht': true });

const node = (overrides: Record<string, unknown> = {}): Promise<Daemon> => net.node(overrides);

const bareHost = (dht = false) => net.bareHost({ dht });

const metric = (d: Daemon, name: string): Promise<number> => metricValue(d.url, name);

afterAll(async () => {
  await net.stop();
});

describe('the peer store vs strangers named in DHT answers', () => {
  it('peers a stranger names in its DHT answers, which do nothing useful, are not kept on disk', async () => {
    const victim = await node();
    // The attacker: an ordinary kad-dht server whose routing table holds 20 sybils (fresh
    // peer ids on its own host that will never sync, gossip or store anything here).
    const attacker = await bareHost(true);
    const sybils = await Promise.all(Array.from({ length: 20 }, () => bareHost(true)));
    await Promise.all(sybils.map((s) => s.dial(attacker.getMultiaddrs()[0]!).catch(() => undefined)));
    const rt = (h: Libp2p): number => ((h.services as { dht?: unknown }).dht as { routingTable: { size: number } }).routingTable.size;
    for (let end = Date.now() + 10_000; rt(attacker) < 20 && Date.now() < end;) await new Promise((r) => setTimeout(r, 50));
    const keptBefore = await metric(victim, 'chorus_peer_records{where="kept"}');
    await attacker.dial(multiaddr(victim.network!.listenAddrs[0]!));
    for (let end = Date.now() + 10_000; rt(victim.network!.host as unknown as Libp2p) === 0 && Date.now() < end;) await new Promise((r) => setTimeout(r, 50));
    // Anyone (any web page: reads of the loopback API need no token by default) asks about a
    // digest the node holds nothing about: the node asks the DHT, i.e. the attacker, whose
    // answer names the sybils; the node dials them.
    await fetch(`${victim.url}/v1/models/sha256:${randomDigest()}/reputation`).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 3_000));
    const connectedSybils = sybils.filter((s) => victim.network!.host.getConnections(s.peerId).length > 0).length;
    const kept = (await metric(victim, 'chorus_peer_records{where="kept"}')) - keptBefore;
    console.log(`attacker rt ${rt(attacker)}; victim connected to ${connectedSybils} of 20 sybils; kept on disk: +${kept}`);
    // p2p-datastore.ts: "A flood of fresh peer ids that connect and do nothing leaves no
    // trace on disk". These did nothing; the attacker chose them; they are kept for good.
    expect(kept).toBe(0);
  });
});
