import { afterAll, describe, expect, it } from 'vitest';
import { createLibp2p } from 'libp2p';
import { tcp } from '@libp2p/tcp';
import { noise } from '@libp2p/noise';
import { yamux } from '@libp2p/yamux';
import { identify } from '@libp2p/identify';
import { chorusRelayServer } from '../../node/net/network.js';
import { exampleFields, makeEnvelopeLine, makeIssuer, randomDigest } from '../support/fixtures.js';
import { TestNet, until, type TestNode } from '../support/test-net.js';

type Node = TestNode;
const testNet = new TestNet({ 'api.writeRateLimitPerMinute': 1_000_000 });
afterAll(() => testNet.stop());

/** `net`: net.* config without the prefix. */
function netConfig(net: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(net).map(([k, v]) => [`net.${k}`, v]));
}
const node = (net: Record<string, unknown> = {}): Promise<Node> => testNet.node(netConfig(net), { prefix: 'chorus-disc-' });

const publish = async (d: Node, body: string): Promise<string> => {
  const r = await fetch(`${d.url}/v1/attestations`, { method: 'POST', headers: { authorization: `Bearer ${d.token}`, 'content-type': 'application/json' }, body });
  expect(r.status).toBe(201);
  return ((await r.json()) as { id: string }).id;
};

interface ViewBody {
  status: string;
  byPredicate: Record<string, { total: number }>;
  lookup?: { outcome: string; holders: number; fetched: number; accepted: number };
}
const reputation = async (d: Node, digest: string, query = ''): Promise<ViewBody> =>
  (await (await fetch(`${d.url}/v1/models/${digest}/reputation${query}`)).json()) as ViewBody;

describe('discovery: DHT provider records for digests', () => {
  it('a node asked about a digest it holds nothing about finds the holders in the DHT and answers from what they hold', { timeout: 60_000 }, async () => {
    // Announcements wait 1 s of quiet here, not the default 10 s (the waiting is unit-tested).
    const a = await node({ announceQuietSeconds: 1 });
    const b = await node({ bootstrap: [a.network!.listenAddrs[0]!], announceQuietSeconds: 1 });
    await until('A and B connected', async () => (await a.network!.peers()).length === 1);
    await until('gossip between A and B', () => a.network!.host.services.pubsub.getSubscribers('/chorus/attestations/1').length === 1);

    const digest = randomDigest();
    const id = await publish(a, makeEnvelopeLine(makeIssuer(), { subjects: [digest], kind: 'payload', fields: exampleFields('payload') }));
    await until('B has it by gossip', () => b.node.store.has(id));
    await until('A has announced the digest in the DHT', () => (a.network!.providerStats?.announced ?? 0) >= 1);

    // C joins later, through B only, and does not sync on connect: it holds nothing about
    // the digest, and nothing about it is being gossiped any more.
    const c = await node({ bootstrap: [b.network!.listenAddrs[0]!], syncOnConnect: false });
    await until('C in the DHT', async () => (await c.network!.peers()).length >= 1 && (c.network!.host.services.dht as unknown as { routingTable: { size: number } }).routingTable.size >= 1);
    expect(await c.node.store.has(id)).toBe(false);

    const view = await reputation(c, digest);
    expect(view.lookup?.outcome).toBe('asked');
    expect(view.lookup?.holders).toBeGreaterThanOrEqual(1);
    expect(view.lookup?.accepted).toBe(1);
    expect(view.byPredicate.payload?.total).toBe(1);
    expect(await c.node.store.has(id)).toBe(true); // landed through the ingest path, kept

    // A digest nobody holds: asked once, nothing found; asked again soon: not asked again.
    const nobody = randomDigest();
    const first = await reputation(c, nobody);
    expect(first.lookup).toMatchObject({ outcome: 'asked', holders: 0, accepted: 0 });
    expect(first.status).toBe('unknown');
    expect((await reputation(c, nobody)).lookup?.outcome).toBe('skipped');
    // lookup=false: the node answers from its own store only.
    expect((await reputation(c, randomDigest(), '?lookup=false')).lookup).toBeUndefined();
    // A known digest is never looked up.
    expect((await reputation(c, digest)).lookup).toBeUndefined();
  });
});

describe('known peers survive a restart', () => {
  it('a node restarted without any bootstrap config redials the peers it knew, under the same peer id', { timeout: 60_000 }, async () => {
    const b = await node();
    const a = await node({ bootstrap: [b.network!.listenAddrs[0]!] });
    await until('A and B connected', async () => (await b.network!.peers()).length === 1);
    const id = a.network!.peerId;
    const home = a.home;
    await a.stop();
    await until('B saw A go', async () => (await b.network!.peers()).length === 0);

    const again = await testNet.node(netConfig({ bootstrap: [] }), { home });
    expect(again.network!.peerId).toBe(id);
    await until('A redialled B from its peer store', async () => (await b.network!.peers()).some((p) => p.peerId === id));
  });
});

