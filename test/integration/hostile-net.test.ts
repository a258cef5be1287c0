import { multiaddr } from '@multiformats/multiaddr';
import { lpStream } from '@libp2p/utils';
import { afterAll, describe, expect, it } from 'vitest';
import { NetHarness, metricValue } from '../support/net-harness.js';
import { type Daemon } from '../../node/daemon/daemon.js';
import { DEFAULT_PROVIDER_BOUNDS } from '../../node/net/provider-limits.js';
import { subjectKey } from '../../node/net/providers.js';
import { randomDigest } from '../support/fixtures.js';
import { addProviderMessage } from '../support/kad-wire.js';

/*
 * Issue 20's network attacks against a real daemon on loopback, from bare libp2p hosts:
 * a connection flood from fresh peer ids, and an ADD_PROVIDER flood over the node's DHT.
 */

const net = new NetHarness();

const node = (overrides: Record<string, unknown> = {}): Promise<Daemon> => net.node(overrides);

const bareHost = (dht = false) => net.bareHost({ dht });

const metric = (d: Daemon, name: string): Promise<number> => metricValue(d.url, name);

afterAll(async () => {
  await net.stop();
});

describe('a node bounds what strangers cost it at the network layer', () => {
  it('a connection flood from fresh peer ids is refused before the handshake past the per-address rate, and leaves no peer records on disk', async () => {
    // 30 a minute from one address: 2 at once (a fifteenth).
    const victim = await node({ 'net.inboundPerIpPerMinute': 30, 'net.gateLoopback': true });
    const addr = multiaddr(victim.network!.listenAddrs[0]!);
    const keptBefore = await metric(victim, 'chorus_peer_records{where="kept"}');
    let connected = 0;
    let refused = 0;
    const t0 = Date.now();
    for (let i = 0; i < 12; i++) {
      const h = await bareHost();
      try {
        await h.dial(addr, { signal: AbortSignal.timeout(5_000) });
        connected++;
      } catch {
        refused++;
      }
      await h.stop();
    }
    // The bucket holds 2, and refills at 30 a minute (a few more over the seconds this takes).
    const seconds = (Date.now() - t0) / 1000;
    expect(connected).toBeGreaterThanOrEqual(2);
    expect(connected).toBeLessThanOrEqual(2 + Math.ceil(seconds / 2));
    expect(refused).toBe(12 - connected);
    expect(await metric(victim, 'chorus_connections_refused_total{reason="ip-rate"}')).toBe(refused);
    // None of the strangers did anything useful: none is kept on disk.
    expect(await metric(victim, 'chorus_peer_records{where="kept"}')).toBe(keptBefore);
  });

  it('an ADD_PROVIDER flood from one peer id stores at most its burst and rate, the rest refused before any write', async () => {
    const victim = await node({ 'net.dht': true });
    const attacker = await bareHost();
    const addr = multiaddr(victim.network!.listenAddrs[0]!);
    const me = attacker.peerId.toMultihash().bytes;
    const myAddrs = attacker.getMultiaddrs().map((a) => a.bytes);
    let sent = 0;
    let streams = 0;
    const t0 = Date.now();
    // Raw messages over the node's DHT protocol, a new stream whenever the victim aborts one.
    while (sent < 1_500 && !victim.network!.penalties.isBlocked(attacker.peerId.toString())) {
      let stream;
      try {
        stream = await attacker.dialProtocol(addr, '/chorus/kad/1.0.0', { signal: AbortSignal.timeout(5_000) });
      } catch {
        break; // refused: blocked
      }
      streams++;
      const lp = lpStream(stream);
      try {
        for (let i = 0; i < 100; i++) {
          await lp.write(addProviderMessage(subjectKey(randomDigest()).multihash.bytes, me, myAddrs));
          sent++;
        }
        // Let the victim read what is buffered before the stream closes.
        await new Promise((r) => setTimeout(r, 300));
        await stream.close();
      } catch {
        // aborted by the victim
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    const seconds = (Date.now() - t0) / 1000;
    const stored = await metric(victim, 'chorus_dht_provider_records');
    // The burst, and what the rate refilled meanwhile; not the 1,500 sent.
    const { burst, perSecond } = DEFAULT_PROVIDER_BOUNDS;
    expect(stored).toBeGreaterThanOrEqual(burst);
    expect(stored).toBeLessThanOrEqual(burst + Math.ceil(perSecond * seconds));
    expect(stored).toBeLessThan(sent);
    expect(await metric(victim, 'chorus_dht_provider_records_refused_total')).toBeGreaterThanOrEqual(3);
    expect(streams).toBeGreaterThan(1);
  });


  it('a blocked peer\'s redials are refused before the handshake, by the address it came from', async () => {
    const victim = await node({ 'net.gateLoopback': true });
    const attacker = await bareHost();
    const addr = multiaddr(victim.network!.listenAddrs[0]!);
    await attacker.dial(addr);
    const id = attacker.peerId.toString();
    const end = Date.now() + 10_000;
    while (!victim.network!.host.getConnections().some((c) => c.remotePeer.toString() === id) && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    // Three abuses (what a malformed sync request or a provider flood records) block it.
    for (let i = 0; i < 3; i++) victim.network!.penalties.abuse(id, 'sync: malformed');
    expect(victim.network!.penalties.isBlocked(id)).toBe(true);
    const t0 = Date.now();
    let kept = 0;
    for (let i = 0; i < 20; i++) {
      await attacker.hangUp(victim.network!.host.peerId).catch(() => undefined);
      await attacker.dial(addr, { signal: AbortSignal.timeout(5_000) }).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 20));
      if (victim.network!.host.getConnections().some((c) => c.remotePeer.toString() === id)) kept++;
    }
    expect(kept).toBe(0);
    // Most refused before the handshake by the address (3 at once, then 1 a second), the
    // others after it by peer id; none became a connection the victim keeps.
    const paced = await metric(victim, 'chorus_connections_refused_total{reason="blocked-address"}');
    expect(paced).toBeGreaterThanOrEqual(20 - 3 - Math.ceil((Date.now() - t0) / 1000));
    expect(paced + (await metric(victim, 'chorus_connections_refused_total{reason="blocked-peer"}'))).toBeGreaterThanOrEqual(20);
    expect(await metric(victim, 'chorus_peer_blocks_total')).toBe(1);
  });

  it('a provider record that names another peer than its sender is not stored (kad-dht checks the provider is the sender)', async () => {
    const victim = await node({ 'net.dht': true });
    const attacker = await bareHost();
    const someoneElse = await bareHost();
    const stream = await attacker.dialProtocol(multiaddr(victim.network!.listenAddrs[0]!), '/chorus/kad/1.0.0', { signal: AbortSignal.timeout(5_000) });
    const lp = lpStream(stream);
    for (let i = 0; i < 20; i++) await lp.write(addProviderMessage(subjectKey(randomDigest()).multihash.bytes, someoneElse.peerId.toMultihash().bytes, someoneElse.getMultiaddrs().map((a) => a.bytes)));
    // One of its own, so we know the victim read the stream this far.
    await lp.write(addProviderMessage(subjectKey(randomDigest()).multihash.bytes, attacker.peerId.toMultihash().bytes, attacker.getMultiaddrs().map((a) => a.bytes)));
    const end = Date.now() + 10_000;
    while ((await metric(victim, 'chorus_dht_provider_records')) < 1 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    await stream.close().catch(() => undefined);
    expect(await metric(victim, 'chorus_dht_provider_records')).toBe(1);
    expect(await metric(victim, 'chorus_dht_provider_peers')).toBe(1);
  });
});
