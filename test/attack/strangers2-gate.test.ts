import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import { afterAll, describe, expect, it } from 'vitest';
import { NetHarness } from '../support/net-harness.js';
import { type Daemon } from '../../node/daemon/daemon.js';
import { ConnectionGate, type GateBounds } from '../../node/net/connection-gate.js';

/*
 * Strangers, round two: attacks on the connection gate (connection-gate.ts, host.ts,
 * network.ts).
 */

const net = new NetHarness();

/** The bounds network.ts derives from the default config (net.inboundPerIpPerMinute 120, net.inboundPerMinute 600, net.maxInboundPerIp 32). */
const DEFAULTS: GateBounds = { perIpPerMinute: 120, perIpBurst: 8, totalPerMinute: 600, totalBurst: 30, perIpOpen: 32, suspectPerMinute: 60, suspectBurst: 3, gateLoopback: false };

const node = (overrides: Record<string, unknown> = {}): Promise<Daemon> => net.node(overrides);

const bareHost = (dht = false) => net.bareHost({ dht });

const peerId = async (): Promise<string> => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString();

afterAll(async () => {
  await net.stop();
});

describe('the connection gate', () => {
  it('a loopback devnet: 19 honest nodes dialling one node at once (default config) all get in', async () => {
    const boot = await node();
    const addr = multiaddr(boot.network!.listenAddrs[0]!);
    const peers = await Promise.all(Array.from({ length: 19 }, () => bareHost()));
    const results = await Promise.allSettled(peers.map((h) => h.dial(addr, { signal: AbortSignal.timeout(10_000) })));
    const refused = results.filter((r) => r.status === 'rejected').length;
    // Default perIpBurst is ceil(120/15) = 8: every process on 127.0.0.1 shares it, so 11 of
    // 19 honest nodes are refused before the handshake (admission.ts holds that loopback
    // "names no one"; the gate does not).
    expect(refused).toBe(0);
  });

  it('IPv6: one host rotating addresses in its /64 gets one address\'s burst, not the global rate; an honest IPv4 peer still gets in', () => {
    let t = 1_000_000;
    const why: string[] = [];
    const gate = new ConnectionGate(DEFAULTS, (w) => why.push(w), () => t);
    // 30 connections, each from a new address of one /64 (a subscriber's allocation): one bucket.
    const admitted = Array.from({ length: 30 }, (_, i) => !gate.deny(multiaddr(`/ip6/2001:db8:1:2::${(i + 1).toString(16)}/tcp/4001`))).filter(Boolean).length;
    expect(admitted).toBe(DEFAULTS.perIpBurst);
    expect(why.every((w) => w === 'ip-rate')).toBe(true);
    t += 50;
    expect(gate.deny(multiaddr('/ip4/198.51.100.7/tcp/4001'))).toBe(false);
  });

  it('relayed connections are charged to the relay\'s IP: 32 strangers behind one relay lock every other relayed peer out', async () => {
    const gate = new ConnectionGate(DEFAULTS, () => undefined, () => 0);
    const relay = await peerId();
    const via = (p: string) => multiaddr(`/ip4/203.0.113.9/tcp/4001/p2p/${relay}/p2p-circuit/p2p/${p}`);
    // The comment in deny() says a relayed connection has no IP ("the relay's own limits
    // apply"), but ipOf finds the relay's /ip4 in the circuit address.
    for (let i = 0; i < 32; i++) gate.opened(via(await peerId()));
    // An honest NATed peer reachable only through its relay (net.relay 'always').
    expect(gate.deny(via(await peerId()))).toBe(false);
  });
});