describe('NAT traversal: circuit relay, switches, reachability', () => {
  it('a node behind a relay is reachable through it: a peer dials its relayed address and receives its attestations', { timeout: 60_000 }, async () => {
    // A bare libp2p relay (the same relay service a Chorus node runs with net.relayServer):
    // it does not gossip, so whatever reaches B from A went through the relayed connection.
    const relay = await createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: { identify: identify(), relay: chorusRelayServer() },
    });
    testNet.track(relay);
    const relayAddr = relay.getMultiaddrs()[0]!.toString();

    const a = await node({ relay: 'always', bootstrap: [relayAddr] });
    await until('A holds a relay reservation', () => a.network!.reachability().state === 'relayed', 30_000);
    const circuit = a.network!.listenAddrs.find((x) => x.includes('/p2p-circuit'))!;
    expect(circuit).toContain(relay.peerId.toString());

    const b = await node();
    const r = await fetch(`${b.url}/v1/peers`, {
      method: 'POST',
      headers: { authorization: `Bearer ${b.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ multiaddr: circuit }),
    });
    const connected = (await r.json()) as { peerId: string };
    expect(r.status, JSON.stringify(connected)).toBe(200);
    expect(connected.peerId).toBe(a.network!.peerId);
    const peersOfB = (await (await fetch(`${b.url}/v1/peers`)).json()) as { peers: { peerId: string; relayed: boolean; addresses: string[] }[] };
    const viaRelay = peersOfB.peers.find((p) => p.peerId === a.network!.peerId);
    expect(viaRelay?.relayed).toBe(true);

    await until('gossip over the relayed connection', () => b.network!.host.services.pubsub.getSubscribers('/chorus/attestations/1').length >= 1);
    const id = await publish(a, makeEnvelopeLine(makeIssuer(), { fields: exampleFields('audit', { verdict: 'pass' }) }));
    await until('B has A\'s attestation, through the relay', () => b.node.store.has(id));

    // The CLI's view of the same: status over the API says "relayed".
    const status = (await (await fetch(`${a.url}/v1/status`)).json()) as { network: { reachability: { state: string; relay: string } } };
    expect(status.network.reachability).toMatchObject({ state: 'relayed', relay: 'always' });
  });

  it('relay auto: no relay known, nothing happens; a relay among the peers and no public address: the node reserves a slot', { timeout: 60_000 }, async () => {
    const lone = await node({ relay: 'auto' });
    expect(await lone.network!.relayIfNeeded()).toBe(false);
    expect(lone.network!.reachability().state).toBe('private');

    const r = await node({ relayServer: true });
    const n = await node({ relay: 'auto', bootstrap: [r.network!.listenAddrs[0]!] });
    await until('the relay known by its protocols', async () => {
      const p = await n.network!.host.peerStore.get(r.network!.host.peerId).catch(() => undefined);
      return p?.protocols.includes('/libp2p/circuit/relay/0.2.0/hop') === true;
    });
    // The check the node runs every minute, run now.
    expect(await n.network!.relayIfNeeded()).toBe(true);
    await until('reserved on the relay', () => n.network!.reachability().state === 'relayed', 30_000);
    expect(n.network!.listenAddrs.some((a) => a.includes(`/p2p/${r.network!.peerId}/p2p-circuit`))).toBe(true);
  });

  it('with relay off, a relayed address cannot be dialled: a clear error, nothing else changes', { timeout: 30_000 }, async () => {
    const b = await node({ relay: 'off' });
    const fake = `/ip4/127.0.0.1/tcp/9/p2p/${b.network!.peerId.replace(/.$/, (ch) => (ch === 'A' ? 'B' : 'A'))}/p2p-circuit/p2p/${b.network!.peerId}`;
    const r = await fetch(`${b.url}/v1/peers`, {
      method: 'POST',
      headers: { authorization: `Bearer ${b.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ multiaddr: fake }),
    });
    expect([400, 503]).toContain(r.status);
    expect(((await r.json()) as { message: string }).message).toMatch(/cannot connect|not a multiaddr/);
    expect((await (await fetch(`${b.url}/healthz`)).json())).toEqual({ ok: true });
  });

  it('each NAT service is switchable in config, and a loopback node reports itself private', { timeout: 30_000 }, async () => {
    const on = await node({ relayServer: true });
    const off = await node({ autonat: false, relay: 'off', dcutr: false, relayServer: false });
    const protocols = (n: Node) => n.network!.host.getProtocols();
    expect(protocols(on).some((p) => p.includes('/libp2p/circuit/relay/0.2.0/hop'))).toBe(true);
    expect(protocols(on).some((p) => p.includes('dcutr'))).toBe(true);
    expect(protocols(on).some((p) => p.includes('autonat'))).toBe(true);
    expect(protocols(off).some((p) => /hop|dcutr|autonat/.test(p))).toBe(false);

    const s = (await (await fetch(`${on.url}/v1/status`)).json()) as { network: { reachability: Record<string, unknown> } };
    expect(s.network.reachability).toMatchObject({ state: 'private', upnp: false, autonat: true, relay: 'auto', relayServer: true, dcutr: true });
    const t = (await (await fetch(`${off.url}/v1/status`)).json()) as { network: { reachability: Record<string, unknown> } };
    expect(t.network.reachability).toMatchObject({ state: 'private', autonat: false, relay: 'off', relayServer: false, dcutr: false });
  });
});
